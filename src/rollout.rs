//! A policy's rollout plan: when it will be enforced, what to do, who to contact, and where
//! each of those came from (a policy annotation or the config file).
//!
//! Pure: reads a policy and the config, returns values and problems. A bad date is a problem
//! naming the policy and the annotation or config key; it never panics or hides other policies.

use crate::config::Config;
use crate::inventory::Policy;
use crate::problem::Problem;
use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;

/// When a policy is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnforceOn {
    /// The moment enforcement starts (midnight in the configured zone for a plain date).
    pub instant: DateTime<Tz>,
    /// The calendar day of enforcement in the configured zone.
    pub date: NaiveDate,
    /// Written as `YYYY-MM-DD` (no time of day).
    pub date_only: bool,
}

impl EnforceOn {
    /// As written back to users: the date, or the full RFC 3339 time.
    pub fn display(&self) -> String {
        if self.date_only {
            self.date.format("%Y-%m-%d").to_string()
        } else {
            self.instant.to_rfc3339()
        }
    }
}

/// Midnight at the start of `date` in `tz` (the first valid instant of the day when midnight is
/// skipped by a daylight-saving change).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> Option<DateTime<Tz>> {
    (0..24).find_map(|h| {
        tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
            .earliest()
    })
}

/// Parses `YYYY-MM-DD` (midnight in `tz`) or an RFC 3339 time.
pub fn parse_enforce_on(text: &str, tz: Tz) -> Result<EnforceOn, String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let instant =
            start_of_day(date, tz).ok_or_else(|| format!("'{text}' has no midnight in {tz}"))?;
        return Ok(EnforceOn {
            instant,
            date,
            date_only: true,
        });
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => {
            let instant = t.with_timezone(&tz);
            Ok(EnforceOn {
                instant,
                date: instant.date_naive(),
                date_only: false,
            })
        }
        Err(_) => Err(format!(
            "'{text}' is not a date: expected YYYY-MM-DD (midnight in {tz}) or RFC 3339 such as 2026-12-14T09:00:00+01:00"
        )),
    }
}

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
    let entry = config.policies.get(&policy.id);
    let mut rollout = Rollout::default();
    let mut problems = Vec::new();
    let object = format!("policy {}", policy.id);
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
            Source::Config => format!("{}: policies.{}.{key}", config.source, policy.id),
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
            && !(sourced.value.starts_with("https://") || sourced.value.starts_with("http://"))
        {
            problems.push(Problem::warning(
                &object,
                &field,
                format!(
                    "'{}' is not an http(s) URL; it is shown as text",
                    sourced.value
                ),
            ));
        }
        rollout.fields.push((key, sourced));
    }
    (rollout, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_in_the_zone() {
        let tz: Tz = "Europe/Berlin".parse().expect("zone");
        let e = parse_enforce_on("2026-12-14", tz).expect("date");
        assert_eq!(e.instant.to_rfc3339(), "2026-12-14T00:00:00+01:00");
        assert!(e.date_only);
        let e = parse_enforce_on("2026-12-14T08:00:00Z", tz).expect("rfc3339");
        assert_eq!(e.instant.to_rfc3339(), "2026-12-14T09:00:00+01:00");
        assert!(parse_enforce_on("14/12/2026", tz).is_err());
        assert!(parse_enforce_on("2026-02-30", tz).is_err());
    }
}
