//! Parsing a slash command once its signature has been verified (see [`super::verify`]): the
//! `application/x-www-form-urlencoded` body Slack posts, then the `/policy` sub-command in its
//! `text` field.
//!
//! The deprecated verification `token` field is deliberately not read: requests are
//! authenticated by their signature only.

/// The fields of a slash command request forewarn uses. Unknown fields (and `token`) are
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SlashRequest {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub channel_id: String,
    pub channel_name: Option<String>,
    pub team_id: Option<String>,
    pub response_url: Option<String>,
    pub trigger_id: Option<String>,
    pub api_app_id: Option<String>,
    pub enterprise_id: Option<String>,
    pub is_enterprise_install: Option<String>,
}

/// Why a slash command body could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("slash command form: missing field `{0}`")]
    MissingField(&'static str),
    #[error("slash command form: field `{field}` {reason}")]
    BadField {
        field: &'static str,
        reason: &'static str,
    },
    /// Anything else the form decoder refused (its message names the field, e.g. a
    /// duplicate).
    #[error("slash command form: {0}")]
    Malformed(String),
}

const REQUIRED: [&str; 3] = ["command", "user_id", "channel_id"];

/// Decodes a slash command body (the raw, already verified bytes).
pub fn parse_form(body: &[u8]) -> Result<SlashRequest, ParseError> {
    let request: SlashRequest = serde_urlencoded::from_bytes(body).map_err(|e| {
        // Name the first missing required field when that is the problem.
        let present: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        REQUIRED
            .into_iter()
            .find(|field| !present.iter().any(|(k, _)| k == field))
            .map(ParseError::MissingField)
            .unwrap_or_else(|| ParseError::Malformed(e.to_string()))
    })?;
    if !request.command.starts_with('/') {
        return Err(ParseError::BadField {
            field: "command",
            reason: "does not start with '/'",
        });
    }
    for (field, value) in [
        ("user_id", &request.user_id),
        ("channel_id", &request.channel_id),
    ] {
        if value.trim().is_empty() {
            return Err(ParseError::BadField {
                field,
                reason: "is empty",
            });
        }
    }
    Ok(request)
}

/// A `/policy` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Empty text or `help`.
    Help,
    /// `why <policy>`; namespaced policies are written `<namespace>/<policy>`.
    WhyPolicy(String),
    /// `why <namespace>/<kind>/<name>` or `why <kind>/<name> -n <namespace>`; the kind is
    /// passed through [`canonical_kind`].
    WhyResource {
        namespace: String,
        kind: String,
        name: String,
    },
    /// `status [<namespace-or-team>]`.
    Status(Option<String>),
    /// `exceptions [<namespace-or-team>]`.
    Exceptions(Option<String>),
}

/// Parses the `text` of a `/policy` command. The sub-command is case-insensitive; names keep
/// the user's spelling except kinds (see [`canonical_kind`]). The error is a short message for
/// the user, shown above the usage (the `help` template).
pub fn parse_question(text: &str) -> Result<Question, String> {
    let mut tokens = text.split_whitespace();
    let Some(command) = tokens.next() else {
        return Ok(Question::Help);
    };
    let args: Vec<&str> = tokens.collect();
    match command.to_lowercase().as_str() {
        "help" => Ok(Question::Help),
        "why" => parse_why(&args),
        "status" => optional_scope("status", &args).map(Question::Status),
        "exceptions" => optional_scope("exceptions", &args).map(Question::Exceptions),
        _ => Err(format!("unknown command '{}'", shorten(command))),
    }
}

fn optional_scope(command: &str, args: &[&str]) -> Result<Option<String>, String> {
    match args {
        [] => Ok(None),
        [scope] if !scope.starts_with('-') => Ok(Some((*scope).to_string())),
        [option, ..] if option.starts_with('-') => Err(format!(
            "unknown option '{}' for {command}",
            shorten(option)
        )),
        _ => Err(format!("{command} takes at most one namespace or team")),
    }
}

fn parse_why(args: &[&str]) -> Result<Question, String> {
    let mut namespace: Option<&str> = None;
    let mut targets: Vec<&str> = Vec::new();
    let mut rest = args.iter();
    while let Some(&arg) = rest.next() {
        let value = match arg {
            "-n" | "--namespace" => Some(
                *rest
                    .next()
                    .ok_or_else(|| format!("{arg} needs a namespace"))?,
            ),
            _ => arg
                .strip_prefix("-n=")
                .or_else(|| arg.strip_prefix("--namespace=")),
        };
        match value {
            Some(ns) => {
                if ns.is_empty() || ns.starts_with('-') {
                    return Err("-n needs a namespace".to_string());
                }
                if namespace.replace(ns).is_some() {
                    return Err("give the namespace only once".to_string());
                }
            }
            None if arg.starts_with('-') => {
                return Err(format!("unknown option '{}' for why", shorten(arg)));
            }
            None => targets.push(arg),
        }
    }
    let target = match targets.as_slice() {
        [] => return Err("why needs a policy or a resource".to_string()),
        [target] => *target,
        _ => return Err("why takes one policy or one resource".to_string()),
    };
    let parts: Vec<&str> = target.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("'{}' has an empty part", shorten(target)));
    }
    match (parts.as_slice(), namespace) {
        ([_] | [_, _], None) => Ok(Question::WhyPolicy(target.to_string())),
        ([ns, kind, name], None) => Ok(resource(ns, kind, name)),
        ([kind, name], Some(ns)) => Ok(resource(ns, kind, name)),
        ([_], Some(_)) => Err("with -n, give the resource as <kind>/<name>".to_string()),
        ([_, _, _], Some(_)) => {
            Err("give the namespace either in <namespace>/<kind>/<name> or with -n".to_string())
        }
        _ => Err(format!("'{}' has too many '/'", shorten(target))),
    }
}

fn resource(namespace: &str, kind: &str, name: &str) -> Question {
    Question::WhyResource {
        namespace: namespace.to_string(),
        kind: canonical_kind(kind),
        name: name.to_string(),
    }
}

/// Keeps user input quoted in error messages short.
fn shorten(s: &str) -> String {
    crate::model::words::shorten(s, 40)
}

/// Maps the common lower-case, plural and short spellings of a Kubernetes kind to its
/// canonical name (`deploy` → `Deployment`, `po` → `Pod`, `sts` → `StatefulSet`, …);
/// anything else gets its first letter capitalised.
pub fn canonical_kind(s: &str) -> String {
    let known = match s.to_ascii_lowercase().as_str() {
        "deploy" | "deployment" | "deployments" => "Deployment",
        "po" | "pod" | "pods" => "Pod",
        "sts" | "statefulset" | "statefulsets" => "StatefulSet",
        "ds" | "daemonset" | "daemonsets" => "DaemonSet",
        "cj" | "cronjob" | "cronjobs" => "CronJob",
        "job" | "jobs" => "Job",
        "rs" | "replicaset" | "replicasets" => "ReplicaSet",
        "svc" | "service" | "services" => "Service",
        "ing" | "ingress" | "ingresses" => "Ingress",
        "cm" | "configmap" | "configmaps" => "ConfigMap",
        "ns" | "namespace" | "namespaces" => "Namespace",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
