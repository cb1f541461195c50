//! The validated configuration: time zone, schedule, milestones, teams, annotation keys and
//! per-policy rollout entries, read once from `forewarn.yaml`.
//!
//! Raw YAML becomes [`Config`] here and nowhere else; everything downstream sees parsed types
//! (a `Tz`, a cron `Schedule`, sorted milestones). Secrets never live in the config file:
//! [`secret`] reads them from the environment or mounted files, the one place that does.

pub mod secret;

use crate::model::ids::{ClusterName, TeamKey};
use crate::model::problem::Problem;
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
    cluster_name: Option<String>,
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
    #[serde(default)]
    exceptions: RawExceptions,
    #[serde(default)]
    digest: RawDigest,
    #[serde(default)]
    readiness: RawReadiness,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    announce: RawAnnounce,
    #[serde(default)]
    review: RawReview,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawReview {
    owner: Option<String>,
    due_days_before: Option<u32>,
    history_days: Option<u32>,
    trend_days: Option<u32>,
    base_url: Option<String>,
}

/// The audit review (`review:` in the config): who owns it and by when, how much progress
/// history is kept and read, and where `serve` publishes the review page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSettings {
    /// Who runs the audit review (free text: a person, a channel).
    pub owner: Option<String>,
    /// The review is due this many days before each enforcement date (default 7).
    pub due_days_before: u32,
    /// Days of daily counts kept (default 180).
    pub history_days: u32,
    /// Days of recent counts the burn-down rate is fitted on (default 14).
    pub trend_days: u32,
    /// The public base URL of `forewarn serve` (`https://forewarn.example.com`): messages link
    /// to its `/review` page. None: no link.
    pub base_url: Option<String>,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            owner: None,
            due_days_before: 7,
            history_days: 180,
            trend_days: 14,
            base_url: None,
        }
    }
}

impl ReviewSettings {
    /// The review page's address, when a base URL is configured.
    pub fn page_url(&self) -> Option<String> {
        self.base_url
            .as_deref()
            .map(|b| format!("{}/review", b.trim_end_matches('/')))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawDelivery {
    request_timeout: Option<String>,
    tick_deadline: Option<String>,
    lock_wait: Option<String>,
    channel_pace: Option<String>,
    retry_backoff: Option<String>,
    batch: Option<bool>,
}

/// Time limits of delivery (`delivery:` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// One HTTP request to Slack (`delivery.request-timeout`, default 10s).
    pub request_timeout: std::time::Duration,
    /// One whole tick: past it, what is left waits for the next tick
    /// (`delivery.tick-deadline`, default 60s).
    pub tick_deadline: std::time::Duration,
    /// How long `run` waits for another process holding the file ledger
    /// (`delivery.lock-wait`, default 30s).
    pub lock_wait: std::time::Duration,
    /// The least time between two messages to one channel (`delivery.channel-pace`, default
    /// 1s: Slack's guidance).
    pub channel_pace: std::time::Duration,
    /// The first wait before retrying a Slack request that can safely be repeated; each further
    /// retry waits twice as long (`delivery.retry-backoff`, default 1s).
    pub retry_backoff: std::time::Duration,
    /// One post per destination per tick: the heads-ups due for one channel (or person) at
    /// one tick go out as one message, and so do the reminders (`delivery.batch`, default
    /// true).
    pub batch: bool,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            request_timeout: std::time::Duration::from_secs(10),
            tick_deadline: std::time::Duration::from_secs(60),
            lock_wait: std::time::Duration::from_secs(30),
            channel_pace: std::time::Duration::from_secs(1),
            retry_backoff: std::time::Duration::from_secs(1),
            batch: true,
        }
    }
}

/// Parses `500ms`, `10s`, `2m` (a number and a unit).
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, unit) = t.split_at(split);
    let n: f64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawAnnounce {
    on_the_day: Option<bool>,
    all_clear: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawExceptions {
    owner_annotations: Option<Vec<String>>,
    reason_annotations: Option<Vec<String>>,
    review_annotations: Option<Vec<String>>,
    reminders: Option<Vec<u32>>,
    overdue_every_days: Option<u32>,
    max_review_days: Option<u32>,
    request_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawDigest {
    schedule: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawReadiness {
    days_before: Option<u32>,
}

/// How exceptions are read and followed up.
#[derive(Debug, Clone)]
pub struct ExceptionSettings {
    /// Annotation keys for owner, reason and review date, tried in order.
    pub keys: ExceptionKeys,
    /// Days before an exception's review date or expiry on which its owner is reminded.
    pub reminders: Vec<u32>,
    /// Once overdue, the owner is reminded again every this many days.
    pub overdue_every_days: u32,
    /// A review date further out than this is a hygiene finding.
    pub max_review_days: u32,
    /// Where a team requests an exception (`exceptions.request-url`): a form, a ticket queue,
    /// a repository's "new issue" page. Heads-ups link to it.
    pub request_url: Option<String>,
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
    /// Mention the members (looked up by email) in the team's heads-ups.
    #[serde(default)]
    pub mention_members: bool,
    /// Heads-ups only about policies of at least this severity (`low`, `medium`, `high`,
    /// `critical`); policies without a severity are always announced.
    pub min_severity: Option<String>,
    /// Policies this team hears no heads-ups about (names as reports write them, or
    /// `Kind:name`); they still appear in its digest.
    #[serde(default)]
    pub mute: Vec<String>,
}

/// The severities `teams.<key>.min-severity` accepts, lowest first (as
/// `policies.kyverno.io/severity` is read).
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

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
    /// The name of the one cluster read (`cluster-name`): messages then name it. With several
    /// clusters each is named by its `--snapshot NAME=DIR` / `--context NAME`.
    pub cluster_name: Option<ClusterName>,
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
    pub teams: BTreeMap<TeamKey, Team>,
    pub policies: BTreeMap<String, PolicyEntry>,
    pub exceptions: ExceptionSettings,
    /// When the audit digest goes out.
    pub digest_schedule: cron::Schedule,
    pub digest_schedule_text: String,
    /// Days before enforcement on which the platform hears whether a policy is ready.
    pub readiness_days: u32,
    pub delivery: DeliverySettings,
    /// On the enforcement date, a policy still in Audit is announced as "scheduled for today,
    /// not switched yet" (`announce.on-the-day`, default true); false sends nothing that day
    /// until the flip is seen.
    pub on_the_day: bool,
    /// A team that was warned and fixed everything before the date hears "all clear" once
    /// (`announce.all-clear`, default true).
    pub all_clear: bool,
    pub review: ReviewSettings,
}

/// The digest's default schedule: Monday 09:00.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 0 9 * * Mon";

fn parse_schedule(
    text: &str,
    field: &str,
    source: &str,
    problems: &mut Vec<Problem>,
) -> Option<cron::Schedule> {
    let fields = text.split_whitespace().count();
    if fields != 6 {
        problems.push(Problem::error(
            source,
            field,
            format!("'{text}' has {fields} fields; forewarn expects 6: sec min hour day-of-month month day-of-week (e.g. \"{DEFAULT_SCHEDULE}\")"),
        ));
        return None;
    }
    match cron::Schedule::from_str(text) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(Problem::error(
                source,
                field,
                format!("invalid cron expression '{text}': {e}"),
            ));
            None
        }
    }
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
    /// `templates:` names a directory that does not exist (or is not a directory).
    #[error("config {path}: templates: {dir} is not a directory ({message})")]
    Templates {
        path: PathBuf,
        dir: PathBuf,
        message: String,
    },
    #[error("config {path} has {}:\n{}", crate::model::words::plural(problems.len() as u64, "problem"), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
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
        let config =
            Self::parse(&text, &path.display().to_string(), base).map_err(|e| match e {
                ParseFailure::Syntax(message) => ConfigError::Parse {
                    path: path.to_path_buf(),
                    message,
                },
                ParseFailure::Invalid(problems) => ConfigError::Invalid {
                    path: path.to_path_buf(),
                    problems,
                },
            })?;
        // A templates directory that is not there would silently fall back to the built-in
        // templates: an error, not a guess.
        if let Some(dir) = &config.templates {
            let message = match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => None,
                Ok(_) => Some("a file".to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(message) = message {
                return Err(ConfigError::Templates {
                    path: path.to_path_buf(),
                    dir: dir.clone(),
                    message,
                });
            }
        }
        Ok(config)
    }

    /// Parses config text; relative paths in it are resolved against `base`.
    pub fn parse(text: &str, source: &str, base: &Path) -> Result<Config, ParseFailure> {
        let raw: RawConfig =
            serde_saphyr::from_str(text).map_err(|e| ParseFailure::Syntax(e.to_string()))?;
        let mut problems = Vec::new();
        let bad = |field: &str, msg: String| Problem::error(source, field, msg);

        let cluster_name = raw.cluster_name.as_deref().and_then(|text| {
            ClusterName::parse(text)
                .map_err(|e| problems.push(bad("cluster-name", e)))
                .ok()
        });
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
        let schedule = parse_schedule(&schedule_text, "schedule", source, &mut problems);
        let digest_schedule_text = raw
            .digest
            .schedule
            .clone()
            .unwrap_or_else(|| DEFAULT_DIGEST_SCHEDULE.to_string());
        let digest_schedule = parse_schedule(
            &digest_schedule_text,
            "digest.schedule",
            source,
            &mut problems,
        );

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

        let mut teams = BTreeMap::new();
        for (key, team) in &raw.teams {
            match TeamKey::parse(key) {
                Ok(k) => {
                    teams.insert(k, team.clone());
                }
                Err(why) => problems.push(bad(&format!("teams.{key}"), why)),
            }
            let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&team.channel) && team.members.is_empty() {
                problems.push(bad(
                    &format!("teams.{key}"),
                    "needs a channel or at least one member email to send notices to".into(),
                ));
            }
            if let Some(sev) = &team.min_severity
                && !SEVERITIES.contains(&sev.trim().to_ascii_lowercase().as_str())
            {
                problems.push(bad(
                    &format!("teams.{key}.min-severity"),
                    format!("'{sev}' is not a severity: use low, medium, high or critical"),
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

        let mut delivery = DeliverySettings::default();
        for (field, text, slot) in [
            (
                "delivery.request-timeout",
                &raw.delivery.request_timeout,
                &mut delivery.request_timeout,
            ),
            (
                "delivery.tick-deadline",
                &raw.delivery.tick_deadline,
                &mut delivery.tick_deadline,
            ),
            (
                "delivery.lock-wait",
                &raw.delivery.lock_wait,
                &mut delivery.lock_wait,
            ),
            (
                "delivery.channel-pace",
                &raw.delivery.channel_pace,
                &mut delivery.channel_pace,
            ),
            (
                "delivery.retry-backoff",
                &raw.delivery.retry_backoff,
                &mut delivery.retry_backoff,
            ),
        ] {
            if let Some(text) = text {
                match parse_duration(text) {
                    Some(d) => *slot = d,
                    None => problems.push(bad(
                        field,
                        format!("'{text}' is not a duration: write e.g. 500ms, 10s or 2m"),
                    )),
                }
            }
        }

        let defaults = ExceptionKeys::defaults(&prefix);
        let x = raw.exceptions;
        let mut reminders = x.reminders.unwrap_or_else(|| vec![14, 7, 1]);
        reminders.sort_unstable_by(|a, b| b.cmp(a));
        reminders.dedup();
        let overdue_every_days = x.overdue_every_days.unwrap_or(7);
        if overdue_every_days == 0 {
            problems.push(bad(
                "exceptions.overdue-every-days",
                "must be at least 1".into(),
            ));
        }
        let exceptions = ExceptionSettings {
            keys: ExceptionKeys {
                owner: x.owner_annotations.unwrap_or(defaults.owner),
                reason: x.reason_annotations.unwrap_or(defaults.reason),
                review_by: x.review_annotations.unwrap_or(defaults.review_by),
            },
            reminders,
            overdue_every_days,
            max_review_days: x.max_review_days.unwrap_or(90),
            request_url: x.request_url.filter(|u| !u.trim().is_empty()),
        };
        if let Some(url) = &exceptions.request_url
            && !is_link(url)
        {
            problems.push(bad(
                "exceptions.request-url",
                format!("'{url}' is not an http(s) link (an absolute URL with a host, without spaces, '|', '<' or '>')"),
            ));
        }
        delivery.batch = raw.delivery.batch.unwrap_or(true);

        let review = review_settings(raw.review, &mut |field, msg| {
            problems.push(bad(field, msg));
        });

        match (schedule, digest_schedule) {
            (Some(schedule), Some(digest_schedule)) if problems.is_empty() => Ok(Config {
                source: source.to_string(),
                cluster_name,
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
                teams,
                policies: raw.policies,
                exceptions,
                digest_schedule,
                digest_schedule_text,
                readiness_days: raw.readiness.days_before.unwrap_or(3),
                delivery,
                on_the_day: raw.announce.on_the_day.unwrap_or(true),
                all_clear: raw.announce.all_clear.unwrap_or(true),
                review,
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

/// Validates `review:`; every bad value is reported through `bad(field, message)`.
fn review_settings(raw: RawReview, bad: &mut dyn FnMut(&str, String)) -> ReviewSettings {
    let d = ReviewSettings::default();
    let due_days_before = raw.due_days_before.unwrap_or(d.due_days_before);
    if due_days_before > 365 {
        bad(
            "review.due-days-before",
            format!("{due_days_before} days is more than a year before enforcement"),
        );
    }
    let history_days = raw.history_days.unwrap_or(d.history_days);
    if !(1..=3660).contains(&history_days) {
        bad(
            "review.history-days",
            format!("{history_days}: keep between 1 and 3660 days of history"),
        );
    }
    let trend_days = raw.trend_days.unwrap_or(d.trend_days);
    if trend_days < 2 {
        bad(
            "review.trend-days",
            format!("{trend_days}: a trend needs at least 2 days"),
        );
    } else if trend_days > history_days {
        bad(
            "review.trend-days",
            format!(
                "{trend_days} days is more than the {history_days} days of history kept (review.history-days)"
            ),
        );
    }
    if let Some(b) = &raw.base_url {
        // It becomes a Slack link (`<url|text>`): no space, `|`, `<` or `>`.
        let parsed = url::Url::parse(b);
        let ok = !b.contains(|c: char| c.is_whitespace() || matches!(c, '|' | '<' | '>'))
            && parsed.as_ref().is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some_and(|h| !h.is_empty())
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
        if !ok {
            bad(
                "review.base-url",
                format!(
                    "'{b}' is not an absolute http(s) URL without spaces, query or fragment (e.g. https://forewarn.example.com)"
                ),
            );
        }
    }
    let owner = raw.owner.filter(|o| !o.trim().is_empty());
    ReviewSettings {
        owner,
        due_days_before,
        history_days,
        trend_days,
        base_url: raw.base_url,
    }
}

/// Whether `url` can be a Slack link target: an absolute http(s) URL with a host and none of
/// the characters that would break `<url|text>`.
fn is_link(url: &str) -> bool {
    let ok_chars = !url.contains(|c: char| c.is_whitespace() || matches!(c, '|' | '<' | '>'));
    ok_chars
        && url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
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
    fn team_keys_are_one_word_and_not_platform() {
        let text = "platform:\n  channel: \"#p\"\nteams:\n  web/eu: {channel: \"#w\"}\n  platform: {channel: \"#x\"}\n  data: {channel: \"#d\"}\n";
        let Err(ParseFailure::Invalid(problems)) = Config::parse(text, "cfg.yaml", Path::new("."))
        else {
            panic!("expected problems");
        };
        let said: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        assert_eq!(
            said,
            [
                "teams.platform: the key 'platform' is reserved: namespaces owned by 'platform' go to the `platform:` channel",
                "teams.web/eu: 'web/eu' is not a team key: '/' is not allowed (letters, digits, '-', '_', '.')",
            ]
        );
    }

    #[test]
    fn review_settings_are_validated_each_with_its_field() {
        let c = Config::parse(MINIMAL, "t", Path::new(".")).expect("valid");
        assert_eq!(c.review, ReviewSettings::default());
        assert_eq!(c.review.page_url(), None);
        let text = format!(
            "{MINIMAL}review:\n  owner: '@maria'\n  base-url: https://forewarn.example.com/\n"
        );
        let c = Config::parse(&text, "t", Path::new(".")).expect("valid");
        assert_eq!(
            c.review.page_url().as_deref(),
            Some("https://forewarn.example.com/review")
        );
        let text = format!(
            "{MINIMAL}review:\n  due-days-before: 400\n  history-days: 10\n  trend-days: 30\n  base-url: 'ftp://x y'\n"
        );
        let Err(ParseFailure::Invalid(problems)) = Config::parse(&text, "cfg.yaml", Path::new("."))
        else {
            panic!("expected problems");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "review.due-days-before",
                "review.trend-days",
                "review.base-url"
            ]
        );
    }

    #[test]
    fn team_preferences_and_the_exception_link_are_checked() {
        let text = "platform:\n  channel: \"#p\"\nexceptions:\n  request-url: 'ftp://x/y'\nteams:\n  a: {channel: '#a', min-severity: urgent, mute: [p], mention-members: true}\n";
        let Err(ParseFailure::Invalid(problems)) = Config::parse(text, "cfg.yaml", Path::new("."))
        else {
            panic!("expected problems");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["teams.a.min-severity", "exceptions.request-url"]
        );
        let ok = "platform:\n  channel: \"#p\"\nexceptions:\n  request-url: https://x.example/new\nteams:\n  a: {channel: '#a', min-severity: High}\n";
        let c = Config::parse(ok, "cfg.yaml", Path::new(".")).expect("valid");
        assert_eq!(
            c.exceptions.request_url.as_deref(),
            Some("https://x.example/new")
        );
        assert!(c.delivery.batch);
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

/// Annotation keys for an exception's owner, reason and review date, each tried in order; the
/// first present, non-empty one wins. Lists, because clusters already use their own keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ExceptionKeys {
    pub owner: Vec<String>,
    pub reason: Vec<String>,
    pub review_by: Vec<String>,
}

impl ExceptionKeys {
    /// forewarn's own keys under `prefix` (e.g. `forewarn.dev/`): `owner`, `reason`,
    /// `review-by`.
    pub fn defaults(prefix: &str) -> Self {
        Self {
            owner: vec![format!("{prefix}owner")],
            reason: vec![format!("{prefix}reason")],
            review_by: vec![format!("{prefix}review-by")],
        }
    }
}
