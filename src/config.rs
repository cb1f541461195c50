//! The validated configuration: time zone, schedule, milestones, teams, annotation keys and
//! per-policy rollout entries, read once from `forewarn.yaml`.
//!
//! Raw YAML becomes [`Config`] here and nowhere else; everything downstream sees parsed types
//! (a `Tz`, a cron `Schedule`, sorted milestones). Secrets never live in this file: tokens come
//! from the environment or secret files, and this module must never read or print them.

use crate::problem::Problem;
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Milestones used when the config does not name any: days before enforcement.
pub const DEFAULT_MILESTONES: [u32; 5] = [14, 7, 3, 1, 0];
pub const DEFAULT_PREFIX: &str = "forewarn.dev/";
pub const DEFAULT_SCHEDULE: &str = "0 0 9 * * Mon-Fri";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawConfig {
    time_zone: Option<String>,
    schedule: Option<String>,
    milestones: Option<Vec<u32>>,
    platform: RawPlatform,
    annotation_prefix: Option<String>,
    #[serde(default)]
    owner_labels: Vec<String>,
    templates: Option<PathBuf>,
    #[serde(default)]
    teams: BTreeMap<String, Team>,
    #[serde(default)]
    policies: BTreeMap<String, PolicyEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawPlatform {
    channel: String,
    contact: Option<String>,
}

/// A team that owns namespaces.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Team {
    /// Display name; the key is used when absent.
    pub name: Option<String>,
    /// Slack channel (`#name` or a channel ID).
    pub channel: Option<String>,
    /// Who to ask on the team (free text, e.g. `@maria` or an email).
    pub contact: Option<String>,
    /// Member emails, for direct messages and for recognising a Slack user's team.
    #[serde(default)]
    pub members: Vec<String>,
}

/// Rollout keys for a policy that cannot be annotated. Same meaning as the annotations.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PolicyEntry {
    pub enforce_on: Option<String>,
    pub contact: Option<String>,
    pub guidance: Option<String>,
    pub what_to_do: Option<String>,
}

/// The platform team: receives notices for unowned namespaces and problem reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub channel: String,
    pub contact: Option<String>,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from, for messages.
    pub source: String,
    pub time_zone: Tz,
    pub schedule: cron::Schedule,
    pub schedule_text: String,
    /// Days before enforcement, largest first, no duplicates.
    pub milestones: Vec<u32>,
    pub platform: Platform,
    /// Prefix of forewarn's own annotations, ending in `/`.
    pub prefix: String,
    /// Namespace labels naming the owning team, tried in order after the owner annotation.
    pub owner_labels: Vec<String>,
    /// A directory of user templates; `None` uses the built-in ones.
    pub templates: Option<PathBuf>,
    pub teams: BTreeMap<String, Team>,
    pub policies: BTreeMap<String, PolicyEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base).map_err(|e| match e {
            ParseFailure::Syntax(message) => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ParseFailure::Invalid(problems) => ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            },
        })
    }

    /// Parses config text; relative paths in it are resolved against `base`.
    pub fn parse(text: &str, source: &str, base: &Path) -> Result<Config, ParseFailure> {
        let raw: RawConfig =
            serde_saphyr::from_str(text).map_err(|e| ParseFailure::Syntax(e.to_string()))?;
        let mut problems = Vec::new();
        let bad = |field: &str, msg: String| Problem::error(source, field, msg);

        let tz_text = raw.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = Tz::from_str(tz_text).unwrap_or_else(|_| {
            problems.push(bad(
                "time-zone",
                format!("unknown time zone '{tz_text}' (use an IANA name such as Europe/Berlin)"),
            ));
            Tz::UTC
        });

        let schedule_text = raw
            .schedule
            .clone()
            .unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
        let fields = schedule_text.split_whitespace().count();
        let schedule = if fields != 6 {
            problems.push(bad(
                "schedule",
                format!("'{schedule_text}' has {fields} fields; forewarn expects 6: sec min hour day-of-month month day-of-week (e.g. \"{DEFAULT_SCHEDULE}\")"),
            ));
            None
        } else {
            match cron::Schedule::from_str(&schedule_text) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.push(bad(
                        "schedule",
                        format!("invalid cron expression '{schedule_text}': {e}"),
                    ));
                    None
                }
            }
        };

        let mut milestones = raw
            .milestones
            .unwrap_or_else(|| DEFAULT_MILESTONES.to_vec());
        if milestones.is_empty() {
            problems.push(bad(
                "milestones",
                "must name at least one day (0 = the day of enforcement)".into(),
            ));
        }
        if let Some(m) = milestones.iter().find(|&&m| m > 365) {
            problems.push(bad(
                "milestones",
                format!("{m} days is more than a year before enforcement"),
            ));
        }
        milestones.sort_unstable_by(|a, b| b.cmp(a));
        milestones.dedup();

        if raw.platform.channel.trim().is_empty() {
            problems.push(bad("platform.channel", "must not be empty".into()));
        }

        let mut prefix = raw
            .annotation_prefix
            .unwrap_or_else(|| DEFAULT_PREFIX.to_string());
        if prefix.is_empty() {
            problems.push(bad("annotation-prefix", "must not be empty".into()));
        } else if !prefix.ends_with('/') {
            prefix.push('/');
        }

        if raw.teams.contains_key(crate::owners::PLATFORM) {
            problems.push(bad(
                "teams.platform",
                "the key 'platform' is reserved: namespaces owned by 'platform' go to the `platform:` channel".into(),
            ));
        }
        for (key, team) in &raw.teams {
            let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&team.channel) && team.members.is_empty() {
                problems.push(bad(
                    &format!("teams.{key}"),
                    "needs a channel or at least one member email to send notices to".into(),
                ));
            }
            for (i, m) in team.members.iter().enumerate() {
                if !m.contains('@') {
                    problems.push(bad(
                        &format!("teams.{key}.members[{i}]"),
                        format!("'{m}' is not an email address"),
                    ));
                }
            }
        }

        let templates = raw
            .templates
            .map(|t| if t.is_absolute() { t } else { base.join(t) });

        match schedule {
            Some(schedule) if problems.is_empty() => Ok(Config {
                source: source.to_string(),
                time_zone,
                schedule,
                schedule_text,
                milestones,
                platform: Platform {
                    channel: raw.platform.channel,
                    contact: raw.platform.contact,
                },
                prefix,
                owner_labels: raw.owner_labels,
                templates,
                teams: raw.teams,
                policies: raw.policies,
            }),
            _ => Err(ParseFailure::Invalid(problems)),
        }
    }

    /// The full key of one of forewarn's annotations (`forewarn.dev/enforce-on`).
    pub fn annotation(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// A team's display name.
    pub fn team_name<'a>(&'a self, key: &'a str) -> &'a str {
        self.teams
            .get(key)
            .and_then(|t| t.name.as_deref())
            .unwrap_or(key)
    }
}

/// Why config text could not become a [`Config`].
#[derive(Debug)]
pub enum ParseFailure {
    /// Not valid YAML, or unknown / mistyped keys.
    Syntax(String),
    /// Well-formed but wrong values; every one is listed.
    Invalid(Vec<Problem>),
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "platform:\n  channel: \"#platform\"\n";

    #[test]
    fn defaults() {
        let c = Config::parse(MINIMAL, "t", Path::new(".")).expect("valid");
        assert_eq!(c.milestones, vec![14, 7, 3, 1, 0]);
        assert_eq!(c.prefix, "forewarn.dev/");
        assert_eq!(c.time_zone, Tz::UTC);
    }

    #[test]
    fn every_bad_value_is_listed() {
        let text = "time-zone: Mars/Olympus\nschedule: \"0 9 * * 1-5\"\nplatform:\n  channel: \"#p\"\nteams:\n  a: {}\n";
        let Err(ParseFailure::Invalid(problems)) = Config::parse(text, "cfg.yaml", Path::new("."))
        else {
            panic!("expected problems");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["time-zone", "schedule", "teams.a"]);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = "platform:\n  channel: \"#p\"\nmilestone: [1]\n";
        assert!(matches!(
            Config::parse(text, "cfg.yaml", Path::new(".")),
            Err(ParseFailure::Syntax(m)) if m.contains("milestone")
        ));
    }
}
