//! A policy's rollout plan: when it will be enforced, what to do, who to contact, and where
//! each of those came from (a policy annotation or the config file).
//!
//! Pure: reads a policy and the config, returns values and problems. A bad date is a problem
//! naming the policy and the annotation or config key; it never panics or hides other policies.

use crate::config::Config;
use crate::inventory::Policy;
use crate::model::problem::Problem;
use crate::model::time::{EnforceOn, parse_enforce_on};
use serde::Serialize;

/// Where a rollout value was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Annotation,
    Config,
}

/// A value and where it came from; `overridden` is set when the config had a different value
/// that the annotation replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced {
    pub value: String,
    pub source: Source,
    pub overridden: Option<String>,
}

/// Everything forewarn knows about one policy's move to Enforce.
#[derive(Debug, Clone, Default)]
pub struct Rollout {
    pub enforce_on: Option<EnforceOn>,
    /// The raw texts with their sources, keyed by annotation key (`enforce-on`, …).
    pub fields: Vec<(&'static str, Sourced)>,
}

impl Rollout {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s.value.as_str())
    }
    pub fn contact(&self) -> Option<&str> {
        self.get("contact")
    }
    pub fn guidance(&self) -> Option<&str> {
        self.get("guidance")
    }
    pub fn what_to_do(&self) -> Option<&str> {
        self.get("what-to-do")
    }
}

/// The rollout keys, as annotation suffixes.
pub const KEYS: [&str; 4] = ["enforce-on", "contact", "guidance", "what-to-do"];

/// Reads a policy's rollout from its annotations and the config (annotation wins).
pub fn rollout_for(policy: &Policy, config: &Config) -> (Rollout, Vec<Problem>) {
    // A config entry may name the policy by its label (`Kind:name` when the name is shared)
    // or by the name reports give it.
    let entry = config
        .policies
        .get(&policy.label)
        .or_else(|| config.policies.get(&policy.reference.report_name()));
    let mut rollout = Rollout::default();
    let mut problems = Vec::new();
    let object = format!("policy {}", policy.label);
    for key in KEYS {
        let annotation = policy
            .annotations
            .get(&config.annotation(key))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let configured = entry
            .and_then(|e| match key {
                "enforce-on" => e.enforce_on.clone(),
                "contact" => e.contact.clone(),
                "guidance" => e.guidance.clone(),
                _ => e.what_to_do.clone(),
            })
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let sourced = match (annotation, configured) {
            (Some(a), c) => Sourced {
                overridden: c.filter(|c| *c != a),
                value: a,
                source: Source::Annotation,
            },
            (None, Some(c)) => Sourced {
                value: c,
                source: Source::Config,
                overridden: None,
            },
            (None, None) => continue,
        };
        let field = match sourced.source {
            Source::Annotation => format!("metadata.annotations.{}", config.annotation(key)),
            Source::Config => format!("{}: policies.{}.{key}", config.source, policy.label),
        };
        if key == "enforce-on" {
            match parse_enforce_on(&sourced.value, config.time_zone) {
                Ok(e) => rollout.enforce_on = Some(e),
                Err(msg) => {
                    problems.push(Problem::error(&object, &field, msg));
                    continue;
                }
            }
        }
        if key == "guidance"
            && let Err(why) = check_guidance(&sourced.value)
        {
            // Shown as a Slack link `<url|text>`: anything else would break the message.
            problems.push(Problem::error(
                &object,
                &field,
                format!("'{}' {why}; it is left out of messages", sourced.value),
            ));
            continue;
        }
        rollout.fields.push((key, sourced));
    }
    (rollout, problems)
}

/// Whether `text` can be a guide link: an absolute `http`/`https` URL with a host, and none of
/// the characters that would end or split a Slack link (`<url|text>`): whitespace, `|`, `<`, `>`.
pub fn check_guidance(text: &str) -> Result<(), String> {
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '|' | '<' | '>'))
    {
        let shown = if c.is_whitespace() {
            "a space".to_string()
        } else {
            format!("'{c}'")
        };
        return Err(format!("is not a URL: it contains {shown}"));
    }
    match url::Url::parse(text) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Err(format!("is not an http(s) URL (scheme '{}')", u.scheme()))
        }
        Ok(_) => Err("is not an http(s) URL: it has no host".to_string()),
        Err(e) => Err(format!("is not an http(s) URL ({e})")),
    }
}
