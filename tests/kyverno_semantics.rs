//! Kyverno's own semantics, checked against its Go code (named per test), on objects modelled
//! on the real ones in ../shared/fixtures: `plan`, `gate`, `check`, `render` and `/policy`
//! must agree on each case.

mod common;

use common::{at, config_from, fixture, inventory_from};
use forewarn::inventory::{Labels, Mode};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const NOW: &str = "2026-12-01T08:00:00+01:00";

const CONFIG: &str = r##"
time-zone: Europe/Berlin
schedule: "0 0 9 * * Mon-Fri"
platform: {channel: "#platform"}
teams:
  shop: {name: Shop, channel: "#shop"}
"##;

/// A snapshot directory holding `files`, plus the test config.
fn snapshot(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("snap")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.path().join("snap").join(name), text).expect("write");
    }
    std::fs::write(dir.path().join("forewarn.yaml"), CONFIG).expect("write config");
    dir
}

fn forewarn(dir: &Path, args: &[&str]) -> Output {
    common::forewarn_on(&dir.join("snap"), &dir.join("forewarn.yaml"), NOW, args)
}

fn out(o: &Output) -> String {
    common::printed(o)
}

fn plan_json(dir: &Path) -> Value {
    let o = forewarn(dir, &["plan", "--output", "json"]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)))
}

/// `/policy <text>` answered and rendered as the slash command does, as plain text.
fn slash(dir: &Path, text: &str) -> String {
    let config = forewarn::config::Config::load(&dir.join("forewarn.yaml")).expect("config");
    let inv = forewarn::inventory::snapshot::load_dir(&dir.join("snap")).expect("snapshot");
    let q = forewarn::chat::request::parse_question(text).expect("question");
    let caller = forewarn::chat::answer::Caller { team: None };
    let a = forewarn::chat::answer::answer(&inv, &config, &q, &caller, "/policy", at(NOW));
    let renderer = forewarn::render::Renderer::for_config(&config).expect("templates");
    let m = renderer.render_answer(a.kind, &a.data).expect("render");
    forewarn::render::to_text(&m)
}

fn announce_ids(plan: &Value) -> Vec<String> {
    plan["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter(|n| n["kind"] == "announce")
        .map(|n| n["id"].as_str().expect("id").to_string())
        .collect()
}

const SHOP_NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: shop}\n  annotations: {forewarn.dev/owner: shop}\n";

fn report(ns: &str, kind: &str, name: &str, policy: &str, rule: &str, result: &str) -> String {
    format!(
        "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata:\n  name: r-{kind}-{name}-{rule}\n  namespace: {ns}\nscope: {{apiVersion: apps/v1, kind: {kind}, name: {name}, namespace: {ns}}}\nresults:\n- {{policy: {policy}, rule: {rule}, result: {result}, message: m, source: kyverno, scored: true}}\n"
    )
}

// --- 2. autogen rules ---------------------------------------------------------------------------

/// The library's disallow-selinux (Audit) with its first rule set to Enforce at rule level.
fn selinux_with_enforced_rule() -> String {
    let text = std::fs::read_to_string(fixture(
        "kyverno-policies/pod-security/baseline/disallow-selinux/disallow-selinux.yaml",
    ))
    .expect("fixture");
    let text = text.replace(
        "      validate:\n        message: >-\n          Setting the SELinux type",
        "      validate:\n        failureAction: Enforce\n        message: >-\n          Setting the SELinux type",
    );
    assert!(text.contains("failureAction: Enforce"));
    text.replace(
        "    policies.kyverno.io/title",
        "    forewarn.dev/enforce-on: \"2026-12-14\"\n    policies.kyverno.io/title",
    )
}

/// kyverno `pkg/autogen/v1/rule.go`: `autogen-<rule>` and `autogen-cronjob-<rule>` (cut to 63
/// characters) keep their rule's failureAction and failureActionOverrides.
#[test]
fn autogen_rules_inherit_their_rules_mode() {
    let policy = selinux_with_enforced_rule();
    let inv = inventory_from(&[("p.yaml", &policy)]);
    let p = inv.policy("disallow-selinux").expect("policy");
    let none = Labels::new();
    for rule in [
        "selinux-type",
        "autogen-selinux-type",
        "autogen-cronjob-selinux-type",
    ] {
        assert_eq!(
            p.mode_for(Some(rule), "shop", &none),
            Mode::Enforce,
            "{rule}"
        );
    }
    assert_eq!(
        p.mode_for(Some("autogen-cronjob-selinux-user-role"), "shop", &none),
        Mode::Audit
    );

    // A rule name long enough to be cut: 63 bytes, as Kyverno cuts it.
    let long = "r".repeat(60);
    let cut = format!("autogen-cronjob-{long}")[..63].to_string();
    let text = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: long}}\nspec:\n  rules:\n  - name: {long}\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    validate: {{failureAction: Enforce, pattern: {{}}}}\n"
    );
    let inv = inventory_from(&[("p.yaml", &text)]);
    let p = inv.policy("long").expect("policy");
    assert_eq!(p.mode_for(Some(&cut), "shop", &none), Mode::Enforce);

    // The plan announces only the Audit rule's failures; the Deployment and CronJob failing the
    // Enforce rule's autogen rules are already blocked, not news.
    let dir = snapshot(&[
        ("policy.yaml", &policy),
        ("ns.yaml", SHOP_NS),
        (
            "reports.yaml",
            &[
                report(
                    "shop",
                    "Deployment",
                    "web",
                    "disallow-selinux",
                    "autogen-selinux-type",
                    "fail",
                ),
                report(
                    "shop",
                    "CronJob",
                    "nightly",
                    "disallow-selinux",
                    "autogen-cronjob-selinux-type",
                    "fail",
                ),
                report(
                    "shop",
                    "Deployment",
                    "api",
                    "disallow-selinux",
                    "autogen-selinux-user-role",
                    "fail",
                ),
            ]
            .join("---\n"),
        ),
    ]);
    let plan = plan_json(dir.path());
    let ids = announce_ids(&plan);
    assert!(
        ids.contains(&"announce/disallow-selinux/shop/T-7".to_string()),
        "{ids:?}"
    );
    let n = plan["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "announce")
        .unwrap();
    assert_eq!(n["namespaces"][0]["failing"], 1, "{n}");
    let names: Vec<&str> = n["namespaces"][0]["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api"]);
    // gate counts the same single resource.
    let o = forewarn(dir.path(), &["gate", "disallow-selinux"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("1 failing resource would be blocked"),
        "{}",
        out(&o)
    );
}

// --- 3. an override with no namespaces and no selector ----------------------------------------

/// kyverno `pkg/engine/api/engineresponse.go` (`matchOverride`): an override with neither
/// `namespaces` nor `namespaceSelector` applies in every namespace; an empty list in none.
#[test]
fn an_override_without_namespaces_or_selector_matches_everywhere() {
    let policy = selinux_with_enforced_rule().replace(
        "        failureAction: Enforce\n",
        "        failureAction: Enforce\n        failureActionOverrides:\n        - action: Audit\n",
    );
    let inv = inventory_from(&[("p.yaml", &policy)]);
    let p = inv.policy("disallow-selinux").expect("policy");
    let none = Labels::new();
    assert_eq!(p.mode_for(Some("selinux-type"), "shop", &none), Mode::Audit);
    assert_eq!(
        p.mode_for(Some("autogen-selinux-type"), "any", &none),
        Mode::Audit
    );

    let empty_list = policy.replace(
        "        - action: Audit\n",
        "        - action: Audit\n          namespaces: []\n",
    );
    // An explicitly empty list: the engine's matchOverride matches nothing, but the policy
    // cache (`pkg/policycache/cache.go`) takes it as every namespace and keeps the rule off
    // the blocking path — so it does not block anywhere.
    let inv = inventory_from(&[("p.yaml", &empty_list)]);
    let p = inv.policy("disallow-selinux").expect("policy");
    assert_eq!(p.mode_for(Some("selinux-type"), "shop", &none), Mode::Audit);

    // Namespaces and a selector: the engine needs both, the cache either; an Audit override
    // that either one matches keeps the rule from blocking there.
    let both = policy.replace(
        "        - action: Audit\n",
        "        - action: Audit\n          namespaces: [shop]\n          namespaceSelector: {matchLabels: {tier: legacy}}\n",
    );
    let inv = inventory_from(&[("p.yaml", &both)]);
    let p = inv.policy("disallow-selinux").expect("policy");
    let shop: Labels = [("team".to_string(), "shop".to_string())].into();
    let legacy: Labels = [("tier".to_string(), "legacy".to_string())].into();
    assert_eq!(p.mode_for(Some("selinux-type"), "shop", &shop), Mode::Audit);
    assert_eq!(
        p.mode_for(Some("selinux-type"), "other", &legacy),
        Mode::Audit
    );
    assert_eq!(
        p.mode_for(Some("selinux-type"), "other", &shop),
        Mode::Enforce
    );

    let dir = snapshot(&[
        ("policy.yaml", &policy),
        ("ns.yaml", SHOP_NS),
        (
            "reports.yaml",
            &report(
                "shop",
                "Pod",
                "web",
                "disallow-selinux",
                "selinux-type",
                "fail",
            ),
        ),
    ]);
    // The override keeps selinux-type in Audit everywhere, and a flip leaves overrides as they
    // are: Pod/web's failure is not blocked by the flip — not announced, not counted by gate,
    // listed as staying in Audit by override.
    let plan = plan_json(dir.path());
    assert!(
        !announce_ids(&plan).contains(&"announce/disallow-selinux/shop/T-7".to_string()),
        "{plan}"
    );
    let o = forewarn(dir.path(), &["gate", "disallow-selinux"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("stays in Audit by override: shop (shop): 1 failing"),
        "{}",
        out(&o)
    );
}

// --- 7. cleanup.kyverno.io/ttl -----------------------------------------------------------------

/// kyverno `pkg/controllers/ttl/utils.go` reads the label with kube-openapi's
/// `strfmt.ParseDuration` (`pkg/validation/strfmt/duration.go`): days and weeks are durations.
#[test]
fn ttl_in_days_and_weeks_is_an_expiry() {
    let exception = |ttl: &str| {
        format!(
            "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: x\n  namespace: shop\n  creationTimestamp: \"2026-11-20T00:00:00Z\"\n  labels: {{cleanup.kyverno.io/ttl: \"{ttl}\"}}\n  annotations: {{forewarn.dev/owner: shop, forewarn.dev/reason: r}}\nspec:\n  exceptions: [{{policyName: disallow-selinux, ruleNames: [selinux-type]}}]\n  match: {{any: [{{resources: {{kinds: [Pod], namespaces: [shop]}}}}]}}\n"
        )
    };
    let config = config_from(CONFIG);
    for (ttl, expires) in [
        ("30d", "2026-12-20T00:00:00Z"),
        ("2w", "2026-12-04T00:00:00Z"),
        ("1day", "2026-11-21T00:00:00Z"),
        ("10days", "2026-11-30T00:00:00Z"),
        ("1week", "2026-11-27T00:00:00Z"),
    ] {
        let inv = inventory_from(&[("x.yaml", &exception(ttl))]);
        let (v, problems) = forewarn::plan::exceptions::view(
            &inv.exceptions[0],
            &config.exceptions.keys,
            config.time_zone,
        );
        assert!(problems.is_empty(), "{ttl}: {problems:?}");
        assert_eq!(
            v.expires.map(|t| t.to_rfc3339()),
            Some(at(expires).to_utc().to_rfc3339()),
            "{ttl}"
        );
    }
    // check: no problem for 30d, one for a value Kyverno rejects too.
    let dir = snapshot(&[("x.yaml", &exception("30d"))]);
    let o = forewarn(dir.path(), &["check"]);
    assert!(!out(&o).contains("cleanup.kyverno.io/ttl"), "{}", out(&o));
    let dir = snapshot(&[("x.yaml", &exception("10ay"))]);
    let o = forewarn(dir.path(), &["check"]);
    assert!(
        out(&o).contains("metadata.labels.cleanup.kyverno.io/ttl"),
        "{}",
        out(&o)
    );
}

// --- 8. the guidance link ---------------------------------------------------------------------

/// A guidance annotation that is not a plain http(s) URL would break the Slack link
/// `<url|text>` (a `|` rewrites its text, a space ends it): it is an error and left out.
#[test]
fn a_guidance_that_is_not_a_url_is_an_error_and_no_link() {
    for bad in [
        "https://wiki.example.com/selinux|click here",
        "https://wiki.example.com/se linux",
        "wiki.example.com/selinux",
        "ftp://wiki.example.com/selinux",
        "https://",
    ] {
        let policy = selinux_with_enforced_rule().replace(
            "    policies.kyverno.io/title",
            &format!("    forewarn.dev/guidance: \"{bad}\"\n    policies.kyverno.io/title"),
        );
        let dir = snapshot(&[
            ("policy.yaml", &policy),
            ("ns.yaml", SHOP_NS),
            (
                "reports.yaml",
                &report(
                    "shop",
                    "Pod",
                    "web",
                    "disallow-selinux",
                    "selinux-user-role",
                    "fail",
                ),
            ),
        ]);
        let o = forewarn(dir.path(), &["check"]);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", out(&o));
        assert!(
            out(&o).contains("metadata.annotations.forewarn.dev/guidance"),
            "{bad}: {}",
            out(&o)
        );
        // The notice is still planned and rendered, without a guide link.
        let plan = plan_json(dir.path());
        assert!(!announce_ids(&plan).is_empty(), "{plan}");
        let o = forewarn(dir.path(), &["render"]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("Disallow SELinux"), "{text}");
        assert!(!text.contains("wiki.example.com"), "{bad}: {text}");
        let answer = slash(dir.path(), "why disallow-selinux");
        assert!(!answer.contains("wiki.example.com"), "{bad}: {answer}");
    }
    // A good one is a link everywhere.
    let good = "https://wiki.example.com/selinux?team=a&b=c";
    let policy = selinux_with_enforced_rule().replace(
        "    policies.kyverno.io/title",
        &format!("    forewarn.dev/guidance: \"{good}\"\n    policies.kyverno.io/title"),
    );
    let dir = snapshot(&[
        ("policy.yaml", &policy),
        ("ns.yaml", SHOP_NS),
        (
            "reports.yaml",
            &report(
                "shop",
                "Pod",
                "web",
                "disallow-selinux",
                "selinux-user-role",
                "fail",
            ),
        ),
    ]);
    let o = forewarn(dir.path(), &["check"]);
    assert!(out(&o).contains("0 errors, 0 warnings"), "{}", out(&o));
    assert!(slash(dir.path(), "why disallow-selinux").contains("https://wiki.example.com/selinux"));
}

// --- 1. exception coverage --------------------------------------------------------------------

const VPOL_DIR: &str =
    "kyverno/test/conformance/chainsaw/validating-policies/report/with-exception-skip-result";

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).expect("fixture")
}

/// Kyverno's ValidatingPolicy test, with an enforcement date, failing in `checkout`.
fn vpol_cluster(exception: &str) -> tempfile::TempDir {
    let policy = read(&format!("{VPOL_DIR}/policy.yaml")).replace(
        "  name: with-exception-skip-result\n",
        "  name: with-exception-skip-result\n  annotations:\n    forewarn.dev/enforce-on: \"2026-12-14\"\n",
    );
    // The fail report as Kyverno writes it, placed in a namespace.
    let report = read(&format!("{VPOL_DIR}/fail-report-assert.yaml")).replace(
        "metadata:\n",
        "metadata:\n  name: r1\n  namespace: checkout\n",
    );
    let ns = SHOP_NS.replace("name: shop", "name: checkout");
    snapshot(&[
        ("policy.yaml", &policy),
        ("ns.yaml", &ns),
        ("report.yaml", &report),
        ("exception.yaml", exception),
    ])
}

/// kyverno `pkg/cel/engine/exception.go` (`ListExceptions`: name and kind, not expired) and
/// `pkg/cel/policies/vpol/compiler/policy.go` (CEL matchConditions decide): forewarn cannot
/// evaluate CEL, so a failure named by such an exception is only possibly covered — never ready.
#[test]
fn a_cel_exception_is_only_possibly_covering() {
    let exception = read(&format!("{VPOL_DIR}/exception.yaml"));
    let dir = vpol_cluster(&exception);

    let o = forewarn(dir.path(), &["gate", "with-exception-skip-result"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("NOT READY"), "{text}");
    assert!(text.contains("1 possibly covered"), "{text}");
    assert!(text.contains("Deployment/bad-deployment-1"), "{text}");
    assert!(
        text.contains("exception exclude-skipped-deployment"),
        "{text}"
    );
    assert!(text.contains("matchConditions"), "{text}");
    assert!(
        text.contains("object.metadata.name == 'skipped-deployment'"),
        "{text}"
    );

    // plan: a readiness notice to the platform, rendered with the reason.
    let plan = plan_json(dir.path());
    let ids: Vec<&str> = plan["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"readiness/with-exception-skip-result/T-3"),
        "{ids:?}"
    );
    let o = forewarn(
        dir.path(),
        &["render", "--id", "readiness/with-exception-skip-result/T-3"],
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("possibly covered"), "{text}");
    assert!(text.contains("exclude-skipped-deployment"), "{text}");

    // /policy why says the same.
    let answer = slash(dir.path(), "why with-exception-skip-result");
    assert!(answer.contains("only possibly covered"), "{answer}");
    assert!(answer.contains("exclude-skipped-deployment"), "{answer}");
    let answer = slash(dir.path(), "why checkout/Deployment/bad-deployment-1");
    assert!(
        answer.contains("exclude-skipped-deployment` for"),
        "{answer}"
    );
    assert!(answer.contains("_may_ cover it"), "{answer}");

    // check: the exception's real scope, not "every namespace".
    let o = forewarn(dir.path(), &["check"]);
    let text = out(&o);
    assert!(text.contains("exclude-skipped-deployment"), "{text}");
    assert!(!text.contains("applies in every namespace"), "{text}");
    assert!(
        text.contains("spec.matchConditions: applies to resources where check-name: `object.metadata.name == 'skipped-deployment'`: CEL forewarn cannot evaluate"),
        "{text}"
    );
    let answer = slash(dir.path(), "exceptions");
    assert!(
        answer.contains(
            "applies to resources where check-name: `object.metadata.name == 'skipped-deployment'`"
        ),
        "{answer}"
    );
}

#[test]
fn a_cel_exception_for_another_kind_or_expired_covers_nothing() {
    let exception = read(&format!("{VPOL_DIR}/exception.yaml"));
    let other_kind = exception.replace("kind: ValidatingPolicy", "kind: ImageValidatingPolicy");
    let expired = exception.replace("spec:\n", "spec:\n  expiresAt: \"2026-11-01T00:00:00Z\"\n");
    for x in [other_kind, expired] {
        let dir = vpol_cluster(&x);
        let o = forewarn(dir.path(), &["gate", "with-exception-skip-result"]);
        let text = out(&o);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(
            text.contains("NOT READY — 1 failing resource would be blocked\n"),
            "{text}"
        );
    }
    // Without matchConditions it exempts every resource of the policy: covered, ready, and
    // hygiene calls it what it is.
    let everything: String = exception
        .lines()
        .filter(|l| {
            !l.contains("matchConditions") && !l.contains("check-name") && !l.contains("expression")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = vpol_cluster(&everything);
    let o = forewarn(dir.path(), &["gate", "with-exception-skip-result"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("READY"));
    let o = forewarn(dir.path(), &["check"]);
    assert!(out(&o).contains("every namespace"), "{}", out(&o));
}

/// kyverno `pkg/engine/utils/exceptions.go` (`checkMatchesResources`, `checkResourceDescription`)
/// and `api/kyverno/v2` (`Exception.Contains`: policy name and a matching rule name).
#[test]
fn a_kyverno_exception_covers_what_its_match_says() {
    // Modelled on Kyverno's exceptions/allows-rejects-creation test.
    let base =
        read("kyverno/test/conformance/chainsaw/exceptions/allows-rejects-creation/exception.yaml")
            .replace("policyName: require-labels", "policyName: disallow-selinux")
            .replace("- require-team", "- selinux-type")
            .replace("- ConfigMap", "- Pod")
            .replace(
                "metadata:\n  name: mynewpolex",
                "metadata:\n  name: mynewpolex\n  namespace: shop",
            );
    let policy =
        selinux_with_enforced_rule().replace("failureAction: Enforce", "failureAction: Audit");
    let reports = [
        report(
            "shop",
            "Pod",
            "emergency",
            "disallow-selinux",
            "selinux-type",
            "fail",
        ),
        report(
            "shop",
            "Deployment",
            "emergency",
            "disallow-selinux",
            "selinux-type",
            "fail",
        ),
        report(
            "shop",
            "Pod",
            "web",
            "disallow-selinux",
            "selinux-type",
            "fail",
        ),
        report(
            "shop",
            "Pod",
            "emergency",
            "disallow-selinux",
            "selinux-user-role",
            "fail",
        ),
    ]
    .join("---\n");
    let gate = |exception: &str| {
        let dir = snapshot(&[
            ("policy.yaml", &policy),
            ("ns.yaml", SHOP_NS),
            ("reports.yaml", &reports),
            ("exception.yaml", exception),
        ]);
        let o = forewarn(dir.path(), &["gate", "disallow-selinux"]);
        (o.status.code(), out(&o))
    };
    // Only the Pod called emergency, for the listed rule, is covered.
    {
        let dir = snapshot(&[
            ("policy.yaml", &policy),
            ("ns.yaml", SHOP_NS),
            ("reports.yaml", &reports),
            ("exception.yaml", &base),
        ]);
        let answer = slash(dir.path(), "why shop/Pod/emergency");
        assert!(answer.contains("`shop/mynewpolex` for"), "{answer}");
        assert!(!answer.contains("_may_"), "{answer}");
        let answer = slash(dir.path(), "why shop/Deployment/emergency");
        assert!(!answer.contains("mynewpolex"), "{answer}");
    }
    let (code, text) = gate(&base);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("3 failing resources would be blocked\n"),
        "{text}"
    );
    assert!(
        text.contains("        3        0        1  Deployment/emergency, Pod/emergency, Pod/web"),
        "{text}"
    );

    // A label selector on the resource: reports do not carry labels — possibly covered.
    let with_selector = base.replace(
        "          names:\n",
        "          selector: {matchLabels: {break-glass: \"true\"}}\n          names:\n",
    );
    let (code, text) = gate(&with_selector);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("1 possibly covered"), "{text}");
    assert!(
        text.contains("exception shop/mynewpolex: it matches on the resource's labels"),
        "{text}"
    );

    // A namespace selector is decided on the namespace's labels.
    let ns_selector = |team: &str| {
        base.replace(
            "          names:\n",
            &format!(
                "          namespaceSelector: {{matchLabels: {{team: {team}}}}}\n          names:\n"
            ),
        )
    };
    let (_, text) = gate(&ns_selector("shop"));
    assert!(
        text.contains("3 failing resources would be blocked\n"),
        "{text}"
    );
    let (_, text) = gate(&ns_selector("other"));
    assert!(
        text.contains("4 failing resources would be blocked\n"),
        "{text}"
    );

    // match.all: every entry must hold.
    let all = base.replace("    any:\n", "    all:\n");
    let (_, text) = gate(&all);
    assert!(
        text.contains("3 failing resources would be blocked\n"),
        "{text}"
    );

    // conditions are evaluated on the request: possibly covered.
    let conditions = format!(
        "{base}  conditions:\n    any:\n    - key: \"{{{{ request.object.metadata.labels.app || '' }}}}\"\n      operator: Equals\n      value: busybox\n"
    );
    let (_, text) = gate(&conditions);
    assert!(text.contains("1 possibly covered"), "{text}");
    assert!(text.contains("spec.conditions"), "{text}");

    // An empty ruleNames list names no rule (Exception.Contains).
    let no_rules = base.replace(
        "      ruleNames:\n        - selinux-type\n",
        "      ruleNames: []\n",
    );
    let (_, text) = gate(&no_rules);
    assert!(
        text.contains("4 failing resources would be blocked\n"),
        "{text}"
    );

    // A group/version in kinds: reports give no group here, so only possibly.
    let gvk = base.replace("- Pod", "- v1/Pod");
    let (_, text) = gate(&gvk);
    assert!(
        text.contains("3 failing resources would be blocked, 1 possibly covered"),
        "{text}"
    );
}

// --- 5. policies.kyverno.io/scored: "false" ----------------------------------------------------

/// kyverno `pkg/utils/report/results.go`: a failure of a policy annotated
/// `policies.kyverno.io/scored: "false"` is reported as `warn`; it is blocked all the same once
/// the policy enforces, so forewarn counts it as failing, and says why.
#[test]
fn warnings_of_an_unscored_policy_are_failures() {
    let policy = selinux_with_enforced_rule()
        .replace("failureAction: Enforce", "failureAction: Audit")
        .replace(
            "    policies.kyverno.io/title",
            "    policies.kyverno.io/scored: \"false\"\n    policies.kyverno.io/title",
        );
    let reports = [
        report(
            "shop",
            "Pod",
            "web",
            "disallow-selinux",
            "selinux-type",
            "warn",
        ),
        report(
            "shop",
            "Pod",
            "api",
            "disallow-selinux",
            "selinux-user-role",
            "warn",
        ),
    ]
    .join("---\n");
    let dir = snapshot(&[
        ("policy.yaml", &policy),
        ("ns.yaml", SHOP_NS),
        ("reports.yaml", &reports),
    ]);
    let plan = plan_json(dir.path());
    let n = plan["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "announce/disallow-selinux/shop/T-7")
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(n["namespaces"][0]["failing"], 2, "{n}");
    let o = forewarn(
        dir.path(),
        &["render", "--id", "announce/disallow-selinux/shop/T-7"],
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("2 resources"), "{text}");
    assert!(text.contains("as *warnings*"), "{text}");
    assert!(text.contains("Pod/web"), "{text}");
    let o = forewarn(dir.path(), &["gate", "disallow-selinux"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("2 failing resources would be blocked"),
        "{}",
        out(&o)
    );
    let answer = slash(dir.path(), "why disallow-selinux");
    assert!(
        answer.contains("as *warnings*") || answer.contains("as warnings"),
        "{answer}"
    );
    assert!(answer.contains("2 failing resources"), "{answer}");
    let answer = slash(dir.path(), "why shop/Pod/web");
    assert!(answer.contains("fail"), "{answer}");

    // The same warnings of a scored policy stay warnings: nothing to announce.
    let scored = policy.replace("policies.kyverno.io/scored: \"false\"\n    ", "");
    let dir = snapshot(&[
        ("policy.yaml", &scored),
        ("ns.yaml", SHOP_NS),
        ("reports.yaml", &reports),
    ]);
    assert!(announce_ids(&plan_json(dir.path())).is_empty());
    let o = forewarn(dir.path(), &["gate", "disallow-selinux"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

// --- 4. overrides and Namespace objects -------------------------------------------------------

/// kyverno `pkg/webhooks/resource/handlers.go`: for a Namespace object the namespace labels are
/// not looked up, and `matchOverride` (`pkg/engine/api/engineresponse.go`) compares the
/// override's namespaces with the object's own (empty) namespace. So an override naming the
/// namespace, or selecting it by label, does not apply to the Namespace object itself.
#[test]
fn overrides_do_not_apply_to_namespace_objects_by_their_own_name() {
    let policy = |overrides: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-ns-owner\n  annotations: {{forewarn.dev/enforce-on: \"2026-12-14\"}}\nspec:\n  validationFailureAction: Enforce\n  validationFailureActionOverrides:\n{overrides}  rules:\n  - name: check-owner\n    match: {{any: [{{resources: {{kinds: [Namespace, ConfigMap]}}}}]}}\n    validate: {{message: owner label required, pattern: {{metadata: {{labels: {{owner: \"?*\"}}}}}}}}\n"
        )
    };
    let ns_report = "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: ClusterPolicyReport\nmetadata: {name: ns-shop}\nscope: {apiVersion: v1, kind: Namespace, name: shop}\nresults:\n- {policy: require-ns-owner, rule: check-owner, result: fail, message: owner label required, source: kyverno}\n";
    let cm_report = report(
        "shop",
        "ConfigMap",
        "settings",
        "require-ns-owner",
        "check-owner",
        "fail",
    );
    let run = |overrides: &str| {
        let dir = snapshot(&[
            ("policy.yaml", &policy(overrides)),
            ("ns.yaml", SHOP_NS),
            ("reports.yaml", &format!("{ns_report}---\n{cm_report}")),
        ]);
        let plan = plan_json(dir.path());
        let announced = plan["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "announce");
        let gate = forewarn(dir.path(), &["gate", "require-ns-owner"]);
        let why = slash(dir.path(), "why shop/Namespace/shop");
        (announced, out(&gate), why)
    };
    // The spec already enforces; what audits does so by override, which a flip leaves as it
    // is: nothing is announced, and gate lists what stays in Audit. By name: the ConfigMap in
    // shop audits; the Namespace object shop is enforced already.
    for overrides in [
        "  - {action: Audit, namespaces: [shop]}\n",
        "  - {action: Audit, namespaceSelector: {matchLabels: {team: shop}}}\n",
    ] {
        let (announced, gate, why) = run(overrides);
        assert!(!announced, "{overrides}");
        assert!(
            gate.contains("stays in Audit by override: shop (shop): 1 failing"),
            "{gate}"
        );
        assert!(why.contains("Enforce"), "{why}");
    }
    // A wildcard matches the empty namespace too, and an override with neither field matches
    // everything: both the ConfigMap and the Namespace object audit.
    for overrides in [
        "  - {action: Audit, namespaces: [\"*\"]}\n",
        "  - {action: Audit}\n",
    ] {
        let (announced, gate, why) = run(overrides);
        assert!(!announced, "{overrides}");
        assert!(
            gate.contains("stays in Audit by override: shop (shop): 2 failing"),
            "{gate}"
        );
        assert!(why.contains("Audit"), "{why}");
    }
}

/// A label selector in an exception is decided for a Namespace object, whose labels forewarn
/// reads (kyverno `pkg/engine/utils/exceptions.go`, `checkResourceDescription`: `selector` on
/// the resource's own labels).
#[test]
fn an_exception_selecting_a_namespace_by_its_labels_is_decided() {
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-ns-owner\n  annotations: {forewarn.dev/enforce-on: \"2026-12-14\"}\nspec:\n  validationFailureAction: Audit\n  rules:\n  - name: check-owner\n    match: {any: [{resources: {kinds: [Namespace]}}]}\n    validate: {message: owner label required, pattern: {metadata: {labels: {owner: \"?*\"}}}}\n";
    let ns_report = "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: ClusterPolicyReport\nmetadata: {name: ns-shop}\nscope: {apiVersion: v1, kind: Namespace, name: shop}\nresults:\n- {policy: require-ns-owner, rule: check-owner, result: fail, message: owner label required, source: kyverno}\n";
    let exception = |team: &str| {
        format!(
            "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {{name: ns-owner-later, namespace: kyverno}}\nspec:\n  exceptions: [{{policyName: require-ns-owner, ruleNames: [check-owner]}}]\n  match:\n    any:\n    - resources:\n        kinds: [Namespace]\n        selector: {{matchLabels: {{team: {team}}}}}\n"
        )
    };
    for (team, ready) in [("shop", true), ("other", false)] {
        let dir = snapshot(&[
            ("policy.yaml", policy),
            ("ns.yaml", SHOP_NS),
            ("report.yaml", ns_report),
            ("exception.yaml", &exception(team)),
        ]);
        let o = forewarn(dir.path(), &["gate", "require-ns-owner"]);
        let text = out(&o);
        assert_eq!(
            o.status.code(),
            Some(if ready { 0 } else { 1 }),
            "{team}: {text}"
        );
        assert!(!text.contains("possibly"), "{text}");
    }
}
