//! PolicyExceptions as forewarn follows them up: who owns one, why it exists, when it must be
//! reviewed or ends, what is wrong with it, and which failing resources it covers.
//!
//! Pure: every function here takes the exception, the inventory and the time (`now` is an
//! argument, never read from a clock) and returns values. Bad data — an unparsable date, a
//! malformed `cleanup.kyverno.io/ttl` label, a policy that does not exist — becomes a
//! [`Problem`] or a hygiene finding; nothing here panics on it.
//!
//! Expiry follows Kyverno: `spec.expiresAt` (policies.kyverno.io) and the TTL label that
//! Kyverno's cleanup controller reads both end an exception, the earlier one first. A review
//! date is forewarn's (or the cluster's own) convention: Kyverno does not act on it, so a passed
//! review date makes an exception overdue, not inactive.

use crate::config::ExceptionKeys;
use crate::inventory::selector::SelectorExt;
use crate::inventory::selector::wildcard_match;
use crate::inventory::{
    ExceptedPolicy, Exception, Inventory, Labels, Policy, PolicyKind, ResourceFilter, ResourceRef,
};
use crate::model::problem::Problem;
use crate::model::time::parse_enforce_on;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The label Kyverno's cleanup controller reads on any object, exceptions included.
pub const TTL_LABEL: &str = "cleanup.kyverno.io/ttl";

// ---------------------------------------------------------------------------------------------
// TTL, as Kyverno's cleanup controller reads it
// ---------------------------------------------------------------------------------------------

/// When an object carrying `cleanup.kyverno.io/ttl: <value>` is deleted, read the way Kyverno's
/// TTL controller reads it (`parseDeletionTime` in kyverno `pkg/controllers/ttl/utils.go`; the
/// admission check `ValidateTtlLabel` in `pkg/validation/resource/validate.go` accepts the same):
/// a duration as kube-openapi's `strfmt.ParseDuration` reads it ([`strfmt_duration_nanos`]:
/// `2h30m`, `30d`, `2w`, `1day`, `10 days`) counted from the creation time; else an absolute
/// time in the layout `2006-01-02T150405Z` (UTC); else a date `2006-01-02` (midnight UTC).
pub fn parse_ttl(value: &str, created: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, String> {
    if let Some(nanos) = strfmt_duration_nanos(value) {
        let created = created.ok_or_else(|| {
            format!(
                "TTL '{value}' is a duration, but the object has no creation time to count it from"
            )
        })?;
        return created
            .checked_add_signed(TimeDelta::nanoseconds(nanos))
            .ok_or_else(|| format!("TTL '{value}' counted from {created} is out of range"));
    }
    if let Some(t) = go_compact_utc(value) {
        return Ok(t);
    }
    if let Some(d) = go_date(value) {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "TTL '{value}' is neither a duration (such as 90m, 2h30m, 30d or 2w) nor a time in the \
         form 2006-01-02T150405Z or 2006-01-02"
    ))
}

/// kube-openapi's `strfmt.ParseDuration` (`pkg/validation/strfmt/duration.go`), into
/// nanoseconds: Go's `time.ParseDuration` first; else every `<digits><spaces?><letters>` run
/// found anywhere in the text is added up, its unit (lower-cased) being `ns`/`nano…`,
/// `us`/`µs`/`micro…`, `ms`/`milli…`, `s`/`sec…`, `m`/`min…`, `h`/`hr`/`hour…`, `d`/`day…` or
/// `w`/`wk`/`week…`; runs with another unit add nothing, and the text is a duration when at least
/// one run had a known unit. A number too large for an int64 makes it no duration; sums wrap
/// around as Go's do.
pub fn strfmt_duration_nanos(text: &str) -> Option<i64> {
    if let Some(n) = go_duration_nanos(text) {
        return Some(n);
    }
    const UNITS: [(&[&str], i64); 8] = [
        (&["ns", "nano"], 1),
        (&["us", "\u{b5}s", "micro"], 1_000),
        (&["ms", "milli"], 1_000_000),
        (&["s", "sec"], 1_000_000_000),
        (&["m", "min"], 60_000_000_000),
        (&["h", "hr", "hour"], 3_600_000_000_000),
        (&["d", "day"], 86_400_000_000_000),
        (&["w", "wk", "week"], 604_800_000_000_000),
    ];
    let chars: Vec<char> = text.chars().collect();
    let mut total: i64 = 0;
    let mut known = false;
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let digits: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\n' | '\r' | '\u{c}') {
            j += 1;
        }
        let letters_start = j;
        while j < chars.len() && (chars[j].is_ascii_alphabetic() || chars[j] == '\u{b5}') {
            j += 1;
        }
        if j == letters_start {
            // No unit after these digits: no match starts here.
            continue;
        }
        let factor: i64 = digits.parse().ok()?;
        let unit: String = chars[letters_start..j]
            .iter()
            .collect::<String>()
            .to_lowercase();
        for (variants, multiplier) in UNITS {
            let last = variants.len() - 1;
            for (k, variant) in variants.iter().enumerate() {
                if (k == last && unit.starts_with(variant)) || unit == *variant {
                    known = true;
                    total = total.wrapping_add(factor.wrapping_mul(multiplier));
                }
            }
        }
        i = j;
    }
    known.then_some(total)
}

/// Nanoseconds per Go duration unit.
fn go_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or a lone `0`, into
/// nanoseconds, with Go's limits (an int64 of nanoseconds) and Go's truncation of fractions.
fn go_duration_nanos(text: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if first != b'.' && !first.is_ascii_digit() {
            return None;
        }
        // Whole part: an overflow here is an error, as in Go.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in rest[..int_len].bytes() {
            if whole > LIMIT / 10 {
                return None;
            }
            whole = whole * 10 + u64::from(b - b'0');
            if whole > LIMIT {
                return None;
            }
        }
        rest = &rest[int_len..];
        // Fraction: digits past what fits are ignored, as in Go.
        let (mut frac, mut scale, mut frac_len) = (0u64, 1f64, None);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            let mut full = false;
            for b in after_dot[..n].bytes() {
                if full || frac > (LIMIT - 1) / 10 {
                    full = true;
                    continue;
                }
                let next = frac * 10 + u64::from(b - b'0');
                if next > LIMIT {
                    full = true;
                    continue;
                }
                frac = next;
                scale *= 10.0;
            }
            frac_len = Some(n);
            rest = &after_dot[n..];
        }
        if int_len == 0 && frac_len.unwrap_or(0) == 0 {
            return None;
        }
        // Unit: everything up to the next digit or dot.
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return None;
        }
        let unit = go_unit(&rest[..unit_len])?;
        rest = &rest[unit_len..];
        if whole > LIMIT / unit {
            return None;
        }
        let mut value = whole * unit;
        if frac > 0 {
            // Go converts through float64 and truncates.
            value += (frac as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return None;
            }
        }
        total = total.checked_add(value)?;
        if total > LIMIT {
            return None;
        }
    }
    if negative {
        Some((-(i128::from(total))) as i64)
    } else {
        i64::try_from(total).ok()
    }
}

/// Exactly `n` ASCII digits at the start of `s`, as a number, and the rest.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

/// Go's `2006-01-02` prefix: four-digit year, two-digit month and day, checked for range.
fn go_date_prefix(s: &str) -> Option<(NaiveDate, &str)> {
    let (year, s) = digits(s, 4)?;
    let s = s.strip_prefix('-')?;
    let (month, s) = digits(s, 2)?;
    let s = s.strip_prefix('-')?;
    let (day, s) = digits(s, 2)?;
    Some((NaiveDate::from_ymd_opt(year as i32, month, day)?, s))
}

/// Go's `time.Parse("2006-01-02", s)`.
fn go_date(s: &str) -> Option<NaiveDate> {
    match go_date_prefix(s)? {
        (date, "") => Some(date),
        _ => None,
    }
}

/// Go's `time.Parse("2006-01-02T150405Z", s)`: the hour (`15`) takes one or two digits, minute
/// and second exactly two; a fraction of a second after the seconds is accepted, as Go does.
fn go_compact_utc(s: &str) -> Option<DateTime<Utc>> {
    let (date, s) = go_date_prefix(s)?;
    let s = s.strip_prefix('T')?;
    let hour_len = if s.as_bytes().get(1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    let (hour, s) = digits(s, hour_len)?;
    let (minute, s) = digits(s, 2)?;
    let (second, mut s) = digits(s, 2)?;
    let mut nanos = 0u32;
    if let (Some(b'.' | b','), Some(d)) = (s.as_bytes().first(), s.as_bytes().get(1))
        && d.is_ascii_digit()
    {
        let n = s[1..].bytes().take_while(u8::is_ascii_digit).count();
        let frac = &s[1..1 + n];
        // Nanosecond precision; further digits are dropped.
        let kept = &frac[..frac.len().min(9)];
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
        s = &s[1 + n..];
    }
    if s != "Z" || hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(NaiveDateTime::new(date, time).and_utc())
}

// ---------------------------------------------------------------------------------------------
// One exception, read
// ---------------------------------------------------------------------------------------------

/// What forewarn reads from one exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionView {
    /// `namespace/name`, or `name` for a cluster-scoped exception.
    pub id: String,
    pub owner: Option<String>,
    pub reason: Option<String>,
    /// The review date from the annotations (Kyverno does not act on it).
    pub review_by: Option<DateTime<Utc>>,
    /// The annotation the review date was read from.
    pub review_key: Option<String>,
    /// When the exception stops applying: the earlier of `spec.expiresAt` and the TTL label.
    pub expires: Option<DateTime<Utc>>,
    /// `spec.expiresAt` or `label cleanup.kyverno.io/ttl`: which one set `expires`.
    pub expiry_source: Option<&'static str>,
    /// The earlier of `review_by` and `expires`: when the owner must act.
    pub due: Option<DateTime<Utc>>,
}

/// The id an exception is shown with: `namespace/name` or `name`.
pub fn exception_id(x: &Exception) -> String {
    match &x.namespace {
        Some(ns) => format!("{ns}/{}", x.name),
        None => x.name.clone(),
    }
}

/// The first key of `keys` present on `x` with a non-blank value, and that value (trimmed).
fn first_annotation<'a>(x: &'a Exception, keys: &'a [String]) -> Option<(&'a str, &'a str)> {
    keys.iter().find_map(|k| {
        let v = x.annotations.get(k)?.trim();
        (!v.is_empty()).then_some((k.as_str(), v))
    })
}

/// Reads owner, reason, review date and expiry of `x`. A review date is `YYYY-MM-DD` (midnight
/// in `tz`) or RFC 3339; every date or TTL that cannot be read is an error naming the field,
/// and the rest of the view is still filled in.
pub fn view(x: &Exception, keys: &ExceptionKeys, tz: Tz) -> (ExceptionView, Vec<Problem>) {
    let id = exception_id(x);
    let object = format!("exception {id}");
    let mut problems = Vec::new();

    let owner = first_annotation(x, &keys.owner).map(|(_, v)| v.to_string());
    let reason = first_annotation(x, &keys.reason).map(|(_, v)| v.to_string());
    let review_key = first_annotation(x, &keys.review_by).map(|(key, _)| key.to_string());
    let review_by = first_annotation(x, &keys.review_by).and_then(|(key, text)| {
        match parse_enforce_on(text, tz) {
            Ok(on) => Some(on.instant.with_timezone(&Utc)),
            Err(e) => {
                problems.push(Problem::error(
                    &object,
                    format!("metadata.annotations.{key}"),
                    format!("review date {e}"),
                ));
                None
            }
        }
    });

    let mut expiries: Vec<(DateTime<Utc>, &'static str)> = Vec::new();
    if let Some(text) = x.expires_at.as_deref() {
        match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(t) => expiries.push((t.with_timezone(&Utc), "spec.expiresAt")),
            Err(_) => problems.push(Problem::error(
                &object,
                "spec.expiresAt",
                format!("'{text}' is not an RFC 3339 time such as 2026-12-31T23:59:59Z"),
            )),
        }
    }
    if let Some(ttl) = x.labels.get(TTL_LABEL) {
        let created = x
            .created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc));
        match parse_ttl(ttl, created) {
            Ok(t) => expiries.push((t, "label cleanup.kyverno.io/ttl")),
            Err(e) => problems.push(Problem::error(
                &object,
                format!("metadata.labels.{TTL_LABEL}"),
                e,
            )),
        }
    }
    let earliest = expiries.into_iter().min_by_key(|(t, _)| *t);
    let expires = earliest.map(|(t, _)| t);
    let due = match (review_by, expires) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let view = ExceptionView {
        id,
        owner,
        reason,
        review_by,
        review_key,
        expires,
        expiry_source: earliest.map(|(_, s)| s),
        due,
    };
    (view, problems)
}

/// Whether the exception still applies at `now`: not past its expiry (Kyverno keeps it up to
/// and including that instant). A passed review date does not end it: Kyverno ignores reviews.
pub fn is_active(v: &ExceptionView, now: DateTime<Utc>) -> bool {
    v.expires.is_none_or(|e| now <= e)
}

// ---------------------------------------------------------------------------------------------
// Hygiene
// ---------------------------------------------------------------------------------------------

/// What is wrong with an exception, in the order findings are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Hygiene {
    NoOwner,
    NoReason,
    NoReviewDate,
    ClusterWide,
    Wildcard,
    ReviewTooFar,
    Expired,
    UnknownPolicy,
}

impl Hygiene {
    /// A few words for users.
    pub fn describe(self) -> &'static str {
        match self {
            Hygiene::NoOwner => "no owner",
            Hygiene::NoReason => "no reason",
            Hygiene::NoReviewDate => "no review date or expiry",
            Hygiene::ClusterWide => "applies in every namespace",
            Hygiene::Wildcard => "wildcard scope",
            Hygiene::ReviewTooFar => "review date too far out",
            Hygiene::Expired => "expired but still present",
            Hygiene::UnknownPolicy => "excepts a policy that does not exist",
        }
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The hygiene findings for exception `x` (read as `v`), in [`Hygiene`] order, each with a
/// detail sentence. `max_review_days` bounds how far out a review date or expiry may be.
pub fn findings(
    x: &Exception,
    v: &ExceptionView,
    inv: &Inventory,
    max_review_days: i64,
    now: DateTime<Utc>,
) -> Vec<(Hygiene, String)> {
    let mut out = Vec::new();
    if v.owner.is_none() {
        out.push((
            Hygiene::NoOwner,
            "no owner annotation: nobody is reminded to review it".to_string(),
        ));
    }
    if v.reason.is_none() {
        out.push((
            Hygiene::NoReason,
            "no reason annotation: nobody can tell why it exists".to_string(),
        ));
    }
    if v.review_by.is_none() && v.expires.is_none() {
        out.push((
            Hygiene::NoReviewDate,
            "neither a review date nor an expiry: it stays forever".to_string(),
        ));
    }
    if scope_words(x).is_none() {
        let detail = if x.is_cel() {
            "no spec.matchConditions: it exempts every resource of its policies, in every namespace"
        } else {
            "spec.match names no namespaces, so it applies in all of them"
        };
        out.push((Hygiene::ClusterWide, detail.to_string()));
    }
    let wild_ns: Vec<&str> = x
        .match_namespaces
        .iter()
        .filter(|n| n.contains('*'))
        .map(String::as_str)
        .collect();
    let wild_policies: Vec<&str> = x
        .policies
        .iter()
        .filter(|p| p.policy.contains('*'))
        .map(|p| p.policy.as_str())
        .collect();
    if !wild_ns.is_empty() || !wild_policies.is_empty() {
        let mut parts = Vec::new();
        if !wild_ns.is_empty() {
            parts.push(format!("namespaces {}", wild_ns.join(", ")));
        }
        if !wild_policies.is_empty() {
            parts.push(format!("policies {}", wild_policies.join(", ")));
        }
        out.push((
            Hygiene::Wildcard,
            format!("wildcard in {}", parts.join(" and ")),
        ));
    }
    if let Some(due) = v.due {
        let days = (due - now).num_days();
        if days > max_review_days {
            let what = if v.review_by == Some(due) {
                "review date"
            } else {
                "expiry"
            };
            out.push((
                Hygiene::ReviewTooFar,
                format!(
                    "{what} {} is {days} days away; at most {max_review_days} are allowed",
                    day(due)
                ),
            ));
        }
    }
    if let Some(expires) = v.expires
        && !is_active(v, now)
    {
        let source = v.expiry_source.unwrap_or("expiry");
        out.push((
            Hygiene::Expired,
            format!(
                "expired on {} ({source}) but the object is still there",
                day(expires)
            ),
        ));
    }
    for p in &x.policies {
        let known = inv
            .policies
            .iter()
            .any(|q| q.reference.report_name() == p.policy || q.name() == p.policy);
        // A wildcard is reported as such; it is not the name of a missing policy.
        if !known && !p.policy.contains('*') {
            out.push((
                Hygiene::UnknownPolicy,
                format!("policy {} does not exist", p.policy),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Coverage
// ---------------------------------------------------------------------------------------------

/// Whether a kyverno.io exception entry `listed` names `policy`: exactly as reports (and
/// Kyverno's exception index, `Exception.Contains` in kyverno `api/kyverno/v2`) name it —
/// `name` for a ClusterPolicy, `namespace/name` for a namespaced Policy. No wildcards.
fn names_kyverno_policy(listed: &str, policy: &Policy) -> bool {
    listed == policy.reference.report_name()
}

/// Whether a policies.kyverno.io `policyRefs` entry names `policy`: name **and** kind must
/// match (`ListExceptions` in kyverno `pkg/cel/engine/exception.go`). A namespaced policy is
/// matched by an exception of its own namespace.
fn names_cel_policy(x: &Exception, listed: &ExceptedPolicy, policy: &Policy) -> bool {
    let kind = match policy.kind() {
        PolicyKind::ValidatingPolicy => "ValidatingPolicy",
        PolicyKind::NamespacedValidatingPolicy => "NamespacedValidatingPolicy",
        // Kyverno's ClusterPolicy engine reads only kyverno.io exceptions; Kyverno's exceptions
        // do not apply to Gatekeeper or to Kubernetes' own admission policies.
        PolicyKind::ClusterPolicy
        | PolicyKind::Policy
        | PolicyKind::Constraint
        | PolicyKind::ValidatingAdmissionPolicyBinding => return false,
    };
    listed.kind.as_deref() == Some(kind)
        && listed.policy == policy.name()
        && policy
            .namespace()
            .is_none_or(|ns| x.namespace.as_deref() == Some(ns))
}

/// Whether exception `x` lists `policy` and, for kyverno.io exceptions, `rule` among its
/// `ruleNames` (wildcards allowed; an empty list names no rule, as in Kyverno's
/// `Exception.Contains`). A result naming no rule is matched as the rule `""`.
pub fn lists_policy(x: &Exception, policy: &Policy, rule: Option<&str>) -> bool {
    if x.is_cel() {
        return x.policies.iter().any(|p| names_cel_policy(x, p, policy));
    }
    if !matches!(
        policy.kind(),
        PolicyKind::ClusterPolicy | PolicyKind::Policy
    ) {
        return false;
    }
    let rule = rule.unwrap_or("");
    x.policies.iter().any(|p| {
        names_kyverno_policy(&p.policy, policy)
            && p.rules.iter().any(|pat| wildcard_match(pat, rule))
    })
}

/// Whether an exception covers one failing result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Coverage {
    /// The exception provably applies: Kyverno will admit the resource.
    Covered,
    /// It provably does not apply.
    NotCovered,
    /// It might: forewarn cannot evaluate something it depends on (the reason).
    Possibly(String),
}

/// Three-valued matching: yes, no, or cannot tell (why).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown(String),
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }

    /// Every part must match: one `No` decides, else the first `Unknown`.
    fn all(parts: impl IntoIterator<Item = Tri>) -> Tri {
        let mut unknown = None;
        for p in parts {
            match p {
                Tri::No => return Tri::No,
                Tri::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Tri::Yes => {}
            }
        }
        unknown.map_or(Tri::Yes, Tri::Unknown)
    }

    /// One part must match: one `Yes` decides, else the first `Unknown`.
    fn any(parts: impl IntoIterator<Item = Tri>) -> Tri {
        let mut unknown = None;
        for p in parts {
            match p {
                Tri::Yes => return Tri::Yes,
                Tri::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Tri::No => {}
            }
        }
        unknown.map_or(Tri::No, Tri::Unknown)
    }
}

/// A `kinds` entry against a resource known only by kind (reports give no API group here):
/// Kyverno's `ParseKindSelector` (kyverno `pkg/utils/kube/kind.go`) and `CheckKind`
/// (`pkg/utils/match/kind.go`); a reported resource is never a subresource.
fn kind_matches(selector: &str, kind: &str) -> Tri {
    let mut parts: Vec<&str> = selector.split('/').collect();
    let last = parts.pop().unwrap_or("");
    parts.extend(last.split('.'));
    let is_version = |s: &str| {
        s == "*"
            || (s.starts_with('v')
                && s[1..].starts_with(|c: char| c.is_ascii_digit())
                && s.chars().all(|c| c.is_ascii_alphanumeric()))
    };
    let (group, version, k, sub) = match parts.as_slice() {
        [k] => ("*", "*", *k, ""),
        ["*", "*"] => ("*", "*", "*", "*"),
        ["*", s] if s.to_lowercase() == *s => ("*", "*", "*", *s),
        [v, k] if is_version(v) => ("*", *v, *k, ""),
        [k, s] => ("*", "*", *k, *s),
        [v, k, s] if is_version(v) => ("*", *v, *k, *s),
        [g, v, k] => (*g, *v, *k, ""),
        [g, v, k, s] => (*g, *v, *k, *s),
        _ => return Tri::No,
    };
    if !wildcard_match(k, kind) || !wildcard_match(sub, "") {
        return Tri::No;
    }
    if group != "*" || version != "*" {
        return Tri::Unknown(format!(
            "kinds entry '{selector}' names an API group or version, which reports do not give"
        ));
    }
    Tri::Yes
}

/// One `match.any[]`/`match.all[]` entry against a resource (`checkResourceFilter` and
/// `checkResourceDescription` in kyverno `pkg/engine/utils/exceptions.go`). `ns_labels` are
/// the labels of the resource's namespace (for a Namespace object, its own), `None` when the
/// Namespace object was not read.
fn filter_matches(f: &ResourceFilter, r: &ResourceRef, ns_labels: Option<&Labels>) -> Tri {
    if f.is_empty() {
        return Tri::No;
    }
    let mut parts = Vec::new();
    if !f.kinds.is_empty() {
        parts.push(Tri::any(f.kinds.iter().map(|k| kind_matches(k, &r.kind))));
    }
    if let Some(n) = &f.name {
        parts.push(Tri::from(wildcard_match(n, &r.name)));
    }
    if !f.names.is_empty() {
        parts.push(Tri::from(
            f.names.iter().any(|n| wildcard_match(n, &r.name)),
        ));
    }
    if !f.namespaces.is_empty() {
        // A Namespace object is matched by its own name (`CheckNameSpace`, pkg/utils/match).
        let ns = if r.kind == "Namespace" {
            &r.name
        } else {
            &r.namespace
        };
        parts.push(Tri::from(
            f.namespaces.iter().any(|p| wildcard_match(p, ns)),
        ));
    }
    if !f.annotations.is_empty() {
        parts.push(Tri::Unknown(
            "it matches on the resource's annotations, which reports do not show".to_string(),
        ));
    }
    if let Some(sel) = &f.selector
        && !sel.selects_all()
    {
        // A Namespace's own labels are known (reports file it under itself); other
        // resources' labels are not in reports.
        parts.push(match ns_labels {
            Some(labels) if r.kind == "Namespace" && r.name == r.namespace => {
                Tri::from(sel.matches(labels))
            }
            _ => Tri::Unknown(
                "it matches on the resource's labels, which reports do not show".to_string(),
            ),
        });
    }
    if let Some(sel) = &f.namespace_selector
        && r.kind != "Namespace"
        && !r.kind.is_empty()
    {
        parts.push(match ns_labels {
            Some(labels) => Tri::from(sel.matches(labels)),
            None => Tri::Unknown(format!(
                "it selects namespaces by label, and namespace '{}' was not read",
                r.namespace
            )),
        });
    }
    if !f.user_info.is_empty() {
        parts.push(Tri::Unknown(format!(
            "it depends on who makes the request ({})",
            f.user_info.join(", ")
        )));
    }
    if let Some(u) = f.unknown.first() {
        parts.push(Tri::Unknown(format!("{u} is not a field forewarn knows")));
    }
    Tri::all(parts)
}

/// Whether active exception `x` exempts resource `r` from `rule` of `policy`, as Kyverno
/// decides it: the exception must list the policy (kyverno.io: `policyName` and a matching
/// `ruleNames` entry; policies.kyverno.io: a `policyRefs` entry with the policy's name and
/// kind), and its scope must match the resource — kyverno.io `match.any` (one entry) or
/// `match.all` (every entry) on kinds, names, namespaces and namespace labels
/// (kyverno `pkg/engine/utils/exceptions.go`); policies.kyverno.io `matchConditions`, which are
/// CEL (kyverno `pkg/cel/policies/vpol/compiler/policy.go`). What forewarn cannot evaluate —
/// CEL, `conditions`, resource labels or annotations, who makes the request, partial
/// exemptions, unknown fields — makes the result [`Coverage::Possibly`] covered, with the
/// reason. Expiry is the caller's business ([`is_active`]).
pub fn coverage(
    x: &Exception,
    policy: &Policy,
    rule: Option<&str>,
    r: &ResourceRef,
    ns_labels: Option<&Labels>,
) -> Coverage {
    if !lists_policy(x, policy, rule) {
        return Coverage::NotCovered;
    }
    scope_coverage(x, r, ns_labels)
}

/// Whether the scope of exception `x` — whatever policies it lists — takes in resource `r`
/// (see [`coverage`]).
pub fn scope_coverage(x: &Exception, r: &ResourceRef, ns_labels: Option<&Labels>) -> Coverage {
    let scope = if x.is_cel() {
        match x.match_conditions.first() {
            None => Tri::Yes,
            Some((name, expr)) => Tri::Unknown(format!(
                "its CEL matchConditions ({}) are evaluated on the object, which forewarn cannot do",
                if name.is_empty() {
                    format!("`{expr}`")
                } else {
                    format!("{name}: `{expr}`")
                }
            )),
        }
    } else if !x.matching.any.is_empty() {
        Tri::any(
            x.matching
                .any
                .iter()
                .map(|f| filter_matches(f, r, ns_labels)),
        )
    } else if !x.matching.all.is_empty() {
        Tri::all(
            x.matching
                .all
                .iter()
                .map(|f| filter_matches(f, r, ns_labels)),
        )
    } else {
        // `checkMatchesResources`: a match with neither any nor all matches nothing.
        Tri::No
    };
    let scope = match (scope, x.undecidable.first()) {
        (Tri::No, _) => Tri::No,
        (Tri::Yes, Some(why)) => Tri::Unknown(why.clone()),
        (other, _) => other,
    };
    match scope {
        Tri::Yes => Coverage::Covered,
        Tri::No => Coverage::NotCovered,
        Tri::Unknown(why) => Coverage::Possibly(why),
    }
}

/// Whether exception `x` provably exempts resource `name` (of `kind`) in `namespace` from
/// `rule` of `policy` (see [`coverage`]).
pub fn covers(
    x: &Exception,
    policy: &Policy,
    rule: Option<&str>,
    kind: &str,
    namespace: &str,
    name: &str,
    ns_labels: Option<&Labels>,
) -> bool {
    let r = ResourceRef {
        namespace: namespace.into(),
        kind: kind.into(),
        name: name.into(),
    };
    coverage(x, policy, rule, &r, ns_labels) == Coverage::Covered
}

/// Where an exception applies, in words, for hygiene and answers: the namespaces its `match`
/// names, or what decides instead (namespace labels, CEL conditions), or `None` when it
/// applies in every namespace.
pub fn scope_words(x: &Exception) -> Option<String> {
    if x.is_cel() {
        if x.match_conditions.is_empty() {
            return None;
        }
        let conds: Vec<String> = x
            .match_conditions
            .iter()
            .map(|(n, e)| {
                if n.is_empty() {
                    format!("`{e}`")
                } else {
                    format!("{n}: `{e}`")
                }
            })
            .collect();
        return Some(format!("resources where {}", conds.join(" and ")));
    }
    let filters: Vec<&ResourceFilter> = if x.matching.any.is_empty() {
        x.matching.all.iter().collect()
    } else {
        x.matching.any.iter().collect()
    };
    if filters.is_empty() {
        return Some("nothing (spec.match has neither any nor all)".to_string());
    }
    let mut parts = Vec::new();
    for f in &filters {
        let mut p = Vec::new();
        if !f.namespaces.is_empty() {
            p.push(format!("namespaces {}", f.namespaces.join(", ")));
        }
        if let Some(sel) = &f.namespace_selector
            && !sel.selects_all()
        {
            p.push("namespaces selected by label".to_string());
        }
        if p.is_empty() {
            // This entry alone reaches every namespace.
            if x.matching.any.is_empty() {
                continue;
            }
            return None;
        }
        parts.push(p.join(" with "));
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ExceptedPolicy;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ttl_kyverno_cases() {
        let created = Some(utc("2023-07-18T12:00:00Z"));
        assert_eq!(parse_ttl("2h30m", created), Ok(utc("2023-07-18T14:30:00Z")));
        assert_eq!(
            parse_ttl("2023-07-19T120000Z", created),
            Ok(utc("2023-07-19T12:00:00Z"))
        );
        assert_eq!(
            parse_ttl("2023-07-19", created),
            Ok(utc("2023-07-19T00:00:00Z"))
        );
        for bad in ["invalid-value", "10ay", "2023-07-19T12:00:00Z"] {
            let err = parse_ttl(bad, created).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    /// kube-openapi `pkg/validation/strfmt/duration.go` (and its `duration_test.go` cases).
    #[test]
    fn strfmt_durations_as_kube_openapi_reads_them() {
        const H: i64 = 3_600_000_000_000;
        let ok = [
            ("2h30m", 2 * H + H / 2),
            ("30d", 30 * 24 * H),
            ("1d", 24 * H),
            ("2w", 14 * 24 * H),
            ("1day", 24 * H),
            ("10days", 240 * H),
            ("10 days", 240 * H),
            ("1week", 7 * 24 * H),
            ("1wk", 7 * 24 * H),
            ("3 hours", 3 * H),
            ("1H", H),
            ("5 minutes", 5 * 60_000_000_000),
            ("1d 2h", 26 * H),
            ("in 1d", 24 * H),
            ("1.5d", 5 * 24 * H),
            ("1d 10ay", 24 * H),
            ("7 secs", 7_000_000_000),
            ("2 millis", 2_000_000),
            ("3 nanos", 3),
        ];
        for (text, nanos) in ok {
            assert_eq!(strfmt_duration_nanos(text), Some(nanos), "{text}");
        }
        for bad in [
            "",
            "d",
            "10ay",
            "2023-07-19",
            "2023-07-19T120000Z",
            "invalid-value",
            "99999999999999999999d",
        ] {
            assert_eq!(strfmt_duration_nanos(bad), None, "{bad}");
        }
        let created = Some(utc("2026-01-01T00:00:00Z"));
        assert_eq!(parse_ttl("30d", created), Ok(utc("2026-01-31T00:00:00Z")));
        assert_eq!(parse_ttl("2w", created), Ok(utc("2026-01-15T00:00:00Z")));
    }

    #[test]
    fn ttl_duration_needs_creation_time() {
        let err = parse_ttl("10s", None).unwrap_err();
        assert!(err.contains("creation time"), "{err}");
        // Absolute forms do not need it.
        assert!(parse_ttl("2023-07-19", None).is_ok());
    }

    #[test]
    fn go_durations() {
        let ok = [
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("5s", 5_000_000_000),
            ("+5s", 5_000_000_000),
            ("-5s", -5_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("1h30m", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("300ms", 300_000_000),
            ("2us", 2_000),
            ("2\u{b5}s", 2_000),
            ("2\u{3bc}s", 2_000),
            ("7ns", 7),
            ("1h1h", 7_200_000_000_000),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.1s", 100_000_000),
        ];
        for (text, nanos) in ok {
            assert_eq!(go_duration_nanos(text), Some(nanos), "{text}");
        }
        let bad = [
            "",
            "+",
            "-",
            "5",
            "s",
            ".s",
            "1d",
            "10ay",
            "1H",
            "1 h",
            " 1h",
            "1h ",
            "1.2.3s",
            "9223372036854775808ns",
            "3000000h",
        ];
        for text in bad {
            assert_eq!(go_duration_nanos(text), None, "{text}");
        }
    }

    #[test]
    fn go_layouts() {
        assert_eq!(
            go_compact_utc("2023-07-19T90000Z"),
            None,
            "hour 90 is out of range"
        );
        assert_eq!(
            go_compact_utc("2023-07-19T9000Z"),
            None,
            "Go reads two hour digits when there are two: hour 90"
        );
        assert_eq!(
            go_compact_utc("2023-07-19T120000.25Z"),
            Some(utc("2023-07-19T12:00:00.25Z"))
        );
        for bad in [
            "2023-07-19T120000",
            "2023-07-19T120000z",
            "2023-07-19T12:00:00Z",
            "2023-7-19T120000Z",
            "2023-07-19T126000Z",
            "2023-02-30T120000Z",
        ] {
            assert_eq!(go_compact_utc(bad), None, "{bad}");
        }
        assert_eq!(go_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for bad in [
            "2023-02-29",
            "2023-7-19",
            "23-07-19",
            "2023-07-19 ",
            "2023/07/19",
        ] {
            assert_eq!(go_date(bad), None, "{bad}");
        }
    }

    fn exception() -> Exception {
        Exception {
            name: "x".into(),
            namespace: Some("team".into()),
            api_version: "kyverno.io/v2".into(),
            policies: vec![ExceptedPolicy {
                policy: "p".into(),
                rules: vec!["*".into()],
                kind: None,
            }],
            match_namespaces: vec!["team".into()],
            match_names: vec![],
            matching: Default::default(),
            match_conditions: vec![],
            undecidable: vec![],
            annotations: Default::default(),
            labels: Default::default(),
            created: Some("2026-01-01T00:00:00Z".into()),
            expires_at: None,
        }
    }

    #[test]
    fn earliest_expiry_wins_and_due_is_earliest() {
        let mut x = exception();
        x.expires_at = Some("2026-03-01T00:00:00Z".into());
        x.labels.insert(TTL_LABEL.into(), "720h".into());
        x.annotations
            .insert("forewarn.dev/review-by".into(), "2026-02-15".into());
        let (v, problems) = view(&x, &ExceptionKeys::defaults("forewarn.dev/"), Tz::UTC);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(v.id, "team/x");
        assert_eq!(v.expires, Some(utc("2026-01-31T00:00:00Z")));
        assert_eq!(v.expiry_source, Some("label cleanup.kyverno.io/ttl"));
        assert_eq!(v.due, v.expires);
        assert!(is_active(&v, utc("2026-01-31T00:00:00Z")));
        assert!(!is_active(&v, utc("2026-01-31T00:00:01Z")));
    }

    #[test]
    fn bad_values_are_problems_not_panics() {
        let mut x = exception();
        x.namespace = None;
        x.expires_at = Some("tomorrow".into());
        x.labels.insert(TTL_LABEL.into(), "10ay".into());
        x.annotations
            .insert("forewarn.dev/review-by".into(), "soon".into());
        let (v, problems) = view(&x, &ExceptionKeys::defaults("forewarn.dev/"), Tz::UTC);
        assert_eq!((v.review_by, v.expires, v.due), (None, None, None));
        let fields: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.object.as_str(), p.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("exception x", "metadata.annotations.forewarn.dev/review-by"),
                ("exception x", "spec.expiresAt"),
                ("exception x", "metadata.labels.cleanup.kyverno.io/ttl"),
            ]
        );
        assert!(problems.iter().all(Problem::is_error));
    }
}
