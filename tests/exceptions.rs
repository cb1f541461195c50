//! Exceptions on real objects: the three annotation styles found in the shared fixtures, read
//! when their keys are configured; each hygiene finding; Kyverno's own TTL test pods; and which
//! resources the example cluster's exception covers.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use forewarn::config::ExceptionKeys;
use forewarn::inventory::snapshot::load_dir;
use forewarn::inventory::{Exception, Inventory};
use forewarn::plan::exceptions::{Hygiene, covers, findings, is_active, parse_ttl, view};

#[macro_use]
mod common;
use common::{config_from, fixture, inventory_from as inventory};

fn read_fixture(rel: &str) -> String {
    let path = fixture(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn only_exception(inv: &Inventory) -> &Exception {
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(inv.exceptions.len(), 1, "{:?}", inv.exceptions);
    &inv.exceptions[0]
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .with_timezone(&Utc)
}

fn keys(owner: &[&str], reason: &[&str], review_by: &[&str]) -> ExceptionKeys {
    let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let mut k = ExceptionKeys::defaults("forewarn.dev/");
    k.owner.extend(own(owner));
    k.reason.extend(own(reason));
    k.review_by.extend(own(review_by));
    k
}

fn kinds(found: &[(Hygiene, String)]) -> Vec<Hygiene> {
    found.iter().map(|(h, _)| *h).collect()
}

const ANNOTATIONS: &str = "kyverno/exception-annotations";

// --- the three real annotation styles ---------------------------------------------------------

#[test]
fn break_glass_style() {
    needs_fixtures!();
    let text = read_fixture(&format!("{ANNOTATIONS}/break-glass.kyverno-v2.yaml"));
    let inv = inventory(&[("break-glass.yaml", &text)]);
    let x = only_exception(&inv);

    // forewarn's default keys find nothing on it.
    let (plain, problems) = view(x, &ExceptionKeys::defaults("forewarn.dev/"), Tz::UTC);
    assert!(problems.is_empty());
    assert_eq!((plain.owner.as_deref(), plain.due), (None, None));

    // With the cluster's keys configured, owner and the break-glass expiry (as a review date).
    let k = keys(
        &["security.break-glass/requested-by"],
        &[],
        &["security.break-glass/expires-at"],
    );
    let (v, problems) = view(x, &k, Tz::UTC);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v.id, "policy-exceptions/break-glass-example");
    assert_eq!(v.owner.as_deref(), Some("application-team"));
    assert_eq!(v.reason, None);
    assert_eq!(v.review_by, Some(utc("2026-12-31T23:59:59Z")));
    assert_eq!((v.expires, v.expiry_source), (None, None));
    assert_eq!(v.due, v.review_by);

    // It names its namespace (production) and its policy is not in this inventory.
    let found = findings(x, &v, &inv, 90, utc("2026-12-01T08:00:00Z"));
    assert_eq!(
        kinds(&found),
        [Hygiene::NoReason, Hygiene::UnknownPolicy],
        "{found:?}"
    );
    assert!(found[1].1.contains("verify-signature"), "{found:?}");
    // A review date is not an expiry: still active after it.
    assert!(is_active(&v, utc("2027-02-01T00:00:00Z")));
}

#[test]
fn sre_io_style() {
    needs_fixtures!();
    let text = read_fixture(&format!(
        "{ANNOTATIONS}/sre-io.neuvector.kyverno-v2beta1.yaml"
    ));
    let inv = inventory(&[("sre-io.yaml", &text)]);
    let x = only_exception(&inv);
    let k = keys(
        &["sre.io/exception-approver"],
        &["sre.io/exception-reason"],
        &["sre.io/exception-expiry"],
    );
    let (v, problems) = view(x, &k, Tz::UTC);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v.id, "neuvector/neuvector-enforcer-privileged");
    assert_eq!(v.owner.as_deref(), Some("platform-team"));
    assert!(
        v.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("NeuVector enforcer DaemonSet requires privileged")),
        "{v:?}"
    );
    assert_eq!(v.review_by, Some(utc("2027-01-01T00:00:00Z")));
    assert_eq!(v.due, v.review_by);

    // A plain date is midnight in the configured zone.
    let (berlin, _) = view(x, &k, "Europe/Berlin".parse().unwrap());
    assert_eq!(berlin.review_by, Some(utc("2026-12-31T23:00:00Z")));

    // Its three policies are not in this inventory; 31 days out is within 90.
    let found = findings(x, &v, &inv, 90, utc("2026-12-01T00:00:00Z"));
    assert_eq!(kinds(&found), [Hygiene::UnknownPolicy; 3], "{found:?}");
    // Seven months out is too far for the 90 days its own README asks for.
    let found = findings(x, &v, &inv, 90, utc("2026-06-01T00:00:00Z"));
    assert!(kinds(&found).contains(&Hygiene::ReviewTooFar), "{found:?}");
}

#[test]
fn backstage_style() {
    needs_fixtures!();
    let text = read_fixture(&format!(
        "{ANNOTATIONS}/backstage-io.terraform-heredoc.kyverno-v2beta1.yaml"
    ));
    // A Terraform heredoc, not YAML: the reader reports it as one problem.
    let raw = inventory(&[("backstage.yaml", &text)]);
    assert_eq!(raw.problems.len(), 1, "{:?}", raw.problems);
    assert!(raw.exceptions.is_empty());

    // What Terraform would apply: the heredoc without its indent, with the variable filled in.
    let applied: String = text
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("${var.namespace}", "linkerd");
    let inv = inventory(&[("backstage-applied.yaml", &applied)]);
    let x = only_exception(&inv);
    let k = keys(
        &["backstage.io/owner"],
        &["backstage.io/reason"],
        &["backstage.io/review-date"],
    );
    let (v, problems) = view(x, &k, Tz::UTC);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v.id, "linkerd/backstage-linkerd-exception");
    assert_eq!(v.owner.as_deref(), Some("platform-team"));
    assert_eq!(
        v.reason.as_deref(),
        Some("Linkerd proxy-init requires NET_ADMIN/NET_RAW for iptables rules")
    );
    assert_eq!(v.review_by, Some(utc("2026-09-05T00:00:00Z")));
    let found = findings(x, &v, &inv, 90, utc("2026-08-01T00:00:00Z"));
    assert_eq!(kinds(&found), [Hygiene::UnknownPolicy; 2], "{found:?}");
}

#[test]
fn first_present_non_empty_key_wins() {
    let inv = inventory(&[(
        "x.yaml",
        r#"
apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: x
  namespace: team-a
  annotations:
    forewarn.dev/owner: "  "
    team.example/owner: team-a
    other.example/owner: team-b
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod], namespaces: [team-a]}}]}
"#,
    )]);
    let k = keys(&["team.example/owner", "other.example/owner"], &[], &[]);
    let (v, _) = view(only_exception(&inv), &k, Tz::UTC);
    assert_eq!(v.owner.as_deref(), Some("team-a"));
}

// --- hygiene ------------------------------------------------------------------------------------

const POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  rules:
    - name: check-team
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: label team is required
        pattern: {metadata: {labels: {team: "?*"}}}
"#;

const NOW: &str = "2026-12-01T08:00:00Z";

/// One exception written in the test, next to the policy, and its findings at `NOW`.
fn hygiene_of(exception: &str) -> Vec<(Hygiene, String)> {
    let inv = inventory(&[("policy.yaml", POLICY), ("exception.yaml", exception)]);
    let x = only_exception(&inv);
    let (v, problems) = view(x, &ExceptionKeys::defaults("forewarn.dev/"), Tz::UTC);
    assert!(problems.is_empty(), "{problems:?}");
    findings(x, &v, &inv, 90, utc(NOW))
}

fn exception_yaml(annotations: &str, labels: &str, spec: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: x\n  namespace: team-a\n  creationTimestamp: \"2026-11-01T00:00:00Z\"\n  annotations: {{{annotations}}}\n  labels: {{{labels}}}\nspec:\n{spec}\n"
    )
}

const TIDY_ANNOTATIONS: &str = r#"forewarn.dev/owner: team-a, forewarn.dev/reason: waiting for the new image, forewarn.dev/review-by: "2027-01-15""#;
const TIDY_SPEC: &str = "  exceptions: [{policyName: require-labels, ruleNames: [check-team]}]\n  match: {any: [{resources: {kinds: [Pod], namespaces: [team-a]}}]}";

#[test]
fn a_tidy_exception_has_no_findings() {
    assert_eq!(
        hygiene_of(&exception_yaml(TIDY_ANNOTATIONS, "", TIDY_SPEC)),
        []
    );
}

#[test]
fn missing_owner_reason_review_and_namespace() {
    let spec = "  exceptions: [{policyName: require-labels, ruleNames: [check-team]}]\n  match: {any: [{resources: {kinds: [Pod]}}]}";
    let found = hygiene_of(&exception_yaml("", "", spec));
    assert_eq!(
        kinds(&found),
        [
            Hygiene::NoOwner,
            Hygiene::NoReason,
            Hygiene::NoReviewDate,
            Hygiene::ClusterWide
        ],
        "{found:?}"
    );
    for (h, detail) in &found {
        assert!(!h.describe().is_empty() && !detail.is_empty());
    }
}

#[test]
fn an_expiry_counts_as_a_review_date() {
    // The TTL label alone: no NoReviewDate.
    let found = hygiene_of(&exception_yaml(
        "forewarn.dev/owner: a, forewarn.dev/reason: b",
        "cleanup.kyverno.io/ttl: 1440h",
        TIDY_SPEC,
    ));
    assert_eq!(found, []);
}

#[test]
fn wildcard_namespace_or_policy() {
    let spec = "  exceptions: [{policyName: \"*\", ruleNames: [\"*\"]}]\n  match: {any: [{resources: {kinds: [Pod], namespaces: [\"team-*\"]}}]}";
    let found = hygiene_of(&exception_yaml(TIDY_ANNOTATIONS, "", spec));
    assert_eq!(kinds(&found), [Hygiene::Wildcard], "{found:?}");
    assert!(
        found[0].1.contains("team-*") && found[0].1.contains("policies *"),
        "{found:?}"
    );
}

#[test]
fn review_date_too_far_out() {
    let annotations =
        r#"forewarn.dev/owner: a, forewarn.dev/reason: b, forewarn.dev/review-by: "2027-12-01""#;
    let found = hygiene_of(&exception_yaml(annotations, "", TIDY_SPEC));
    assert_eq!(kinds(&found), [Hygiene::ReviewTooFar], "{found:?}");
    assert!(found[0].1.contains("2027-12-01"), "{found:?}");
}

#[test]
fn expired_but_still_present() {
    // The TTL label: 10 days from creation on 2026-11-01 passed before NOW.
    let found = hygiene_of(&exception_yaml(
        "forewarn.dev/owner: a, forewarn.dev/reason: b",
        "cleanup.kyverno.io/ttl: 240h",
        TIDY_SPEC,
    ));
    assert_eq!(kinds(&found), [Hygiene::Expired], "{found:?}");
    assert!(found[0].1.contains("2026-11-11"), "{found:?}");

    // spec.expiresAt of a policies.kyverno.io exception.
    let inv = inventory(&[
        ("policy.yaml", POLICY),
        (
            "x.yaml",
            r#"
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata:
  name: old
  namespace: team-a
  annotations: {forewarn.dev/owner: a, forewarn.dev/reason: b}
spec:
  expiresAt: "2026-11-30T00:00:00Z"
  policyRefs: [{name: require-labels, kind: ClusterPolicy}]
  matchConditions: []
"#,
        ),
    ]);
    let x = only_exception(&inv);
    let (v, problems) = view(x, &ExceptionKeys::defaults("forewarn.dev/"), Tz::UTC);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v.expiry_source, Some("spec.expiresAt"));
    assert!(!is_active(&v, utc(NOW)));
    assert!(is_active(&v, utc("2026-11-29T00:00:00Z")));
    let found = findings(x, &v, &inv, 90, utc(NOW));
    // policies.kyverno.io exceptions match by CEL conditions, not namespace lists.
    assert_eq!(
        kinds(&found),
        [Hygiene::ClusterWide, Hygiene::Expired],
        "{found:?}"
    );
}

#[test]
fn exception_for_a_policy_that_does_not_exist() {
    let spec = "  exceptions: [{policyName: require-labels, ruleNames: [check-team]}, {policyName: no-such-policy, ruleNames: [r]}]\n  match: {any: [{resources: {kinds: [Pod], namespaces: [team-a]}}]}";
    let found = hygiene_of(&exception_yaml(TIDY_ANNOTATIONS, "", spec));
    assert_eq!(kinds(&found), [Hygiene::UnknownPolicy], "{found:?}");
    assert!(found[0].1.contains("no-such-policy"), "{found:?}");
}

#[test]
fn unreadable_dates_are_problems() {
    needs_fixtures!();
    let text = exception_yaml(
        r#"forewarn.dev/owner: a, forewarn.dev/reason: b, forewarn.dev/review-by: "next spring""#,
        "cleanup.kyverno.io/ttl: 10ay",
        TIDY_SPEC,
    );
    let inv = inventory(&[("policy.yaml", POLICY), ("x.yaml", &text)]);
    let (v, problems) = view(
        only_exception(&inv),
        &ExceptionKeys::defaults("forewarn.dev/"),
        Tz::UTC,
    );
    assert_eq!(v.due, None);
    let fields: Vec<_> = problems
        .iter()
        .map(|p| (p.object.as_str(), p.field.as_str(), p.is_error()))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "exception team-a/x",
                "metadata.annotations.forewarn.dev/review-by",
                true
            ),
            (
                "exception team-a/x",
                "metadata.labels.cleanup.kyverno.io/ttl",
                true
            ),
        ]
    );
}

// --- Kyverno's TTL test pods ------------------------------------------------------------------

const TTL: &str = "kyverno/test/conformance/chainsaw/ttl";

/// The `cleanup.kyverno.io/ttl` label of a fixture pod (the inventory does not keep pods).
fn ttl_label(rel: &str) -> String {
    let text = read_fixture(&format!("{TTL}/{rel}"));
    let pod: serde_json::Value = serde_saphyr::from_str(&text).expect("pod YAML");
    pod["metadata"]["labels"]["cleanup.kyverno.io/ttl"]
        .as_str()
        .expect("ttl label")
        .to_string()
}

#[test]
fn kyverno_ttl_fixtures() {
    needs_fixtures!();
    let created = Some(utc("2023-07-18T12:00:00Z"));

    let ten_seconds = ttl_label("delete-twice/pod.yaml");
    assert_eq!(ten_seconds, "10s");
    assert_eq!(
        parse_ttl(&ten_seconds, created),
        Ok(utc("2023-07-18T12:00:10Z"))
    );
    let err = parse_ttl(&ten_seconds, None).unwrap_err();
    assert!(err.contains("creation time"), "{err}");

    let invalid = ttl_label("invalid-label/pod.yaml");
    assert_eq!(invalid, "10ay");
    let err = parse_ttl(&invalid, created).unwrap_err();
    assert!(err.contains("10ay"), "{err}");

    let past = ttl_label("past-timestamp/past-timestamp.yaml");
    assert_eq!(past, "2023-07-19T120000Z");
    assert_eq!(parse_ttl(&past, None), Ok(utc("2023-07-19T12:00:00Z")));

    // The same labels on an exception: the invalid one is a problem, the others an expiry.
    for (value, expires) in [
        (ten_seconds.as_str(), Some("2023-07-18T12:00:10Z")),
        (invalid.as_str(), None),
        (past.as_str(), Some("2023-07-19T12:00:00Z")),
    ] {
        let text = exception_yaml(
            "",
            &format!("cleanup.kyverno.io/ttl: \"{value}\""),
            TIDY_SPEC,
        )
        .replace("2026-11-01T00:00:00Z", "2023-07-18T12:00:00Z");
        let inv = inventory(&[("x.yaml", &text)]);
        let (v, problems) = view(
            only_exception(&inv),
            &ExceptionKeys::defaults("forewarn.dev/"),
            Tz::UTC,
        );
        assert_eq!(v.expires, expires.map(utc), "{value}");
        assert_eq!(problems.len(), usize::from(expires.is_none()), "{value}");
        if let Some(p) = problems.first() {
            assert_eq!(p.field, "metadata.labels.cleanup.kyverno.io/ttl");
            assert!(p.message.contains(value), "{p}");
        }
    }
}

// --- coverage on the example cluster ----------------------------------------------------------

#[test]
fn example_exception_covers_web_legacy_only() {
    let root = common::root();
    let inv = load_dir(&root.join("examples/cluster")).expect("example cluster");
    let x = inv
        .exceptions
        .iter()
        .find(|x| {
            x.namespace.as_deref() == Some("storefront-web") && x.name == "web-legacy-runs-as-root"
        })
        .expect("the example exception");
    let policy = inv.policy("require-run-as-nonroot").expect("policy");
    let rule = Some("run-as-non-root");

    let labels = Some(inv.namespace_labels("storefront-web"));
    assert!(covers(
        x,
        policy,
        rule,
        "Pod",
        "storefront-web",
        "web-legacy",
        labels
    ));
    assert!(!covers(
        x,
        policy,
        rule,
        "Pod",
        "storefront-web",
        "web",
        labels
    ));
    assert!(!covers(
        x,
        policy,
        rule,
        "Pod",
        "payments",
        "web-legacy",
        labels
    ));
    assert!(!covers(
        x,
        policy,
        rule,
        "Service",
        "storefront-web",
        "web-legacy",
        labels
    ));
    assert!(!covers(
        x,
        policy,
        Some("other-rule"),
        "Pod",
        "storefront-web",
        "web-legacy",
        labels
    ));
    let other = inv
        .policies
        .iter()
        .find(|p| p.label != "require-run-as-nonroot")
        .expect("another policy");
    assert!(!covers(
        x,
        other,
        rule,
        "Pod",
        "storefront-web",
        "web-legacy",
        labels
    ));

    let (v, problems) = view(x, &ExceptionKeys::defaults("forewarn.dev/"), Tz::UTC);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v.owner.as_deref(), Some("storefront"));
    assert!(is_active(&v, utc(NOW)));
}

#[test]
fn policy_exceptions_answer_uses_the_configured_keys_and_expiry() {
    needs_fixtures!();
    let text = read_fixture(&format!(
        "{ANNOTATIONS}/sre-io.neuvector.kyverno-v2beta1.yaml"
    ));
    let inv = inventory(&[("sre-io.yaml", &text)]);
    let config = config_from(
        r##"
platform: {channel: "#platform"}
exceptions:
  owner-annotations: [sre.io/exception-approver]
  reason-annotations: [sre.io/exception-reason]
  review-annotations: [sre.io/exception-expiry]
"##,
    );
    let a = forewarn::chat::answer::answer(
        &inv,
        &config,
        &forewarn::chat::request::Question::Exceptions(None),
        &Default::default(),
        "/policy",
        DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").expect("time"),
    );
    let m = forewarn::render::Renderer::builtin()
        .expect("templates")
        .render_answer(a.kind, &a.data)
        .expect("render");
    let text = forewarn::render::to_text(&m);
    // The same owner, reason and date the reminders use, not forewarn's default keys.
    assert!(text.contains("Owner: platform-team"), "{text}");
    assert!(
        text.contains("NeuVector enforcer DaemonSet requires privileged"),
        "{text}"
    );
    assert!(
        text.contains("Until Fri 1 Jan 2027 (review date)"),
        "{text}"
    );
}

/// Two exceptions in one namespace for one policy: the reminder of each counts only the
/// resources that exception covers, and says where its date comes from and how to move it.
#[test]
fn reminders_count_only_what_the_exception_covers() {
    let skip = |name: &str, exception: &str| {
        format!(
            "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: {name}, namespace: shop}}\nscope: {{kind: Deployment, name: {name}, namespace: shop}}\nresults:\n- {{policy: nonroot, rule: r, result: skip, source: kyverno, message: skipped, properties: {{exceptions: {exception}}}}}\n"
        )
    };
    let exception = |name: &str, names: &str, meta: &str| {
        format!(
            "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: {name}\n  namespace: shop\n  creationTimestamp: '2026-11-01T00:00:00Z'\n{meta}spec:\n  exceptions: [{{policyName: nonroot, ruleNames: [r]}}]\n  match:\n    any:\n    - resources: {{kinds: [Deployment], namespaces: [shop], names: [{names}]}}\n"
        )
    };
    let inv = common::inventory_from(&[
        (
            "ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, annotations: {forewarn.dev/owner: web}}\n",
        ),
        (
            "p.yaml",
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: nonroot}\nspec:\n  validationFailureAction: Audit\n  rules:\n  - name: r\n    validate: {message: m}\n",
        ),
        ("a.yaml", &skip("web", "web-now")),
        ("b.yaml", &skip("web-legacy", "legacy")),
        (
            "x1.yaml",
            &exception(
                "web-now",
                "web",
                "  annotations: {forewarn.dev/owner: web, forewarn.dev/reason: r}\n  labels: {cleanup.kyverno.io/ttl: '2026-12-10'}\n",
            ),
        ),
        (
            "x2.yaml",
            &exception(
                "legacy",
                "'web-legacy*'",
                "  annotations: {forewarn.dev/owner: web, forewarn.dev/reason: r, forewarn.dev/review-by: '2026-12-10'}\n",
            ),
        ),
    ]);
    let config = common::config_from(
        "time-zone: UTC\nplatform: {channel: \"#platform\"}\nteams:\n  web: {channel: \"#web\"}\n",
    );
    let planned = forewarn::plan::plan(
        std::slice::from_ref(&inv),
        &config,
        common::at("2026-12-03T09:00:00Z"),
    );
    let renderer = forewarn::render::Renderer::builtin().expect("templates");
    let words = |id: &str| {
        let n = planned
            .notices
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("{id}"));
        let m = renderer.render(n, &config).expect("render");
        serde_json::to_string(&m.blocks).expect("json")
    };
    let ttl = words("reminder/shop/web-now/web/T-7");
    assert!(
        ttl.contains("`nonroot` in *shop*: 1 result — `Deployment/web`"),
        "{ttl}"
    );
    assert!(!ttl.contains("web-legacy"), "{ttl}");
    assert!(
        ttl.contains("Exception shop/web-now expires in 7 days"),
        "{ttl}"
    );
    assert!(
        ttl.contains("The date comes from the label `cleanup.kyverno.io/ttl`"),
        "{ttl}"
    );
    assert!(
        ttl.contains("change the label `cleanup.kyverno.io/ttl` to a later date"),
        "{ttl}"
    );
    let review = words("reminder/shop/legacy/web/T-7");
    assert!(
        review.contains("`nonroot` in *shop*: 1 result — `Deployment/web-legacy`"),
        "{review}"
    );
    assert!(
        review.contains("set a later date in the annotation `forewarn.dev/review-by`"),
        "{review}"
    );
    // One day before: "tomorrow", never "in 1 days".
    let planned = forewarn::plan::plan(
        std::slice::from_ref(&inv),
        &config,
        common::at("2026-12-09T09:00:00Z"),
    );
    let n = planned
        .notices
        .iter()
        .find(|n| n.id == "reminder/shop/legacy/web/T-1")
        .expect("T-1");
    let m = renderer.render(n, &config).expect("render");
    let text = serde_json::to_string(&m.blocks).expect("json");
    assert!(text.contains("is due for review tomorrow"), "{text}");
}
