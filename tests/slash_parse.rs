//! The `/policy` slash command against the real Slack fixtures: request signing (Slack's own
//! example vector), form bodies captured from Slack's SDK tests, and the sub-command grammar.

use forewarn::chat::request::{Question, canonical_kind, parse_form, parse_question};
use forewarn::chat::verify::{MAX_SKEW_SECS, SigningSecret, VerifyError, sign, verify};
use serde_json::Value;
use std::path::Path;

#[macro_use]
mod common;
use common::fixture;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).expect("readable fixture")
}

struct Vector {
    secret: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn vectors() -> Value {
    serde_json::from_slice(&read("slack/signature_vectors.json")).expect("valid JSON")
}

fn vector(v: &Value) -> Vector {
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{k} missing"))
            .to_string()
    };
    Vector {
        secret: s("signing_secret"),
        timestamp: s("x_slack_request_timestamp"),
        body: s("body"),
        signature: s("x_slack_signature"),
    }
}

fn official() -> (Vector, i64) {
    let all = vectors();
    let v = &all["official_vector"];
    let now = v["sdk_clock_now_for_valid_window"].as_i64().expect("clock");
    (vector(v), now)
}

fn check(v: &Vector, signature: Option<&str>, body: &[u8], now: i64) -> Result<(), VerifyError> {
    verify(
        &SigningSecret::new(v.secret.as_str()),
        Some(&v.timestamp),
        signature,
        body,
        now,
    )
}

// --- signing ---------------------------------------------------------------------------------

#[test]
fn official_vector_verifies_with_the_sdk_clock() {
    needs_fixtures!();
    let (v, now) = official();
    assert_eq!(
        check(&v, Some(&v.signature), v.body.as_bytes(), now),
        Ok(())
    );
}

#[test]
fn sign_reproduces_the_official_signature() {
    needs_fixtures!();
    let (v, _) = official();
    let secret = SigningSecret::new(v.secret.as_str());
    assert_eq!(sign(&secret, &v.timestamp, v.body.as_bytes()), v.signature);
}

#[test]
fn official_body_fixture_is_the_signed_body() {
    needs_fixtures!();
    let (v, now) = official();
    let body = read("slack/slash_command_body.official.txt");
    assert_eq!(check(&v, Some(&v.signature), &body, now), Ok(()));
}

#[test]
fn one_changed_body_byte_is_a_mismatch() {
    needs_fixtures!();
    let (v, now) = official();
    let mut body = v.body.clone().into_bytes();
    for i in [0, body.len() / 2, body.len() - 1] {
        let original = body[i];
        body[i] ^= 0x01;
        assert_eq!(
            check(&v, Some(&v.signature), &body, now),
            Err(VerifyError::Mismatch),
            "byte {i}"
        );
        body[i] = original;
    }
    let mut longer = v.body.clone().into_bytes();
    longer.push(b'&');
    assert_eq!(
        check(&v, Some(&v.signature), &longer, now),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn wrong_secret_or_timestamp_is_a_mismatch() {
    needs_fixtures!();
    let (v, now) = official();
    let other = SigningSecret::new("not-the-secret");
    assert_eq!(
        verify(
            &other,
            Some(&v.timestamp),
            Some(&v.signature),
            v.body.as_bytes(),
            now
        ),
        Err(VerifyError::Mismatch)
    );
    let ts = (now + 1).to_string();
    assert_eq!(
        verify(
            &SigningSecret::new(v.secret.as_str()),
            Some(&ts),
            Some(&v.signature),
            v.body.as_bytes(),
            now
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn timestamp_window_is_five_minutes_either_way() {
    needs_fixtures!();
    let (v, _) = official();
    let ts: i64 = v.timestamp.parse().unwrap();
    assert_eq!(MAX_SKEW_SECS, 300);
    for now in [ts - 300, ts + 300] {
        assert_eq!(
            check(&v, Some(&v.signature), v.body.as_bytes(), now),
            Ok(()),
            "now {now}"
        );
    }
    assert_eq!(
        check(&v, Some(&v.signature), v.body.as_bytes(), ts + 301),
        Err(VerifyError::Stale { skew_secs: 301 })
    );
    assert_eq!(
        check(&v, Some(&v.signature), v.body.as_bytes(), ts - 301),
        Err(VerifyError::Stale { skew_secs: -301 })
    );
    // Far off clocks do not overflow.
    assert!(matches!(
        check(&v, Some(&v.signature), v.body.as_bytes(), i64::MIN),
        Err(VerifyError::Stale { .. })
    ));
    assert!(matches!(
        check(&v, Some(&v.signature), v.body.as_bytes(), i64::MAX),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn missing_headers() {
    needs_fixtures!();
    let (v, now) = official();
    let secret = SigningSecret::new(v.secret.as_str());
    let body = v.body.as_bytes();
    assert_eq!(
        verify(&secret, None, Some(&v.signature), body, now),
        Err(VerifyError::MissingTimestamp)
    );
    assert_eq!(
        verify(&secret, Some(&v.timestamp), None, body, now),
        Err(VerifyError::MissingSignature)
    );
    assert_eq!(
        verify(&secret, None, None, body, now),
        Err(VerifyError::MissingTimestamp)
    );
}

#[test]
fn bad_timestamp() {
    needs_fixtures!();
    let (v, now) = official();
    let secret = SigningSecret::new(v.secret.as_str());
    for ts in ["", "abc", "1531420618.5", " 1531420618"] {
        assert_eq!(
            verify(
                &secret,
                Some(ts),
                Some(&v.signature),
                v.body.as_bytes(),
                now
            ),
            Err(VerifyError::BadTimestamp),
            "{ts:?}"
        );
    }
}

#[test]
fn only_v0_hex_signatures_are_accepted() {
    needs_fixtures!();
    let (v, now) = official();
    let hex = v.signature.strip_prefix("v0=").unwrap();
    let bad = [
        format!("v1={hex}"),
        format!("V0={hex}"),
        hex.to_string(),
        format!("v0={}", hex.replace('a', "g")),
        format!("v0={}", &hex[..63]),
        format!("v0={hex}0"),
        format!("v0= {hex}"),
        "v0=".to_string(),
        String::new(),
    ];
    for sig in &bad {
        assert_eq!(
            check(&v, Some(sig), v.body.as_bytes(), now),
            Err(VerifyError::BadSignatureFormat),
            "{sig:?}"
        );
    }
}

#[test]
fn derived_vector_verifies() {
    needs_fixtures!();
    let all = vectors();
    let derived = all["derived_vectors_NOT_from_a_source"]
        .as_array()
        .expect("derived vectors");
    assert!(!derived.is_empty());
    for d in derived {
        let v = vector(d);
        let ts: i64 = v.timestamp.parse().unwrap();
        assert_eq!(check(&v, Some(&v.signature), v.body.as_bytes(), ts), Ok(()));
        let secret = SigningSecret::new(v.secret.as_str());
        assert_eq!(sign(&secret, &v.timestamp, v.body.as_bytes()), v.signature);
    }
}

#[test]
fn secret_never_appears_in_debug_or_errors() {
    needs_fixtures!();
    let (v, _) = official();
    let secret = SigningSecret::new(v.secret.as_str());
    let debug = format!("{secret:?}");
    assert_eq!(debug, "SigningSecret(***)");
    assert!(!debug.contains(&v.secret));

    let hex = v.signature.strip_prefix("v0=").unwrap();
    let errors = [
        VerifyError::MissingTimestamp,
        VerifyError::MissingSignature,
        VerifyError::BadTimestamp,
        VerifyError::Stale { skew_secs: 301 },
        VerifyError::Stale { skew_secs: -301 },
        VerifyError::BadSignatureFormat,
        VerifyError::Mismatch,
    ];
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.is_empty());
            assert!(!text.contains(&v.secret), "{text}");
            assert!(!text.contains(hex), "{text}");
        }
    }
    assert!(
        VerifyError::Stale { skew_secs: 301 }
            .to_string()
            .contains("301 s old")
    );
    assert!(
        VerifyError::Stale { skew_secs: -301 }
            .to_string()
            .contains("301 s in the future")
    );
}

// --- form bodies -----------------------------------------------------------------------------

fn host(url: &str) -> &str {
    url.strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
}

#[test]
fn parses_the_official_body() {
    needs_fixtures!();
    let r = parse_form(&read("slack/slash_command_body.official.txt")).expect("parses");
    assert_eq!(r.command, "/webhook-collect");
    assert_eq!(r.text, "");
    assert_eq!(r.channel_id, "G8PSS9T3V");
    assert_eq!(r.channel_name.as_deref(), Some("foobar"));
    assert_eq!(r.user_id, "U2CERLKJA");
    assert_eq!(r.user_name.as_deref(), Some("roadrunner"));
    assert_eq!(r.team_id.as_deref(), Some("T1DC2JH3J"));
    assert_eq!(
        r.trigger_id.as_deref(),
        Some("398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    );
    let url = r.response_url.as_deref().expect("response_url");
    assert_eq!(host(url), "hooks.slack.com");
    assert!(url.starts_with("https://hooks.slack.com/commands/T1DC2JH3J/"));
    assert_eq!(r.api_app_id, None);
    assert_eq!(r.enterprise_id, None);
    assert_eq!(r.is_enterprise_install, None);
}

#[test]
fn parses_the_bolt_js_lambda_body() {
    needs_fixtures!();
    let r = parse_form(&read("slack/slash_command_body.bolt-js-awslambda.txt")).expect("parses");
    assert_eq!(r.command, "/hello-bolt-js");
    assert_eq!(r.text, "");
    assert_eq!(r.channel_id, "C111");
    assert_eq!(r.user_id, "W111");
    assert_eq!(r.api_app_id.as_deref(), Some("A111"));
    assert_eq!(r.enterprise_id.as_deref(), Some("E111"));
    assert_eq!(r.is_enterprise_install.as_deref(), Some("false"));
    assert_eq!(host(r.response_url.as_deref().unwrap()), "hooks.slack.com");
}

#[test]
fn parses_the_bolt_python_flask_body() {
    needs_fixtures!();
    let r = parse_form(&read("slack/slash_command_body.bolt-python-flask.txt")).expect("parses");
    assert_eq!(r.command, "/hello-world");
    assert_eq!(r.text, "Hi");
    assert_eq!(r.channel_id, "C111");
    assert_eq!(r.user_name.as_deref(), Some("primary-owner"));
    assert_eq!(r.enterprise_id.as_deref(), Some("E111"));
    assert_eq!(r.api_app_id, None);
    assert_eq!(host(r.response_url.as_deref().unwrap()), "hooks.slack.com");
}

#[test]
fn form_errors_name_the_field() {
    use forewarn::chat::request::ParseError;
    assert_eq!(
        parse_form(b"user_id=U1&channel_id=C1&text=x"),
        Err(ParseError::MissingField("command"))
    );
    assert_eq!(
        parse_form(b"command=%2Fpolicy&channel_id=C1"),
        Err(ParseError::MissingField("user_id"))
    );
    assert_eq!(
        parse_form(b"command=%2Fpolicy&user_id=U1"),
        Err(ParseError::MissingField("channel_id"))
    );
    let err = parse_form(b"command=policy&user_id=U1&channel_id=C1").unwrap_err();
    assert!(err.to_string().contains("`command`"), "{err}");
    let err = parse_form(b"command=%2Fpolicy&user_id=&channel_id=C1").unwrap_err();
    assert!(err.to_string().contains("`user_id`"), "{err}");
    let err = parse_form(b"command=%2Fpolicy&user_id=U1&user_id=U2&channel_id=C1").unwrap_err();
    assert!(err.to_string().contains("user_id"), "{err}");
    // Text is optional and decoded; `+` is a space.
    let r = parse_form(b"command=%2Fpolicy&user_id=U1&channel_id=C1&text=why+a%2Fb").unwrap();
    assert_eq!(r.text, "why a/b");
    assert_eq!(
        parse_form(b"command=%2Fpolicy&user_id=U1&channel_id=C1")
            .unwrap()
            .text,
        ""
    );
}

// --- the /policy grammar ---------------------------------------------------------------------

fn q(text: &str) -> Question {
    parse_question(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn resource(namespace: &str, kind: &str, name: &str) -> Question {
    Question::WhyResource {
        namespace: namespace.into(),
        kind: kind.into(),
        name: name.into(),
    }
}

#[test]
fn help() {
    for text in ["", "   ", "help", "HELP", "  Help  "] {
        assert_eq!(q(text), Question::Help, "{text:?}");
    }
}

#[test]
fn why_policy() {
    assert_eq!(
        q("why require-run-as-nonroot"),
        Question::WhyPolicy("require-run-as-nonroot".into())
    );
    assert_eq!(
        q("  WHY    require-run-as-nonroot  "),
        Question::WhyPolicy("require-run-as-nonroot".into())
    );
    // One slash: a namespaced policy, not a resource.
    assert_eq!(
        q("why storefront-web/require-app-label"),
        Question::WhyPolicy("storefront-web/require-app-label".into())
    );
}

#[test]
fn why_resource_with_path() {
    assert_eq!(
        q("why payments-api/Deployment/checkout-api"),
        resource("payments-api", "Deployment", "checkout-api")
    );
    assert_eq!(
        q("Why payments-api/deploy/checkout-api"),
        resource("payments-api", "Deployment", "checkout-api")
    );
}

#[test]
fn why_resource_with_namespace_flag() {
    let want = resource("payments-api", "Deployment", "checkout-api");
    for text in [
        "why deploy/checkout-api -n payments-api",
        "why deployment/checkout-api --namespace payments-api",
        "why deployments/checkout-api -n=payments-api",
        "why Deployment/checkout-api --namespace=payments-api",
        "why -n payments-api deploy/checkout-api",
        "why   deploy/checkout-api   -n   payments-api ",
    ] {
        assert_eq!(q(text), want, "{text:?}");
    }
    assert_eq!(q("why po/web-0 -n shop"), resource("shop", "Pod", "web-0"));
}

#[test]
fn status_and_exceptions() {
    assert_eq!(q("status"), Question::Status(None));
    assert_eq!(
        q("Status payments"),
        Question::Status(Some("payments".into()))
    );
    assert_eq!(q("exceptions"), Question::Exceptions(None));
    assert_eq!(
        q("EXCEPTIONS  payments-api "),
        Question::Exceptions(Some("payments-api".into()))
    );
}

#[test]
fn errors_are_short_messages() {
    assert_eq!(
        parse_question("deploy"),
        Err("unknown command 'deploy'".to_string())
    );
    assert_eq!(
        parse_question("Frobnicate now"),
        Err("unknown command 'Frobnicate'".to_string())
    );
    for text in [
        "why",
        "why   ",
        "why a b",
        "why -n",
        "why deploy/x -n",
        "why deploy/x -n=",
        "why checkout-api -n payments-api",
        "why payments-api/Deployment/checkout-api -n payments-api",
        "why deploy/x -n a -n b",
        "why a/b/c/d",
        "why a//b",
        "why /a",
        "why a/",
        "why --all",
        "status a b",
        "status --all",
        "exceptions a b",
    ] {
        let err = parse_question(text).expect_err(text);
        assert!(!err.is_empty() && err.len() < 100, "{text:?}: {err}");
    }
    assert!(parse_question("why").unwrap_err().contains("why"));
    let long = "x".repeat(500);
    assert!(parse_question(&long).unwrap_err().chars().count() < 70);
}

#[test]
fn kinds() {
    for (given, want) in [
        ("deploy", "Deployment"),
        ("deployment", "Deployment"),
        ("deployments", "Deployment"),
        ("Deployment", "Deployment"),
        ("po", "Pod"),
        ("pod", "Pod"),
        ("pods", "Pod"),
        ("sts", "StatefulSet"),
        ("statefulset", "StatefulSet"),
        ("ds", "DaemonSet"),
        ("daemonset", "DaemonSet"),
        ("cronjob", "CronJob"),
        ("cj", "CronJob"),
        ("job", "Job"),
        ("rs", "ReplicaSet"),
        ("replicaset", "ReplicaSet"),
        ("svc", "Service"),
        ("service", "Service"),
        ("ing", "Ingress"),
        ("ingress", "Ingress"),
        ("cm", "ConfigMap"),
        ("configmap", "ConfigMap"),
        ("ns", "Namespace"),
        ("namespace", "Namespace"),
        ("secret", "Secret"),
        ("networkPolicy", "NetworkPolicy"),
        ("", ""),
    ] {
        assert_eq!(canonical_kind(given), want, "{given:?}");
    }
}

#[test]
fn the_help_templates_examples_parse() {
    // The usage words live in templates/help.hbs; every example there must be a valid command.
    let help =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/help.hbs"))
            .expect("help template");
    let examples: Vec<&str> = help
        .split('`')
        .filter_map(|s| s.strip_prefix("{{command}} "))
        .filter(|s| !s.contains('<'))
        .collect();
    assert!(
        examples.contains(&"why require-run-as-nonroot"),
        "{examples:?}"
    );
    for e in examples {
        assert!(parse_question(e).is_ok(), "{e}");
    }
}
