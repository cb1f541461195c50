//! Failing resources as a heads-up lists them: identical messages grouped ("3 resources: …"),
//! and Kyverno's machine tail ("rule x failed at path /spec/…") taken off, keeping only the
//! policy author's words — the full message stays in `/policy why`.
//!
//! Pure text shaping; never decides who is told.

use crate::inventory::FailingResource;
use serde::Serialize;

/// Resources that fail with the same (shortened) message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    /// `Kind/name` of each resource, in report order.
    pub resources: Vec<String>,
    pub count: u64,
    /// The policy author's words, without Kyverno's tail; none when the message was only
    /// the tail (a rule without `validate.message`).
    pub message: Option<String>,
    /// The first path Kyverno named, when the message said where it failed.
    pub path: Option<String>,
}

/// Splits a Kyverno validation message into the author's words and the first path it names.
///
/// Kyverno writes (kyverno `pkg/engine/handlers/validation/validate_resource.go`,
/// `buildErrorMessage` and `buildAnyPatternErrorMessage`):
/// `validation error: <message>. rule <rule> failed at path <path>`, without a message
/// `validation error: rule <rule> failed at path <path>`, and for `anyPattern` one
/// `rule <rule>[<i>] failed at path <path>` per pattern, space-separated. Any other text is
/// kept whole.
pub fn shorten(message: &str) -> (Option<String>, Option<String>) {
    let body = message.trim();
    let Some(rest) = body.strip_prefix("validation error:") else {
        return (Some(body.to_string()).filter(|m| !m.is_empty()), None);
    };
    let rest = rest.trim_start();
    // The tail starts at the first " rule <name> failed at path " (or at the very start).
    let mut cut = None;
    let mut from = 0;
    while let Some(i) = rest[from..].find("rule ").map(|i| i + from) {
        let at_start = i == 0 || rest[..i].ends_with(' ');
        let after = &rest[i + 5..];
        let name_end = after.find(' ').unwrap_or(after.len());
        if at_start && after[name_end..].starts_with(" failed at path ") {
            cut = Some((i, i + 5 + name_end + " failed at path ".len()));
            break;
        }
        from = i + 5;
    }
    let Some((start, path_at)) = cut else {
        return (Some(rest.to_string()).filter(|m| !m.is_empty()), None);
    };
    let words = rest[..start].trim();
    let path = rest[path_at..]
        .split_whitespace()
        .next()
        .map(str::to_string)
        .filter(|p| !p.is_empty());
    ((!words.is_empty()).then(|| words.to_string()), path)
}

/// `sample` grouped by shortened message, first appearance first.
pub fn group(sample: &[FailingResource]) -> Vec<FailureGroup> {
    let mut out: Vec<FailureGroup> = Vec::new();
    for r in sample {
        let (message, path) = match r.message.as_deref() {
            Some(m) => shorten(m),
            None => (None, None),
        };
        let resource = format!("{}/{}", r.kind, r.name);
        match out
            .iter_mut()
            .find(|g| g.message == message && g.path == path)
        {
            Some(g) => {
                g.resources.push(resource);
                g.count += 1;
            }
            None => out.push(FailureGroup {
                resources: vec![resource],
                count: 1,
                message,
                path,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kyverno_tails_are_taken_off() {
        assert_eq!(
            shorten(
                "validation error: Running as root is not allowed. rule autogen-run-as-non-root failed at path /spec/template/spec/securityContext/runAsNonRoot/"
            ),
            (
                Some("Running as root is not allowed.".into()),
                Some("/spec/template/spec/securityContext/runAsNonRoot/".into())
            )
        );
        assert_eq!(
            shorten(
                "validation error: rule require-multiple-replicas failed at path /spec/replicas/"
            ),
            (None, Some("/spec/replicas/".into()))
        );
        assert_eq!(
            shorten(
                "validation error: Root is not allowed. rule check[0] failed at path /spec/a/ rule check[1] failed at path /spec/b/"
            ),
            (Some("Root is not allowed.".into()), Some("/spec/a/".into()))
        );
        assert_eq!(
            shorten("An image tag is required."),
            (Some("An image tag is required.".into()), None)
        );
        // A message that mentions a rule in its own words keeps them.
        assert_eq!(
            shorten("validation error: the rule of thumb applies."),
            (Some("the rule of thumb applies.".into()), None)
        );
    }

    #[test]
    fn identical_messages_are_grouped() {
        let r = |name: &str, m: &str| FailingResource {
            kind: "Deployment".into(),
            name: name.into(),
            rule: None,
            message: Some(m.into()),
        };
        let tail =
            |rule: &str| format!("validation error: No root. rule {rule} failed at path /x/");
        let groups = group(&[
            r("a", &tail("autogen-r")),
            r("b", "Other."),
            r("c", &tail("autogen-r")),
            r("d", &tail("r")),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].resources,
            vec!["Deployment/a", "Deployment/c", "Deployment/d"]
        );
        assert_eq!(groups[0].count, 3);
        assert_eq!(groups[1].message.as_deref(), Some("Other."));
    }
}
