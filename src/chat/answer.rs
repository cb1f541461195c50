//! Answers to `/policy …` questions, as template data: pure functions of the inventory, the
//! config, the question, who asks, and the time.
//!
//! Decides what an answer says (which policies, namespaces, dates, contacts); the words are in
//! the templates and the Block Kit structure in `render`. Never does I/O and never fails on a
//! question it does not understand: that becomes the help answer with the reason.

use super::request::Question;
use crate::config::Config;
use crate::inventory::{Inventory, Mode, Name, Policy, ResourceRef};
use crate::model::ids::TeamKey;
use crate::model::triage::Answers;
use crate::plan::audit_failures;
use crate::plan::owners::owner_of;
use crate::plan::rollout::{Rollout, rollout_for};
use crate::plan::triage::triage_view;
use crate::render::when;
use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Who asked, as far as answers care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The team whose channel the command came from, or whose member asked.
    pub team: Option<TeamKey>,
}

/// Finds the caller's team: the team whose channel the command was typed in (by ID or name),
/// else the team listing the caller's email among its members.
pub fn caller_team(
    config: &Config,
    channel_id: &str,
    channel_name: Option<&str>,
    email: Option<&str>,
) -> Caller {
    let by_channel = config.teams.iter().find(|(_, t)| {
        t.channel.as_deref().is_some_and(|c| {
            c == channel_id
                || channel_name
                    .is_some_and(|n| c.trim_start_matches('#') == n.trim_start_matches('#'))
        })
    });
    let by_email = || {
        email.and_then(|e| {
            config
                .teams
                .iter()
                .find(|(_, t)| t.members.iter().any(|m| m.eq_ignore_ascii_case(e)))
        })
    };
    Caller {
        team: by_channel.or_else(by_email).map(|(k, _)| k.clone()),
    }
}

/// Which template answers, and with what data.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub kind: &'static str,
    pub data: Value,
}

/// Answers one question about every cluster: one answer per cluster, each naming its cluster
/// (`cluster_name`) when several are read or `cluster-name` is configured. A policy or resource
/// that only some clusters have is answered from those; when none has it, one help answer.
/// `triage` is what teams answered with the buttons (`status` lists them; `None`: no answer
/// store was read, nothing listed).
pub fn answer_clusters(
    clusters: &[Inventory],
    config: &Config,
    question: &Question,
    caller: &Caller,
    command: &str,
    now: DateTime<FixedOffset>,
    triage: Option<&Answers>,
) -> Vec<Answer> {
    let named = clusters.len() > 1 || config.cluster_name.is_some();
    let mut answers: Vec<(Answer, &Inventory)> = clusters
        .iter()
        .map(|inv| {
            (
                answer_with(inv, config, question, caller, command, now, triage),
                inv,
            )
        })
        .collect();
    let lookup = matches!(
        question,
        Question::WhyPolicy(_) | Question::WhyResource { .. }
    );
    if lookup && answers.iter().any(|(a, _)| a.kind != "help") {
        answers.retain(|(a, _)| a.kind != "help");
    } else if answers.iter().all(|(a, _)| a.kind == "help") {
        answers.truncate(1);
    }
    answers
        .into_iter()
        .map(|(mut a, inv)| {
            if named && a.kind != "help" {
                a.data["cluster_name"] = json!(inv.cluster);
            }
            a
        })
        .collect()
}

/// Answers one question.
pub fn answer(
    inv: &Inventory,
    config: &Config,
    question: &Question,
    caller: &Caller,
    command: &str,
    now: DateTime<FixedOffset>,
) -> Answer {
    answer_with(inv, config, question, caller, command, now, None)
}

/// [`answer`], knowing what teams answered with the triage buttons.
pub fn answer_with(
    inv: &Inventory,
    config: &Config,
    question: &Question,
    caller: &Caller,
    command: &str,
    now: DateTime<FixedOffset>,
    triage: Option<&Answers>,
) -> Answer {
    let ctx = Ctx {
        inv,
        config,
        caller,
        now,
        triage,
    };
    match question {
        Question::Help => help(command, None, Vec::new()),
        Question::WhyPolicy(name) => match find_policy(inv, name) {
            Some(p) => ctx.why_policy(p),
            None => help(
                command,
                Some(format!("There is no policy named `{name}`.")),
                suggestions(name, inv.policies.iter().map(|p| p.label.as_str())),
            ),
        },
        Question::WhyResource {
            namespace,
            kind,
            name,
        } => ctx.why_resource(namespace, kind, name),
        Question::Status(scope) => match ctx.scope(scope.as_deref()) {
            Ok(s) => ctx.status(&s),
            Err(e) => help(command, Some(e.0), e.1),
        },
        Question::Exceptions(scope) => match ctx.scope(scope.as_deref()) {
            Ok(s) => ctx.exceptions(&s),
            Err(e) => help(command, Some(e.0), e.1),
        },
    }
}

/// The usage answer, with an optional reason and close names.
pub fn help(command: &str, error: Option<String>, suggestions: Vec<String>) -> Answer {
    Answer {
        kind: "help",
        data: json!({ "command": command, "error": error, "suggestions": suggestions, "items": [] }),
    }
}

/// A policy by id (`name`, `namespace/name`), or by name alone when that is unambiguous.
fn find_policy<'a>(inv: &'a Inventory, name: &str) -> Option<&'a Policy> {
    inv.policy(name).or_else(|| {
        let mut by_name = inv.policies.iter().filter(|p| p.name() == name);
        match (by_name.next(), by_name.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    })
}

/// Up to three known names closest to `wanted` (edit distance, or containing it).
pub fn suggestions<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_ascii_lowercase();
    let limit = (wanted.chars().count() / 3).max(3);
    let mut scored: Vec<(usize, &str)> = known
        .map(|k| {
            let d = strsim::levenshtein(&wanted, &k.to_ascii_lowercase());
            let d = if k.contains(wanted.as_str()) || wanted.contains(k) {
                d.min(1)
            } else {
                d
            };
            (d, k)
        })
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// What `status` and `exceptions` are about.
struct Scope {
    label: String,
    /// `None` = the whole cluster.
    namespaces: Option<Vec<String>>,
}

struct ScopeError(String, Vec<String>);

struct Ctx<'a> {
    inv: &'a Inventory,
    config: &'a Config,
    caller: &'a Caller,
    now: DateTime<FixedOffset>,
    triage: Option<&'a Answers>,
}

impl Ctx<'_> {
    fn team_namespaces(&self, team: &str) -> Vec<String> {
        let mut names: Vec<&str> = self.inv.namespaces.keys().map(String::as_str).collect();
        names.extend(self.inv.results.keys().filter_map(|(_, _, ns, _)| ns));
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .filter(|ns| owner_of(ns, self.inv, self.config).0.team.as_deref() == Some(team))
            .map(str::to_string)
            .collect()
    }

    fn scope(&self, arg: Option<&str>) -> Result<Scope, ScopeError> {
        let team_scope = |key: &str| Scope {
            label: format!("team {}", self.config.team_name(key)),
            namespaces: Some(self.team_namespaces(key)),
        };
        match arg {
            None => Ok(match &self.caller.team {
                Some(t) => team_scope(t),
                None => Scope {
                    label: "the whole cluster".into(),
                    namespaces: None,
                },
            }),
            Some(a) => {
                let known_ns = self.inv.namespaces.contains_key(a)
                    || self.inv.results.keys().any(|(_, _, ns, _)| ns == Some(a));
                if known_ns {
                    return Ok(Scope {
                        label: format!("namespace {a}"),
                        namespaces: Some(vec![a.to_string()]),
                    });
                }
                let team = self.config.teams.iter().find(|(k, t)| {
                    k.eq_ignore_ascii_case(a)
                        || t.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(a))
                });
                match team {
                    Some((k, _)) => Ok(team_scope(k)),
                    None => {
                        let known = self
                            .inv
                            .namespaces
                            .keys()
                            .map(String::as_str)
                            .chain(self.config.teams.keys().map(TeamKey::as_str));
                        Err(ScopeError(
                            format!("There is no namespace or team named `{a}`."),
                            suggestions(a, known),
                        ))
                    }
                }
            }
        }
    }

    fn rollout(&self, p: &Policy) -> Rollout {
        rollout_for(p, self.config).0
    }

    fn dates(&self, rollout: &Rollout) -> (Value, Value) {
        match rollout.enforce_on {
            Some(e) => {
                let today = self.now.with_timezone(&self.config.time_zone).date_naive();
                let shown = e.shown(self.config.time_zone);
                let days = (e.date - today).num_days();
                let w = if days < 0 {
                    format!("{} days ago", -days)
                } else {
                    when(days)
                };
                (json!(shown), json!(w))
            }
            None => (Value::Null, Value::Null),
        }
    }

    fn contact(&self, rollout: &Rollout) -> String {
        rollout
            .contact()
            .map(str::to_string)
            .or_else(|| self.config.platform.contact.clone())
            .unwrap_or_else(|| self.config.platform.channel.clone())
    }

    /// "Audit", "Enforce", or "Audit in a, b; Enforce in c" when it differs by namespace.
    fn mode_summary(&self, p: &Policy) -> String {
        let mut by_mode: BTreeMap<Mode, Vec<&str>> = BTreeMap::new();
        for ns in self
            .inv
            .namespaces
            .values()
            .filter(|ns| p.reaches(&ns.name, &ns.labels))
        {
            by_mode
                .entry(p.mode_for(None, &ns.name, &ns.labels))
                .or_default()
                .push(&ns.name);
        }
        let default = p.mode_for(None, "", &Default::default());
        match by_mode.len() {
            0 => default.as_str().to_string(),
            1 => by_mode
                .keys()
                .next()
                .map_or(default, |m| *m)
                .as_str()
                .to_string(),
            _ => by_mode
                .iter()
                .map(|(m, names)| {
                    let mut list = names.iter().take(8).copied().collect::<Vec<_>>().join(", ");
                    if names.len() > 8 {
                        list.push_str(&format!(" and {} more", names.len() - 8));
                    }
                    format!("{} in {list}", m.as_str())
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// Where the policy stays in Audit after the flip because an override keeps it there, per
    /// rule: "`rule` in a, b; `other` in c"; empty when nowhere.
    fn kept_in_audit(&self, p: &Policy) -> String {
        let crate::inventory::ModeSpec::Kyverno { rules, .. } = &p.modes else {
            return String::new();
        };
        rules
            .iter()
            .filter(|r| r.validate)
            .filter_map(|r| {
                let names: Vec<&str> = self
                    .inv
                    .namespaces
                    .values()
                    .filter(|ns| {
                        p.applies_in(&ns.name)
                            && p.mode_after_flip(Some(&r.name), &ns.name, &ns.labels) == Mode::Audit
                    })
                    .map(|ns| ns.name.as_str())
                    .collect();
                (!names.is_empty()).then(|| format!("`{}` in {}", r.name, names.join(", ")))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn why_policy(&self, p: &Policy) -> Answer {
        let rollout = self.rollout(p);
        let (enforce_on, when) = self.dates(&rollout);
        // Failing anywhere, whatever the mode (an enforced policy can still have old failures).
        let reached =
            |ns: Option<&str>| ns.is_none_or(|ns| p.reaches(ns, self.inv.namespace_labels(ns)));
        let all: Vec<(Option<&str>, u64)> = self
            .inv
            .results_for(&p.reference)
            .filter(|(ns, s)| s.counts().fail > 0 && reached(*ns))
            .map(|(ns, s)| (ns, s.counts().fail))
            .collect();
        let team_ns = self.caller.team.as_ref().map(|t| self.team_namespaces(t));
        let items: Vec<Value> = match &team_ns {
            Some(mine) => self
                .inv
                .results_for(&p.reference)
                .filter(|(ns, s)| {
                    s.counts().fail > 0
                        && reached(*ns)
                        && ns.is_some_and(|ns| mine.iter().any(|m| m == ns))
                })
                .map(|(ns, s)| {
                    json!({
                        "name": ns,
                        "failing": s.counts().fail,
                        "sample": s.sample().iter().map(|r| json!({"kind": r.kind, "name": r.name, "message": r.message})).collect::<Vec<_>>(),
                        "more": s.counts().fail.saturating_sub(s.sample().len() as u64),
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let team_failing: u64 = items.iter().filter_map(|i| i["failing"].as_u64()).sum();
        let team = self
            .caller
            .team
            .as_ref()
            .map(|k| json!({"key": k, "name": self.config.team_name(k)}));
        Answer {
            kind: "why-policy",
            data: json!({
                "policy": {
                    "id": p.label, "title": p.title(), "description": p.docs.description,
                    "category": p.docs.category, "severity": p.docs.severity.map(|s| s.as_str()),
                    "subject": p.docs.subject,
                    "unscored": p.is_unscored(),
                    "engine": engine_words(p),
                },
                "at_least": p.truncated.map(|t| json!({"listed": t.listed, "total": t.total})),
                "mode": self.mode_summary(p),
                "kept_in_audit": self.kept_in_audit(p),
                "enforce_on": enforce_on,
                "when": when,
                "what_to_do": rollout.what_to_do(),
                "guidance": rollout.guidance(),
                "contact": self.contact(&rollout),
                "team": team,
                "team_failing": team_failing,
                "items": items,
                "count": items.len(),
                "cluster": {
                    "failing": all.iter().map(|(_, n)| n).sum::<u64>(),
                    "namespaces": all.len(),
                },
                "readiness": self.readiness_json(p),
            }),
        }
    }

    /// Whether the policy could be flipped now, as `forewarn gate` says it (for policies still
    /// in Audit somewhere with failures).
    fn readiness_json(&self, p: &Policy) -> Value {
        if !p.is_validating() {
            return Value::Null;
        }
        let r = crate::plan::readiness::readiness(p, self.inv, self.config, self.now);
        if r.namespaces.is_empty() {
            return Value::Null;
        }
        let why: Vec<&String> = r
            .namespaces
            .iter()
            .flat_map(|n| n.possibly_why.iter())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .take(5)
            .collect();
        json!({
            "ready": r.is_ready(),
            "uncovered": r.uncovered(),
            "possibly": r.possibly(),
            "covered": r.covered(),
            "possibly_why": why,
        })
    }

    fn why_resource(&self, namespace: &str, kind: &str, name: &str) -> Answer {
        let key = ResourceRef {
            namespace: namespace.into(),
            kind: kind.into(),
            name: name.into(),
        };
        // Kinds are matched case-insensitively; users type `deployment`.
        let found = self.inv.findings.get(&key).or_else(|| {
            self.inv
                .findings
                .iter()
                .find(|(k, _)| {
                    k.namespace == namespace && k.name == name && k.kind.eq_ignore_ascii_case(kind)
                })
                .map(|(_, v)| v)
        });
        let labels = self.inv.namespace_labels(namespace);
        // A Namespace object's mode is decided as its engine does (see plan::mode_context).
        let found_kind = if kind.eq_ignore_ascii_case("Namespace") {
            "Namespace"
        } else {
            ""
        };
        let items: Vec<Value> = found
            .into_iter()
            .flatten()
            .filter(|f| f.result != "skip")
            .map(|f| {
                let policy = self.inv.policy_deciding(
                    f.engine,
                    &f.policy,
                    f.binding.as_deref(),
                    namespace,
                    labels,
                );
                let rollout = policy.map(|p| self.rollout(p)).unwrap_or_default();
                let (enforce_on, when) = self.dates(&rollout);
                let mode = policy.map(|p| {
                    let (mode_ns, mode_labels) =
                        crate::plan::mode_context(self.inv, p, found_kind, namespace);
                    p.mode_for(f.rule.as_deref(), mode_ns, mode_labels)
                });
                json!({
                    "policy": policy.map_or(f.policy.as_str(), |p| p.label.as_str()),
                    "title": policy.map_or(f.policy.as_str(), |p| p.title()),
                    "result": f.result,
                    "rule": f.rule,
                    "message": f.message,
                    "mode": mode.map_or("unknown", Mode::as_str),
                    "audit": mode == Some(Mode::Audit),
                    "enforce_on": enforce_on,
                    "when": when,
                    "what_to_do": rollout.what_to_do(),
                    "contact": self.contact(&rollout),
                })
            })
            .collect();
        // Exceptions whose scope names this resource (they may have made results skip), and
        // the active ones that cover — or may cover — its failing results, decided as
        // `forewarn gate` decides them.
        let now = self.now.with_timezone(&chrono::Utc);
        let at = ResourceRef {
            namespace: namespace.into(),
            kind: findings_kind(self.inv, namespace, kind, name),
            name: name.into(),
        };
        let ns_labels = self.inv.namespaces.get(namespace).map(|n| &n.labels);
        let exceptions: Vec<Value> = self
            .inv
            .exceptions
            .iter()
            .filter_map(|x| {
                use crate::plan::exceptions::{Coverage, coverage, is_active, view};
                let named = if x.is_cel() {
                    x.namespace.as_deref() == Some(namespace)
                } else {
                    crate::plan::exceptions::scope_coverage(x, &at, ns_labels)
                        != Coverage::NotCovered
                };
                let (v, _) = view(x, &self.config.exceptions.keys, self.config.time_zone);
                let mut verdict = Coverage::NotCovered;
                if is_active(&v, now) {
                    for f in found.into_iter().flatten().filter(|f| f.result == "fail") {
                        let Some(p) = self.inv.policy_of_result(f.engine, &f.policy) else {
                            continue;
                        };
                        match coverage(x, p, f.rule.as_deref(), &at, ns_labels) {
                            Coverage::Covered => {
                                verdict = Coverage::Covered;
                                break;
                            }
                            Coverage::Possibly(why) if verdict == Coverage::NotCovered => {
                                verdict = Coverage::Possibly(why);
                            }
                            _ => {}
                        }
                    }
                }
                if !named && verdict == Coverage::NotCovered {
                    return None;
                }
                let mut j = self.exception_json(x);
                if let Coverage::Possibly(why) = verdict {
                    j["possibly_why"] = json!(why);
                }
                Some(j)
            })
            .collect();
        let similar: Vec<String> = if items.is_empty() {
            suggestions(
                name,
                self.inv
                    .findings
                    .keys()
                    .filter(|k| k.namespace == namespace)
                    .map(|k| k.name.as_str()),
            )
        } else {
            Vec::new()
        };
        Answer {
            kind: "why-resource",
            data: json!({
                "resource": {"namespace": namespace, "kind": kind, "name": name},
                "items": items,
                "count": items.len(),
                "exceptions": exceptions,
                "similar": similar,
            }),
        }
    }

    fn in_scope(&self, scope: &Scope, ns: Option<&str>) -> bool {
        match (&scope.namespaces, ns) {
            (None, _) => true,
            (Some(list), Some(ns)) => list.iter().any(|n| n == ns),
            (Some(_), None) => false,
        }
    }

    fn status(&self, scope: &Scope) -> Answer {
        let today = self.now.with_timezone(&self.config.time_zone).date_naive();
        let mut items: Vec<(chrono::NaiveDate, Value)> = Vec::new();
        for p in self.inv.policies.iter().filter(|p| p.is_validating()) {
            let rollout = self.rollout(p);
            let Some(e) = rollout.enforce_on else {
                continue;
            };
            if e.date < today {
                continue;
            }
            let affected: Vec<_> = audit_failures(p, self.inv)
                .into_iter()
                .filter(|n| {
                    self.in_scope(scope, Some(n.name.as_str())) || scope.namespaces.is_none()
                })
                .collect();
            if affected.is_empty() {
                continue;
            }
            let (enforce_on, when) = self.dates(&rollout);
            let teams: Vec<TeamKey> = affected
                .iter()
                .filter_map(|n| owner_of(&n.name, self.inv, self.config).0.team)
                .collect();
            let triage = triage_view(
                self.config,
                self.triage,
                &self.inv.cluster,
                &p.reference,
                Some(&e),
                teams.iter().map(TeamKey::as_str),
            );
            items.push((
                e.date,
                json!({
                    "triage": triage,
                    "policy": p.label,
                    "title": p.title(),
                    "enforce_on": enforce_on,
                    "when": when,
                    "failing": affected.iter().map(|n| n.failing).sum::<u64>(),
                    "at_least": affected.iter().any(|n| n.at_least),
                    "namespaces": affected.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "),
                }),
            ));
        }
        items.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1["policy"].as_str().cmp(&b.1["policy"].as_str()))
        });
        let items: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
        Answer {
            kind: "status",
            data: json!({ "scope": scope.label, "count": items.len(), "items": items }),
        }
    }

    /// An exception as the reminders see it: owner, reason and dates from the configured
    /// annotation keys, expiry from `spec.expiresAt` or the TTL label (`plan::exceptions::view`).
    fn exception_json(&self, x: &crate::inventory::Exception) -> Value {
        let tz = self.config.time_zone;
        let (v, _) = crate::plan::exceptions::view(x, &self.config.exceptions.keys, tz);
        let day =
            |t: chrono::DateTime<chrono::Utc>| crate::model::time::show_day(t.with_timezone(&tz));
        let (until, source) = match (v.expires, v.review_by) {
            (Some(e), Some(r)) if r < e => (Some(day(r)), Some("review date")),
            (Some(e), _) => (Some(day(e)), v.expiry_source),
            (None, Some(r)) => (Some(day(r)), Some("review date")),
            (None, None) => (None, None),
        };
        json!({
            "name": x.name,
            "namespace": x.namespace.clone().unwrap_or_default(),
            "policies": x.policies.iter().map(|p| format!("`{}`", p.policy)).collect::<Vec<_>>().join(", "),
            "applies_to": crate::plan::exceptions::scope_words(x).unwrap_or_else(|| "every namespace".to_string()),
            "owner": v.owner,
            "reason": v.reason,
            "expires": until,
            "expires_from": source,
        })
    }

    fn exceptions(&self, scope: &Scope) -> Answer {
        let items: Vec<Value> = self
            .inv
            .exceptions
            .iter()
            .filter(|x| {
                scope.namespaces.is_none()
                    || self.in_scope(scope, x.namespace.as_deref())
                    || x.match_namespaces.iter().any(|p| {
                        scope
                            .namespaces
                            .iter()
                            .flatten()
                            .any(|ns| crate::inventory::selector::wildcard_match(p, ns))
                    })
            })
            .map(|x| self.exception_json(x))
            .collect();
        Answer {
            kind: "exceptions",
            data: json!({ "scope": scope.label, "count": items.len(), "items": items }),
        }
    }
}

/// The kind of the resource as reports spell it (users may type it in another case).
fn findings_kind(inv: &Inventory, namespace: &str, kind: &str, name: &str) -> Name {
    inv.findings
        .keys()
        .find(|k| k.namespace == namespace && k.name == name && k.kind.eq_ignore_ascii_case(kind))
        .map_or_else(|| kind.into(), |k| k.kind.clone())
}

/// What a policy is, in words, for engines other than Kyverno's ClusterPolicy: the Gatekeeper
/// constraint kind, the ValidatingAdmissionPolicy a binding binds.
fn engine_words(p: &Policy) -> Option<String> {
    use crate::inventory::PolicyKind;
    match (p.kind(), &p.reference.parent) {
        (PolicyKind::Constraint, Some(kind)) => {
            Some(format!("Gatekeeper constraint of kind {kind}"))
        }
        (PolicyKind::ValidatingAdmissionPolicyBinding, Some(vap)) => {
            Some(format!("binding of the ValidatingAdmissionPolicy {vap}"))
        }
        _ => None,
    }
}
