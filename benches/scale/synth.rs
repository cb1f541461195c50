//! A deterministic generator of synthetic clusters for the scale benchmark.
//!
//! Writes what `kubectl get ... -o json` lists on a cluster running Kyverno: ClusterPolicies
//! shaped like the policy library's (annotations, Audit/Enforce, several rules, the odd
//! per-namespace override), Namespaces with owner annotations, PolicyExceptions, and one
//! `wgpolicyk8s.io/v1alpha2` PolicyReport per resource with one result per matching rule.
//! The same seed and sizes always give the same bytes.
//!
//! Failures are correlated the way they are in real clusters: a team's workloads come from
//! the same chart, so a namespace either meets a policy with all its resources or fails it
//! with most of them.

use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub namespaces: usize,
    pub policies: usize,
    pub results: usize,
    /// Report files (`kubectl get policyreport -n ... -o json` per group of namespaces).
    pub files: usize,
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub reports: usize,
    pub results: usize,
    pub failing: usize,
    pub bytes: u64,
    pub files: usize,
}

/// SplitMix64: small, fast and good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5eed_f00d_0a11_c0de_u64.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn uid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// A stable hash of a few numbers, for per-pair decisions that must not depend on order.
fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut r = Rng::new(seed ^ a.wrapping_mul(0x1000_0000_01b3) ^ b.rotate_left(29));
    r.next()
}

const AREAS: &[&str] = &[
    "image",
    "probe",
    "label",
    "volume",
    "network",
    "secret",
    "service",
    "ingress",
    "resource",
    "runtime",
    "registry",
    "storage",
    "account",
    "capability",
    "port",
    "sysctl",
];
const VERBS: &[&str] = &[
    "require", "restrict", "disallow", "check", "limit", "enforce",
];
const TOPICS: &[&str] = &[
    "digest",
    "owner-label",
    "readiness",
    "liveness",
    "host-path",
    "pull-policy",
    "cpu-limits",
    "memory-requests",
    "root-user",
    "seccomp",
    "apparmor",
    "privileged",
    "host-network",
    "node-port",
    "external-ips",
    "default-namespace",
    "latest-tag",
    "signed-images",
    "read-only-rootfs",
    "automount-token",
    "proc-mount",
    "selinux",
    "priority-class",
    "topology-spread",
    "pdb",
    "replicas",
    "annotations",
    "cost-center",
    "env-label",
];
const CATEGORIES: &[&str] = &[
    "Pod Security Standards (Baseline)",
    "Pod Security Standards (Restricted)",
    "Best Practices",
    "Multi-Tenancy",
    "Supply Chain",
    "Cost Management",
];
const SEVERITIES: &[&str] = &["low", "medium", "Medium", "high", "critical"];
const TEAMS: &[&str] = &[
    "payments", "checkout", "search", "identity", "ledger", "growth", "media", "ads", "risk",
    "catalog", "shipping", "billing", "support", "mobile", "data", "ml", "infra", "edge",
];
const APPS: &[&str] = &[
    "api", "web", "worker", "jobs", "gateway", "cache", "stream", "batch", "cron", "ui",
];
const POD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
];
/// The resources of a namespace, in the order they appear; the first one is a Deployment so
/// that even a small namespace has results for every workload policy.
const RESOURCE_CYCLE: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("networking.k8s.io/v1", "Ingress"),
    ("v1", "Pod"),
    ("v1", "ConfigMap"),
    ("batch/v1", "CronJob"),
    ("v1", "Pod"),
    ("apps/v1", "StatefulSet"),
];

/// One generated policy.
pub struct GenPolicy {
    pub name: String,
    pub rules: Vec<String>,
    pub kinds: Vec<&'static str>,
    /// Per mille of namespaces failing it.
    pub fail_rate: u64,
    pub value: Value,
}

/// One generated namespace.
pub struct GenNamespace {
    pub name: String,
    pub team: Option<String>,
}

pub fn policies(sizes: &Sizes) -> Vec<GenPolicy> {
    let mut rng = Rng::new(sizes.seed);
    let mut out = Vec::with_capacity(sizes.policies);
    let mut seen = std::collections::BTreeSet::new();
    let mut i = 0usize;
    while out.len() < sizes.policies {
        let base = format!(
            "{}-{}-{}",
            rng.pick(VERBS),
            rng.pick(AREAS),
            rng.pick(TOPICS)
        );
        i += 1;
        let name = if seen.contains(&base) {
            format!("{base}-{i}")
        } else {
            base
        };
        seen.insert(name.clone());
        // Four in five policies are about workloads (with Kyverno's autogen for controllers).
        let kinds: Vec<&'static str> = match rng.below(10) {
            0 => vec!["Service"],
            1 => vec!["Ingress"],
            2 if rng.chance(500) => vec!["ConfigMap"],
            _ => POD_KINDS.to_vec(),
        };
        let rule_count = 1 + usize::from(rng.chance(300)) + usize::from(rng.chance(100));
        let rules: Vec<String> = (0..rule_count)
            .map(|r| match r {
                0 => format!("check-{}", rng.pick(TOPICS)),
                _ => format!("check-{}-{r}", rng.pick(AREAS)),
            })
            .collect();
        let enforce = rng.chance(150);
        let mut annotations = serde_json::Map::new();
        let topic = name
            .split_once('-')
            .map_or(name.as_str(), |(_, rest)| rest)
            .replace('-', " ");
        annotations.insert(
            "policies.kyverno.io/title".into(),
            json!(format!(
                "{} {}",
                title_case(name.split('-').next().unwrap_or("")),
                topic
            )),
        );
        annotations.insert(
            "policies.kyverno.io/category".into(),
            json!(rng.pick(CATEGORIES)),
        );
        annotations.insert(
            "policies.kyverno.io/severity".into(),
            json!(rng.pick(SEVERITIES)),
        );
        annotations.insert(
            "policies.kyverno.io/subject".into(),
            json!(kinds.join(", ")),
        );
        annotations.insert(
            "policies.kyverno.io/description".into(),
            json!(format!(
                "Synthetic policy number {i} about {topic}. Workloads that do not follow it are reported \
                 in Audit mode until the platform team switches it to Enforce."
            )),
        );
        if !enforce && rng.chance(700) {
            // Enforcement dates from a few days to two months after the benchmark's `now`.
            let day = 3 + rng.below(60) as i64;
            let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .expect("valid date")
                .checked_add_days(chrono::Days::new(day as u64))
                .expect("valid date");
            annotations.insert("forewarn.dev/enforce-on".into(), json!(date.to_string()));
            annotations.insert("forewarn.dev/contact".into(), json!("#platform-policy"));
            annotations.insert(
                "forewarn.dev/what-to-do".into(),
                json!(format!(
                    "Fix the {topic} settings in your chart, then redeploy."
                )),
            );
        }
        let rule_values: Vec<Value> = rules
            .iter()
            .enumerate()
            .map(|(r, rule)| {
                let mut validate = json!({
                    "message": format!("The {topic} setting is required ({rule})."),
                    "pattern": {"spec": {"=(securityContext)": {"=(example)": "?*"}}},
                });
                if r == 0 && rng.chance(100) {
                    validate["failureActionOverrides"] = json!([
                        {"action": "Enforce", "namespaces": [format!("{}-*", rng.pick(TEAMS))]}
                    ]);
                }
                json!({
                    "name": rule,
                    "match": {"any": [{"resources": {"kinds": kinds}}]},
                    "validate": validate,
                })
            })
            .collect();
        let fail_rate = [10, 30, 60, 120, 250][rng.below(5)];
        let value = json!({
            "apiVersion": "kyverno.io/v1",
            "kind": "ClusterPolicy",
            "metadata": {
                "name": name,
                "annotations": annotations,
                "creationTimestamp": "2026-06-01T10:00:00Z",
                "generation": 1,
                "resourceVersion": format!("{}", 1000 + i),
                "uid": rng.uid(),
            },
            "spec": {
                "validationFailureAction": if enforce { "Enforce" } else { "Audit" },
                "background": true,
                "rules": rule_values,
            },
        });
        out.push(GenPolicy {
            name,
            rules,
            kinds,
            fail_rate,
            value,
        });
    }
    out
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub fn team_count(namespaces: usize) -> usize {
    (namespaces / 25).clamp(1, 400)
}

pub fn team_key(t: usize) -> String {
    format!("{}-{t}", TEAMS[t % TEAMS.len()])
}

pub fn namespaces(sizes: &Sizes) -> Vec<GenNamespace> {
    let mut rng = Rng::new(sizes.seed ^ 0xa5a5);
    let teams = team_count(sizes.namespaces);
    (0..sizes.namespaces)
        .map(|i| {
            let t = rng.below(teams);
            let name = format!("{}-{}-{i}", TEAMS[t % TEAMS.len()], rng.pick(APPS));
            // About 3% of namespaces have no owner.
            let team = (!rng.chance(30)).then(|| team_key(t));
            GenNamespace { name, team }
        })
        .collect()
}

/// Writes the snapshot into `dir/snapshot` and a matching config into `dir/forewarn.yaml`.
pub fn generate(dir: &Path, sizes: &Sizes) -> std::io::Result<Written> {
    let snap = dir.join("snapshot");
    if snap.exists() {
        std::fs::remove_dir_all(&snap)?;
    }
    std::fs::create_dir_all(&snap)?;
    let pols = policies(sizes);
    let nss = namespaces(sizes);
    let mut written = Written::default();

    let list = |items: Vec<Value>| json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}});
    written.bytes += write_json(
        &snap.join("clusterpolicies.json"),
        &list(pols.iter().map(|p| p.value.clone()).collect()),
    )?;
    let ns_items: Vec<Value> = nss
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let mut annotations = serde_json::Map::new();
            if let Some(t) = &ns.team {
                annotations.insert("forewarn.dev/owner".into(), json!(t));
            }
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns.name,
                    "annotations": annotations,
                    "labels": {
                        "kubernetes.io/metadata.name": ns.name,
                        "env": if i % 3 == 0 { "prod" } else { "staging" },
                    },
                    "creationTimestamp": "2026-01-15T08:00:00Z",
                    "resourceVersion": format!("{}", 50_000 + i),
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            })
        })
        .collect();
    written.bytes += write_json(&snap.join("namespaces.json"), &list(ns_items))?;

    // One exception per 40 namespaces, for a policy the namespace fails.
    let mut rng = Rng::new(sizes.seed ^ 0x0e0e);
    let mut exceptions: Vec<(usize, usize, String)> = Vec::new();
    let mut ex_items = Vec::new();
    for (n, ns) in nss.iter().enumerate().step_by(40) {
        let Some(p) = (0..pols.len()).find(|&p| fails(sizes.seed, &pols[p], n)) else {
            continue;
        };
        let name = format!("{}-{}-legacy", ns.name, pols[p].name);
        ex_items.push(json!({
            "apiVersion": "kyverno.io/v2",
            "kind": "PolicyException",
            "metadata": {
                "name": name,
                "namespace": ns.name,
                "annotations": {
                    "forewarn.dev/owner": ns.team.clone().unwrap_or_else(|| "platform".into()),
                    "forewarn.dev/reason": "The legacy chart is being replaced this quarter.",
                    "forewarn.dev/review-by": "2027-02-01",
                },
                "creationTimestamp": "2026-09-01T12:00:00Z",
                "uid": rng.uid(),
            },
            "spec": {
                "exceptions": [{"policyName": pols[p].name, "ruleNames": pols[p].rules}],
                "match": {"any": [{"resources": {
                    "kinds": ["Pod", "Deployment", "ReplicaSet"],
                    "namespaces": [ns.name],
                    "names": ["*"],
                }}]},
            },
        }));
        exceptions.push((n, p, name));
    }
    written.bytes += write_json(&snap.join("policyexceptions.json"), &list(ex_items))?;

    // How many resources each namespace gets: round-robin over namespaces until the results
    // are spent, so every namespace has its first (workload) resource before any has two.
    let per_kind = |kind: &str| -> usize {
        pols.iter()
            .filter(|p| p.kinds.contains(&kind))
            .map(|p| p.rules.len())
            .sum()
    };
    let cycle_results: Vec<usize> = RESOURCE_CYCLE.iter().map(|(_, k)| per_kind(k)).collect();
    let mut resources = vec![0usize; nss.len()];
    let mut budget = sizes.results;
    'rounds: loop {
        let mut progressed = false;
        for r in resources.iter_mut() {
            if budget == 0 {
                break 'rounds;
            }
            let n = cycle_results[*r % RESOURCE_CYCLE.len()];
            *r += 1;
            budget = budget.saturating_sub(n);
            progressed |= n > 0;
        }
        if !progressed {
            break;
        }
    }

    let files = sizes.files.clamp(1, nss.len().max(1));
    let per_file = nss.len().div_ceil(files);
    let mut remaining = sizes.results;
    for (f, chunk) in nss.chunks(per_file.max(1)).enumerate() {
        let mut items = Vec::new();
        for (j, ns) in chunk.iter().enumerate() {
            let n = f * per_file + j;
            let mut rng = Rng::new(sizes.seed ^ ((n as u64) << 20));
            for r in 0..resources[n] {
                if remaining == 0 {
                    break;
                }
                let (api, kind) = RESOURCE_CYCLE[r % RESOURCE_CYCLE.len()];
                let res_name =
                    format!("{}-{}", ns.name, kind.to_ascii_lowercase()) + &format!("-{r}");
                let uid = rng.uid();
                let mut results = Vec::new();
                let mut summary = [0u64; 5]; // pass fail warn error skip
                for (p, pol) in pols.iter().enumerate() {
                    if !pol.kinds.contains(&kind) {
                        continue;
                    }
                    let excepted = exceptions
                        .iter()
                        .find(|(en, ep, _)| *en == n && *ep == p)
                        .map(|(_, _, name)| name.as_str());
                    let failing = fails(sizes.seed, pol, n);
                    for rule in &pol.rules {
                        if remaining == 0 {
                            break;
                        }
                        remaining -= 1;
                        let (outcome, message) = if let Some(x) = excepted.filter(|_| failing) {
                            (
                                4,
                                format!(
                                    "rule {rule} skipped due to policy exception {}/{x}",
                                    ns.name
                                ),
                            )
                        } else if failing && !rng.chance(100) {
                            (
                                1,
                                format!(
                                    "validation error: The {} setting is required ({rule}). rule {rule} failed at path /spec/template/spec/containers/0/securityContext/",
                                    pol.name
                                ),
                            )
                        } else if rng.chance(2) {
                            (
                                3,
                                format!(
                                    "failed to evaluate rule {rule}: variable substitution failed"
                                ),
                            )
                        } else if rng.chance(5) {
                            (2, format!("rule {rule} passed with warnings"))
                        } else {
                            (0, format!("validation rule '{rule}' passed."))
                        };
                        summary[outcome] += 1;
                        let mut properties = json!({"process": "background scan"});
                        if outcome == 4
                            && let Some(x) = excepted
                        {
                            properties["exceptions"] = json!(x);
                        }
                        results.push(json!({
                            "message": message,
                            "policy": pol.name,
                            "properties": properties,
                            "result": OUTCOMES[outcome],
                            "rule": rule,
                            "scored": true,
                            "source": "kyverno",
                            "timestamp": {"nanos": 0, "seconds": 1_795_680_000u64 + rng.below(86_400) as u64},
                        }));
                    }
                }
                if results.is_empty() {
                    continue;
                }
                written.results += results.len();
                written.failing += summary[1] as usize;
                written.reports += 1;
                items.push(json!({
                    "apiVersion": "wgpolicyk8s.io/v1alpha2",
                    "kind": "PolicyReport",
                    "metadata": {
                        "creationTimestamp": "2026-11-30T07:12:00Z",
                        "generation": 2,
                        "labels": {"app.kubernetes.io/managed-by": "kyverno"},
                        "name": uid,
                        "namespace": ns.name,
                        "ownerReferences": [{"apiVersion": api, "kind": kind, "name": res_name, "uid": uid}],
                        "resourceVersion": format!("{}", 900_000 + written.reports),
                        "uid": rng.uid(),
                    },
                    "results": results,
                    "scope": {"apiVersion": api, "kind": kind, "name": res_name, "namespace": ns.name, "uid": uid},
                    "summary": {"error": summary[3], "fail": summary[1], "pass": summary[0], "skip": summary[4], "warn": summary[2]},
                }));
            }
        }
        written.bytes += write_json(
            &snap.join(format!("policyreports-{f:03}.json")),
            &list(items),
        )?;
        written.files += 1;
    }
    written.files += 3;

    // A config naming every team, so owners resolve as they would in production.
    let mut config = String::from(
        "# Generated by the scale benchmark.\ntime-zone: Europe/Berlin\nschedule: \"0 0 9 * * Mon-Fri\"\nmilestones: [14, 7, 3, 1, 0]\nplatform:\n  channel: \"#platform-policy\"\n  contact: \"#platform-policy\"\nteams:\n",
    );
    for t in 0..team_count(sizes.namespaces) {
        let key = team_key(t);
        config.push_str(&format!(
            "  {key}:\n    name: Team {key}\n    channel: \"#{key}\"\n    contact: \"@{key}-lead\"\n"
        ));
    }
    std::fs::write(dir.join("forewarn.yaml"), config)?;
    Ok(written)
}

const OUTCOMES: [&str; 5] = ["pass", "fail", "warn", "error", "skip"];

/// Whether namespace `n` fails `policy` (all its resources do; decided per pair).
fn fails(seed: u64, policy: &GenPolicy, n: usize) -> bool {
    let h = mix(
        seed,
        n as u64,
        policy.name.len() as u64 * 131 + policy.rules.len() as u64,
    ) ^ policy
        .name
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    mix(seed, h, 7) % 1000 < policy.fail_rate
}

/// Writes `value` the way kubectl does (4-space indentation); returns the bytes written.
fn write_json(path: &Path, value: &Value) -> std::io::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut ser).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The report files of `dir/snapshot` as one file each way a person dumps them —
/// `kubectl get policyreports -A -o json` (one JSON `List`) and `-o yaml` (one block-YAML
/// `List`) — in `dir/one-json` and `dir/one-yaml`, beside copies of the other files. Returns
/// the bytes of the two dumps.
pub fn one_file(dir: &Path) -> std::io::Result<(u64, u64)> {
    let snap = dir.join("snapshot");
    let mut reports = Vec::new();
    let json_dir = dir.join("one-json");
    let yaml_dir = dir.join("one-yaml");
    for d in [&json_dir, &yaml_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
        std::fs::create_dir_all(d)?;
    }
    let mut names: Vec<_> = std::fs::read_dir(&snap)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for path in names {
        let name = path.file_name().unwrap_or_default().to_owned();
        if name.to_string_lossy().starts_with("policyreports") {
            reports.push(path);
        } else {
            std::fs::copy(&path, json_dir.join(&name))?;
            std::fs::copy(&path, yaml_dir.join(&name))?;
        }
    }
    let json_path = json_dir.join("policyreports.json");
    let yaml_path = yaml_dir.join("policyreports.yaml");
    let mut json = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&json_path)?);
    let mut yaml = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&yaml_path)?);
    json.write_all(b"{\n    \"apiVersion\": \"v1\",\n    \"items\": [")?;
    yaml.write_all(b"apiVersion: v1\nitems:\n")?;
    let mut first = true;
    for path in reports {
        let list: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        for item in list["items"].as_array().into_iter().flatten() {
            json.write_all(if first { b"\n        " } else { b",\n        " })?;
            first = false;
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut text = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut text, formatter);
            serde::Serialize::serialize(item, &mut ser).map_err(std::io::Error::other)?;
            // Indented as kubectl indents an item of the list.
            let text = String::from_utf8_lossy(&text).replace('\n', "\n        ");
            json.write_all(text.as_bytes())?;
            let doc = serde_saphyr::to_string(item).map_err(std::io::Error::other)?;
            for (k, line) in doc.lines().enumerate() {
                yaml.write_all(if k == 0 { b"- " } else { b"  " })?;
                yaml.write_all(line.as_bytes())?;
                yaml.write_all(b"\n")?;
            }
        }
    }
    json.write_all(b"\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n")?;
    yaml.write_all(b"kind: List\nmetadata:\n  resourceVersion: \"\"\n")?;
    json.flush()?;
    yaml.flush()?;
    Ok((
        std::fs::metadata(&json_path)?.len(),
        std::fs::metadata(&yaml_path)?.len(),
    ))
}
