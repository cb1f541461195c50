//! Kubernetes label selectors (kube's) and Kyverno's wildcard patterns, as pure matching
//! functions.
//!
//! Used to decide which failure-action override applies in a namespace. Matching never fails:
//! a selector that cannot be parsed is reported when it is read, not here.

/// A Kubernetes label selector: kube's own type, whose matching follows the API server's
/// (`matchLabels` and `matchExpressions` all hold; an empty selector matches everything).
pub use kube::core::{Expression, Selector as LabelSelector, SelectorExt};

/// Kyverno's wildcard match: `*` matches any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Gatekeeper's namespace glob (gatekeeper `pkg/wildcard/wildcard.go`): a `*` only at the
/// front and/or the end; `kube-*` is a prefix, `*-system` a suffix, `*system*` a substring,
/// anything else must be equal.
pub fn gatekeeper_glob(pattern: &str, text: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) if !rest.is_empty() => {
            text.contains(rest.strip_suffix('*').unwrap_or(rest))
        }
        (Some(_), Some(_)) => true,
        (Some(suffix), None) => text.ends_with(suffix),
        (None, Some(prefix)) => text.starts_with(prefix),
        (None, None) => pattern == text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> crate::inventory::model::Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("team-*", "team-payments"));
        assert!(wildcard_match("te?m", "team"));
        assert!(wildcard_match("*-prod", "shop-prod"));
        assert!(!wildcard_match("team-*", "payments"));
        assert!(!wildcard_match("default", "default2"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
    }

    #[test]
    fn gatekeeper_globs() {
        // gatekeeper pkg/wildcard/wildcard_test.go
        assert!(gatekeeper_glob("kube-*", "kube-system"));
        assert!(gatekeeper_glob("*-system", "gatekeeper-system"));
        assert!(gatekeeper_glob("*system*", "system-kube"));
        assert!(gatekeeper_glob("*", "anything"));
        assert!(!gatekeeper_glob("kube-*", "default"));
        assert!(!gatekeeper_glob("k?be", "kube"));
        assert!(gatekeeper_glob("default", "default"));
    }

    #[test]
    fn selectors() {
        let sel: LabelSelector = [
            Expression::Equal("env".into(), "prod".into()),
            Expression::NotIn("kyverno-audit".into(), ["true".to_string()].into()),
        ]
        .into_iter()
        .collect();
        assert!(sel.matches(&labels(&[("env", "prod")])));
        assert!(!sel.matches(&labels(&[("env", "prod"), ("kyverno-audit", "true")])));
        assert!(!sel.matches(&labels(&[])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }
}
