//! Triage answers: what a team said about a heads-up through its buttons — *Got it*, *We'll
//! fix by …* or *We need an exception* — kept per (cluster, policy, team).
//!
//! Owns the typed identity a button carries ([`TriageKey`]), its text form inside Slack (the
//! actions block's `block_id`, [`TriageKey::block_id`]) and the one parser of that text
//! ([`TriageKey::parse_block_id`]), plus the answers as data ([`Answers`]). Pure: no I/O and
//! no clock. Parsing checks only the syntax: whether the cluster, policy and team exist is for
//! the edge that receives the click to check against the config and the inventory — a
//! `block_id` comes from Slack's payload and is never trusted.

use super::ids::{ClusterName, PolicyKind, PolicyRef, TeamKey};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The prefix of the `block_id` of an actions block carrying a [`TriageKey`].
const ACTIONS_PREFIX: &str = "fw1|";
/// The prefix of the `block_id` of the context line that shows the answer.
const ANSWERED_PREFIX: &str = "fw1a|";
/// Block Kit: a `block_id` has at most 255 characters.
pub const MAX_BLOCK_ID: usize = 255;

/// The `action_id` of the *Got it* button.
pub const ACTION_GOT_IT: &str = "forewarn_got_it";
/// The `action_id` of the *We'll fix by…* date picker.
pub const ACTION_FIX_BY: &str = "forewarn_fix_by";
/// The `action_id` of the *We need an exception* button.
pub const ACTION_EXCEPTION: &str = "forewarn_need_exception";

/// Whose answer: one team, about one policy, in one cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TriageKey {
    pub cluster: ClusterName,
    #[serde(with = "policy_ref")]
    pub policy: PolicyRef,
    /// A team of the config.
    pub team: TeamKey,
}

impl TriageKey {
    /// The `block_id` of the actions block: `fw1|<cluster>|<Kind>|<namespace>|<name>|<team>`
    /// (the namespace empty for a cluster-wide policy; the kind `Kind:<parent>` for a
    /// Gatekeeper constraint or a ValidatingAdmissionPolicyBinding, see [`PolicyRef::parent`]). `None` when it would be longer than
    /// Block Kit allows (the message then has no buttons for this key).
    pub fn block_id(&self) -> Option<String> {
        let id = format!("{ACTIONS_PREFIX}{}", self.body());
        (id.chars().count() <= MAX_BLOCK_ID - (ANSWERED_PREFIX.len() - ACTIONS_PREFIX.len()))
            .then_some(id)
    }

    /// The `block_id` of the context line that shows this key's answer.
    pub fn answered_block_id(&self) -> String {
        format!("{ANSWERED_PREFIX}{}", self.body())
    }

    fn body(&self) -> String {
        let kind = match &self.policy.parent {
            Some(parent) => format!("{}:{parent}", self.policy.kind),
            None => self.policy.kind.to_string(),
        };
        format!(
            "{}|{kind}|{}|{}|{}",
            self.cluster,
            self.policy.namespace.as_deref().unwrap_or_default(),
            self.policy.name,
            self.team
        )
    }

    /// Reads a `block_id` made by [`TriageKey::block_id`]. The error says what is wrong, for
    /// the log and the person who clicked.
    pub fn parse_block_id(text: &str) -> Result<TriageKey, String> {
        let body = text
            .strip_prefix(ACTIONS_PREFIX)
            .ok_or_else(|| format!("block_id '{}' is not one of forewarn's", shorten(text)))?;
        let mut parts = body.splitn(5, '|');
        let mut next = |what: &str| {
            parts
                .next()
                .ok_or_else(|| format!("block_id '{}' has no {what}", shorten(text)))
        };
        // Empty: the unnamed cluster (a library caller's inventory), as it was written.
        let cluster = match next("cluster")? {
            "" => ClusterName::default(),
            name => ClusterName::parse(name)?,
        };
        let kind_text = next("policy kind")?;
        let (kind_text, parent) = match kind_text.split_once(':') {
            Some((k, p)) => (k, Some(p)),
            None => (kind_text, None),
        };
        let kind = PolicyKind::parse(kind_text)
            .ok_or_else(|| format!("'{}' is not a policy kind", shorten(kind_text)))?;
        // Gatekeeper constraints and VAP bindings are known by their parent too; no other kind.
        let needs_parent = matches!(
            kind,
            PolicyKind::Constraint | PolicyKind::ValidatingAdmissionPolicyBinding
        );
        if needs_parent != parent.is_some_and(|p| !p.is_empty()) {
            return Err(format!(
                "block_id '{}': {}",
                shorten(text),
                if needs_parent {
                    format!("a {kind} needs its constraint kind or bound policy after ':'")
                } else {
                    format!("a {kind} has nothing after ':'")
                }
            ));
        }
        let namespace = next("namespace")?;
        let name = next("policy name")?;
        let team = next("team")?;
        if name.is_empty() || team.is_empty() {
            return Err(format!(
                "block_id '{}' has an empty policy or team",
                shorten(text)
            ));
        }
        let namespaced = matches!(
            kind,
            PolicyKind::Policy | PolicyKind::NamespacedValidatingPolicy
        );
        if namespaced == namespace.is_empty() {
            return Err(format!(
                "block_id '{}': a {kind} {}",
                shorten(text),
                if namespaced {
                    "needs a namespace"
                } else {
                    "has no namespace"
                }
            ));
        }
        Ok(TriageKey {
            cluster,
            policy: PolicyRef {
                kind,
                namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
                name: name.to_string(),
                parent: parent.map(str::to_string),
            },
            team: TeamKey::parse(team)?,
        })
    }
}

/// What a team answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", content = "date", rename_all = "kebab-case")]
pub enum Triage {
    /// *Got it*: seen.
    GotIt,
    /// *We'll fix by …*: the date picked.
    FixBy(NaiveDate),
    /// *We need an exception*.
    NeedException,
}

impl Triage {
    /// The answer a click means: the `action_id` and, for the date picker, the date picked.
    pub fn from_action(action_id: &str, selected_date: Option<&str>) -> Result<Triage, String> {
        match action_id {
            ACTION_GOT_IT => Ok(Triage::GotIt),
            ACTION_EXCEPTION => Ok(Triage::NeedException),
            ACTION_FIX_BY => {
                let text = selected_date.ok_or("the date picker sent no date")?;
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(Triage::FixBy)
                    .map_err(|_| format!("'{}' is not a date (YYYY-MM-DD)", shorten(text)))
            }
            other => Err(format!("unknown action '{}'", shorten(other))),
        }
    }
}

/// One recorded answer: the latest click for its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageAnswer {
    #[serde(flatten)]
    pub key: TriageKey,
    #[serde(flatten)]
    pub answer: Triage,
    /// The Slack user who clicked (`U…`).
    pub user: SlackUser,
    /// The user's Slack name, as the payload gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub at: DateTime<FixedOffset>,
}

/// A Slack user id (`U…` or `W…`, letters and digits only), parsed from a payload, so that a
/// mention `<@…>` built from it is always Slack's own syntax.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SlackUser(String);

impl SlackUser {
    pub fn parse(text: &str) -> Result<SlackUser, String> {
        let ok = text.len() >= 2
            && text.len() <= 32
            && text.starts_with(['U', 'W'])
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(SlackUser(text.to_string()))
        } else {
            Err(format!("'{}' is not a Slack user id", shorten(text)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<@U…>`: Slack shows the person's name.
    pub fn mention(&self) -> String {
        format!("<@{}>", self.0)
    }
}

impl TryFrom<String> for SlackUser {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        SlackUser::parse(&s)
    }
}

impl From<SlackUser> for String {
    fn from(u: SlackUser) -> String {
        u.0
    }
}

/// Every recorded answer, one per key (the latest wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    by_key: BTreeMap<TriageKey, TriageAnswer>,
}

impl Answers {
    pub fn new(list: impl IntoIterator<Item = TriageAnswer>) -> Answers {
        let mut a = Answers::default();
        for x in list {
            a.record(x);
        }
        a
    }

    /// Keeps `answer` unless a later one for its key is already there.
    pub fn record(&mut self, answer: TriageAnswer) {
        match self.by_key.get(&answer.key) {
            Some(held) if held.at > answer.at => {}
            _ => {
                self.by_key.insert(answer.key.clone(), answer);
            }
        }
    }

    pub fn get(&self, key: &TriageKey) -> Option<&TriageAnswer> {
        self.by_key.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TriageAnswer> {
        self.by_key.values()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// Keeps text quoted in messages short.
fn shorten(s: &str) -> String {
    super::words::shorten(s, 60)
}

/// A [`PolicyRef`] as stored: `{"kind", "namespace"?, "name"}`.
mod policy_ref {
    use super::{PolicyKind, PolicyRef};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Stored {
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
    }

    pub fn serialize<S: Serializer>(p: &PolicyRef, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            kind: p.kind.as_str().to_string(),
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            parent: p.parent.clone(),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PolicyRef, D::Error> {
        let s = Stored::deserialize(d)?;
        let kind = PolicyKind::parse(&s.kind)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown policy kind '{}'", s.kind)))?;
        Ok(PolicyRef {
            kind,
            namespace: s.namespace,
            name: s.name,
            parent: s.parent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: PolicyKind, ns: Option<&str>) -> TriageKey {
        TriageKey {
            cluster: ClusterName::parse("prod").expect("name"),
            policy: PolicyRef {
                kind,
                namespace: ns.map(str::to_string),
                name: "require-run-as-nonroot".into(),
                parent: None,
            },
            team: TeamKey::parse("payments").expect("team"),
        }
    }

    #[test]
    fn a_block_id_reads_back_as_the_same_key() {
        for k in [
            key(PolicyKind::ClusterPolicy, None),
            key(PolicyKind::Policy, Some("payments-api")),
        ] {
            let id = k.block_id().expect("short enough");
            assert_eq!(TriageKey::parse_block_id(&id), Ok(k));
        }
        assert_eq!(
            key(PolicyKind::ClusterPolicy, None).block_id().as_deref(),
            Some("fw1|prod|ClusterPolicy||require-run-as-nonroot|payments")
        );
        // A Gatekeeper constraint is known by its kind too, a VAP binding by its policy.
        let mut constraint = key(PolicyKind::Constraint, None);
        constraint.policy.parent = Some("K8sRequiredLabels".into());
        let id = constraint.block_id().expect("short enough");
        assert_eq!(
            id,
            "fw1|prod|Constraint:K8sRequiredLabels||require-run-as-nonroot|payments"
        );
        assert_eq!(TriageKey::parse_block_id(&id), Ok(constraint));
    }

    #[test]
    fn forged_block_ids_are_refused_with_the_reason() {
        for (bad, says) in [
            ("other|x", "not one of forewarn's"),
            ("fw1|prod|Deployment||x|t", "not a policy kind"),
            ("fw1|pr/od|ClusterPolicy||x|t", "not a cluster name"),
            ("fw1|prod|Policy||x|t", "needs a namespace"),
            ("fw1|prod|ClusterPolicy|ns|x|t", "has no namespace"),
            ("fw1|prod|ClusterPolicy||x", "has no team"),
            ("fw1|prod|ClusterPolicy||x|", "empty policy or team"),
            ("fw1|prod|Constraint||x|t", "needs its constraint kind"),
            ("fw1|prod|ClusterPolicy:K8sX||x|t", "has nothing after ':'"),
        ] {
            let err = TriageKey::parse_block_id(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn a_key_too_long_for_slack_has_no_block_id() {
        let mut k = key(PolicyKind::ClusterPolicy, None);
        k.team = TeamKey::parse(&"t".repeat(250)).expect("team");
        assert_eq!(k.block_id(), None);
    }

    #[test]
    fn actions_become_answers() {
        assert_eq!(Triage::from_action(ACTION_GOT_IT, None), Ok(Triage::GotIt));
        assert_eq!(
            Triage::from_action(ACTION_FIX_BY, Some("2026-12-18")),
            Ok(Triage::FixBy(
                NaiveDate::from_ymd_opt(2026, 12, 18).expect("date")
            ))
        );
        assert!(Triage::from_action(ACTION_FIX_BY, Some("18/12")).is_err());
        assert!(Triage::from_action(ACTION_FIX_BY, None).is_err());
        assert!(Triage::from_action("delete_everything", None).is_err());
    }

    #[test]
    fn user_ids_are_letters_and_digits_only() {
        assert_eq!(
            SlackUser::parse("U0123ABC").map(|u| u.mention()),
            Ok("<@U0123ABC>".into())
        );
        for bad in ["", "u123", "U12>3", "<!channel>", "U"] {
            assert!(SlackUser::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_latest_answer_wins_and_round_trips_as_json() {
        let at = |s| DateTime::parse_from_rfc3339(s).expect("time");
        let first = TriageAnswer {
            key: key(PolicyKind::ClusterPolicy, None),
            answer: Triage::GotIt,
            user: SlackUser::parse("U1").expect("user"),
            user_name: Some("maria".into()),
            at: at("2026-12-01T10:00:00+01:00"),
        };
        let later = TriageAnswer {
            answer: Triage::FixBy(NaiveDate::from_ymd_opt(2026, 12, 20).expect("date")),
            at: at("2026-12-02T10:00:00+01:00"),
            ..first.clone()
        };
        let answers = Answers::new([later.clone(), first.clone()]);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers.get(&first.key), Some(&later));
        let json = serde_json::to_value(&later).expect("json");
        assert_eq!(json["answer"], "fix-by");
        assert_eq!(json["date"], "2026-12-20");
        assert_eq!(json["policy"]["kind"], "ClusterPolicy");
        assert_eq!(json["cluster"], "prod");
        let back: TriageAnswer = serde_json::from_value(json).expect("back");
        assert_eq!(back, later);
    }
}
