//! Typed identities, parsed once at the boundary and never turned back into text to be parsed
//! again: who hears a notice (audience) and where it goes (destination).
//!
//! Plain values with no I/O; the text forms (`Display`) are for ids and logs only.

use serde::Serialize;
use std::fmt;

/// The owner name that means the platform team itself (reserved as a team key).
pub const PLATFORM: &str = "platform";

/// Who hears about a namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Audience {
    /// A team from the config.
    Team(TeamKey),
    /// A channel named on the namespace itself, without a known team.
    Channel(String),
    /// The platform team, for namespaces nobody owns.
    Platform,
}

impl Audience {
    /// Stable text used in notice ids: the team key, the channel, or `platform`.
    pub fn key(&self) -> String {
        match self {
            Audience::Team(t) => t.to_string(),
            Audience::Channel(c) => c.clone(),
            Audience::Platform => PLATFORM.to_string(),
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Where a message is delivered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    /// A channel name (`#payments`) or ID.
    Channel(String),
    /// Direct messages to these people.
    Emails(Vec<String>),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Channel(c) => f.write_str(c),
            Destination::Emails(e) => write!(f, "email:{}", e.join(",")),
        }
    }
}

impl std::str::FromStr for Destination {
    type Err = std::convert::Infallible;

    /// Reads a destination back from where it was stored as text (a ledger entry): `email:a,b`
    /// is a direct message to those addresses, anything else a channel name or id.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.strip_prefix("email:") {
            Some(list) => Destination::Emails(
                list.split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            None => Destination::Channel(text.to_string()),
        })
    }
}

impl Serialize for Destination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialEq<str> for Destination {
    /// Compares with the text form, without building it.
    fn eq(&self, other: &str) -> bool {
        match self {
            Destination::Channel(c) => c == other,
            Destination::Emails(list) => other.strip_prefix("email:").is_some_and(|rest| {
                let mut parts = rest.split(',');
                list.iter().all(|e| parts.next() == Some(e.as_str())) && parts.next().is_none()
            }),
        }
    }
}

impl PartialEq<&str> for Destination {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// The family of admission engine a policy belongs to. Reports tell the families apart by a
/// result's `source` (kyverno `pkg/utils/report/source.go`): `kyverno` for ClusterPolicy and
/// Policy, `KyvernoValidatingPolicy` for (Namespaced)ValidatingPolicy, `ValidatingAdmissionPolicy`
/// for Kubernetes' own VAPs. A result without `source` comes from an older Kyverno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Engine {
    /// Kyverno `kyverno.io` ClusterPolicy / Policy.
    Kyverno,
    /// Kyverno `policies.kyverno.io` ValidatingPolicy / NamespacedValidatingPolicy (CEL).
    KyvernoValidating,
    /// Kubernetes `admissionregistration.k8s.io` ValidatingAdmissionPolicy.
    ValidatingAdmission,
    /// OPA Gatekeeper constraints.
    Gatekeeper,
    /// Results of another producer (Falco, kube-bench, trivy, …): kept for `/policy why`, never
    /// planned.
    Other,
}

impl Engine {
    /// The engine a report result belongs to, from its `source`.
    pub fn from_report_source(source: Option<&str>) -> Engine {
        match source.map(str::trim) {
            None | Some("") => Engine::Kyverno,
            Some(s) if s.eq_ignore_ascii_case("kyverno") => Engine::Kyverno,
            Some("KyvernoValidatingPolicy") => Engine::KyvernoValidating,
            Some("ValidatingAdmissionPolicy") => Engine::ValidatingAdmission,
            Some(_) => Engine::Other,
        }
    }
}

/// Which engine object a policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum PolicyKind {
    ClusterPolicy,
    Policy,
    ValidatingPolicy,
    NamespacedValidatingPolicy,
    /// A Gatekeeper constraint (`constraints.gatekeeper.sh`); its own kind, which its
    /// ConstraintTemplate defines, is [`PolicyRef::parent`].
    Constraint,
    /// A Kubernetes ValidatingAdmissionPolicyBinding: the binding, not the policy, is what a
    /// rollout changes (its `validationActions`); the policy it binds is [`PolicyRef::parent`].
    ValidatingAdmissionPolicyBinding,
}

impl PolicyKind {
    pub fn engine(self) -> Engine {
        match self {
            PolicyKind::ClusterPolicy | PolicyKind::Policy => Engine::Kyverno,
            PolicyKind::ValidatingPolicy | PolicyKind::NamespacedValidatingPolicy => {
                Engine::KyvernoValidating
            }
            PolicyKind::Constraint => Engine::Gatekeeper,
            PolicyKind::ValidatingAdmissionPolicyBinding => Engine::ValidatingAdmission,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::ClusterPolicy => "ClusterPolicy",
            PolicyKind::Policy => "Policy",
            PolicyKind::ValidatingPolicy => "ValidatingPolicy",
            PolicyKind::NamespacedValidatingPolicy => "NamespacedValidatingPolicy",
            PolicyKind::Constraint => "Constraint",
            PolicyKind::ValidatingAdmissionPolicyBinding => "ValidatingAdmissionPolicyBinding",
        }
    }

    /// Parses a kind as written by users (`ValidatingPolicy`, case-insensitive).
    pub fn parse(text: &str) -> Option<PolicyKind> {
        [
            PolicyKind::ClusterPolicy,
            PolicyKind::Policy,
            PolicyKind::ValidatingPolicy,
            PolicyKind::NamespacedValidatingPolicy,
            PolicyKind::Constraint,
            PolicyKind::ValidatingAdmissionPolicyBinding,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy, identified by engine (through its kind), kind, namespace and name — never by
/// name alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyRef {
    pub kind: PolicyKind,
    /// Set for namespaced kinds only.
    pub namespace: Option<String>,
    pub name: String,
    /// For a Gatekeeper constraint, its kind (`K8sRequiredLabels`, from its template's
    /// `spec.crd.spec.names.kind`); for a ValidatingAdmissionPolicyBinding, the policy it binds
    /// (`spec.policyName`). `None` for Kyverno's kinds.
    pub parent: Option<String>,
}

impl PolicyRef {
    pub fn engine(&self) -> Engine {
        self.kind.engine()
    }

    /// How reports name the policy: `name`, or `namespace/name` for a namespaced kind
    /// (client-go's `MetaNamespaceKeyFunc`, used by kyverno `pkg/utils/report/results.go`);
    /// `Kind/name` for a Gatekeeper constraint (its violations are read from its status under
    /// that name); the bound policy's name for a ValidatingAdmissionPolicyBinding (Kyverno's
    /// VAP reports name the policy, kyverno `pkg/admissionpolicy/validate.go`).
    pub fn report_name(&self) -> String {
        match (self.kind, &self.parent, &self.namespace) {
            (PolicyKind::Constraint, Some(kind), _) => format!("{kind}/{}", self.name),
            (PolicyKind::ValidatingAdmissionPolicyBinding, Some(policy), _) => policy.clone(),
            (_, _, Some(ns)) => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// Whether reports name this policy `text` ([`PolicyRef::report_name`], without building it).
    pub fn is_report_name(&self, text: &str) -> bool {
        let prefixed = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                == Some(self.name.as_str())
        };
        match (self.kind, &self.parent, &self.namespace) {
            (PolicyKind::Constraint, Some(kind), _) => prefixed(kind),
            (PolicyKind::ValidatingAdmissionPolicyBinding, Some(policy), _) => text == policy,
            (_, _, Some(ns)) => prefixed(ns),
            _ => text == self.name,
        }
    }

    /// How forewarn names the policy when no other policy shares the name: the report name,
    /// except for a binding, named by itself (several bindings share their policy's name).
    pub fn own_name(&self) -> String {
        match self.kind {
            PolicyKind::ValidatingAdmissionPolicyBinding => self.name.clone(),
            _ => self.report_name(),
        }
    }

    /// The own name qualified by kind: `ValidatingPolicy:restrict-seccomp-strict`.
    pub fn qualified(&self) -> String {
        format!("{}:{}", self.kind, self.own_name())
    }
}

impl Serialize for PolicyRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("PolicyRef", 5)?;
        st.serialize_field("engine", &self.engine())?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("namespace", &self.namespace)?;
        st.serialize_field("name", &self.name)?;
        if self.parent.is_some() {
            st.serialize_field("parent", &self.parent)?;
        } else {
            st.skip_field("parent")?;
        }
        st.end()
    }
}

/// The name of a cluster: `--snapshot NAME=DIR`, `--context NAME`, the directory's base name or
/// the config's `cluster-name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct ClusterName(String);

impl ClusterName {
    /// A cluster name is a DNS-1123 label-ish word: letters, digits, `-`, `_` and `.`, not
    /// empty and without `/` (it becomes a segment of notice ids).
    pub fn parse(text: &str) -> Result<ClusterName, String> {
        let text = text.trim();
        id_segment(text, "a cluster name")?;
        Ok(ClusterName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks that `text` can be one segment of a notice id: one word of ASCII letters, digits,
/// `-`, `_` and `.`. `what` names it in the error (`a team key`).
fn id_segment(text: &str, what: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{what} cannot be empty"));
    }
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(c) => Err(format!(
            "'{text}' is not {what}: '{c}' is not allowed (letters, digits, '-', '_', '.')"
        )),
        None => Ok(()),
    }
}

impl<'de> serde::Deserialize<'de> for ClusterName {
    /// Read back from where it was stored (an answer store): checked as [`ClusterName::parse`];
    /// empty is the unnamed cluster of a library caller ([`ClusterName::default`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(ClusterName::default());
        }
        ClusterName::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team's key in the config (`teams.<key>`): what namespaces name as their owner and what
/// notice ids and ledger entries carry. Parsed once, when the config is read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TeamKey(String);

impl TeamKey {
    /// A team key is one word of letters, digits, `-`, `_` and `.` (it becomes a segment of
    /// notice ids), and not `platform`, which names the platform team itself.
    pub fn parse(text: &str) -> Result<TeamKey, String> {
        id_segment(text, "a team key")?;
        if text == PLATFORM {
            return Err("the key 'platform' is reserved: namespaces owned by 'platform' go to the `platform:` channel".into());
        }
        Ok(TeamKey(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for TeamKey {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for TeamKey {
    /// Read back from where it was stored (an answer store): checked as [`TeamKey::parse`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TeamKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::borrow::Borrow<str> for TeamKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of a notice; each kind has its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// A dated heads-up before a policy is enforced.
    Announce,
    /// To an exception's owner before its review date or expiry, and weekly while overdue.
    Reminder,
    /// The scheduled audit digest, per team and for the platform.
    Digest,
    /// To the platform before a flip that would still block resources.
    Readiness,
    /// To the platform: the enforcement date passed but the policy is still in Audit.
    Overdue,
    /// To the teams still failing a policy that is now enforced.
    Enforced,
    /// To the teams that were warned: the enforcement date moved.
    Postponed,
    /// To a team that was warned and has fixed everything before the date.
    #[serde(rename = "all-clear")]
    AllClear,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Announce => "announce",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Digest => "digest",
            NoticeKind::Readiness => "readiness",
            NoticeKind::Overdue => "overdue",
            NoticeKind::Enforced => "enforced",
            NoticeKind::Postponed => "postponed",
            NoticeKind::AllClear => "all-clear",
        }
    }
}

/// A notice's stable id, unique by construction: kind, the cluster (only when several are
/// planned), what it is about (a policy label or an exception), the audience and the
/// milestone. Its text form (`announce/prod/require-run-as-nonroot/payments/T-7`) is the
/// ledger's key and goes into message metadata; it is never parsed back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoticeId {
    kind: NoticeKind,
    cluster: Option<ClusterName>,
    /// The remaining parts, `/`-joined.
    path: String,
}

impl NoticeId {
    /// Builds an id from its parts; empty parts are left out.
    pub fn new(kind: NoticeKind, parts: &[&str]) -> NoticeId {
        let path = parts
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        NoticeId {
            kind,
            cluster: None,
            path,
        }
    }

    /// The same id, naming `cluster` (when several clusters are planned).
    pub fn in_cluster(mut self, cluster: &ClusterName) -> NoticeId {
        self.cluster = Some(cluster.clone());
        self
    }

    pub fn kind(&self) -> NoticeKind {
        self.kind
    }
}

impl fmt::Display for NoticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(c) = &self.cluster {
            write!(f, "/{c}")?;
        }
        if !self.path.is_empty() {
            write!(f, "/{}", self.path)?;
        }
        Ok(())
    }
}

impl Serialize for NoticeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialEq<str> for NoticeId {
    /// Compares with the text form, without building it.
    fn eq(&self, other: &str) -> bool {
        let Some(mut rest) = other.strip_prefix(self.kind.as_str()) else {
            return false;
        };
        if let Some(c) = &self.cluster {
            match rest
                .strip_prefix('/')
                .and_then(|r| r.strip_prefix(c.as_str()))
            {
                Some(r) => rest = r,
                None => return false,
            }
        }
        if self.path.is_empty() {
            rest.is_empty()
        } else {
            rest.strip_prefix('/') == Some(self.path.as_str())
        }
    }
}

impl PartialEq<&str> for NoticeId {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sources_name_engines() {
        // kyverno pkg/utils/report/source.go
        assert_eq!(Engine::from_report_source(Some("kyverno")), Engine::Kyverno);
        assert_eq!(Engine::from_report_source(None), Engine::Kyverno);
        assert_eq!(
            Engine::from_report_source(Some("KyvernoValidatingPolicy")),
            Engine::KyvernoValidating
        );
        assert_eq!(
            Engine::from_report_source(Some("ValidatingAdmissionPolicy")),
            Engine::ValidatingAdmission
        );
        assert_eq!(
            Engine::from_report_source(Some("KyvernoImageValidatingPolicy")),
            Engine::Other
        );
    }

    #[test]
    fn notice_ids_read_and_compare_as_text() {
        let id = NoticeId::new(NoticeKind::Announce, &["p", "team", "T-7"]);
        assert_eq!(id.to_string(), "announce/p/team/T-7");
        assert!(id == "announce/p/team/T-7");
        let prod = ClusterName::parse("prod").expect("name");
        let id = id.in_cluster(&prod);
        assert_eq!(id.to_string(), "announce/prod/p/team/T-7");
        assert!(id == "announce/prod/p/team/T-7");
        assert!(id != "announce/p/team/T-7");
        assert!(ClusterName::parse("a/b").is_err());
        let d: Destination = "email:a@x,b@y"
            .parse()
            .unwrap_or_else(|never| match never {});
        assert!(d == "email:a@x,b@y");
        assert_eq!(d.to_string(), "email:a@x,b@y");
    }
}
