//! The audit review as a document: Markdown (for a pull request or a wiki) and one
//! self-contained HTML page — inline CSS, an inline SVG burn-down chart per rollout, no
//! JavaScript, nothing fetched from the network (its Content-Security-Policy forbids it), laid
//! out for print too.
//!
//! Pure: [`crate::plan::review::Review`] in, text out. Every value from the cluster or the
//! config is escaped for where it lands (HTML text and attributes; Markdown text and table
//! cells). Never decides anything about the rollouts.

use crate::config::Config;
use crate::plan::burndown::Status;
use crate::plan::review::{Burndown, PolicyReview, Review};
use crate::plan::triage::{AnsweredRow, TriageView};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use std::fmt::Write as _;

fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

fn short(d: NaiveDate) -> String {
    d.format("%-d %b").to_string()
}

fn relative(days: i64) -> String {
    crate::model::words::relative_days(days)
}

/// The trend in words: "23 → 11 failing in 14 days; at this rate ready by 18 Dec".
fn trend_words(b: &Burndown, window: u32, today: NaiveDate) -> String {
    let first = today - Duration::days(i64::from(window) - 1);
    let recent: Vec<_> = b.history.iter().filter(|p| p.date >= first).collect();
    let (Some(from), Some(to)) = (recent.first(), recent.last()) else {
        return "no counts recorded yet".to_string();
    };
    if recent.len() < 2 {
        return format!("{} failing, no trend yet", to.failing);
    }
    let days = (to.date - from.date).num_days();
    let mut s = format!(
        "{} → {} failing in {}",
        from.failing,
        to.failing,
        crate::model::words::plural(days as u64, "day")
    );
    match (b.status, b.projected_ready) {
        (Status::Ready, _) => {}
        (_, Some(r)) => {
            let _ = write!(s, "; at this rate ready by {}", short(r));
        }
        _ => s.push_str("; not falling"),
    }
    s
}

/// A team's answer in words: "has seen it", "will fix by Fri 18 Dec 2026", "needs an
/// exception" (the late flag is shown by each format).
fn answer_words(a: &AnsweredRow) -> String {
    match &a.fix_by {
        Some(d) => format!("will fix by {d}"),
        None if a.need_exception => "needs an exception".to_string(),
        None => "has seen it".to_string(),
    }
}

/// When a team answered, in the config's time zone.
fn answered_at(a: &AnsweredRow, tz: Tz) -> String {
    a.at.with_timezone(&tz)
        .format("%a %-d %b %Y %H:%M")
        .to_string()
}

/// Why a policy's triage lists nothing, or `None` when it lists something.
fn triage_empty(t: Option<&TriageView>) -> Option<&'static str> {
    match t {
        None => {
            Some("The triage answers could not be read, so who has answered is not known here.")
        }
        Some(t) if t.answered.is_empty() && t.unanswered.is_empty() => {
            Some("No team is asked: nothing fails in a team's namespaces.")
        }
        Some(_) => None,
    }
}

// ----------------------------------------------------------------------------- Markdown --

/// Escapes text for Markdown (and for a table cell: `|` and line breaks too).
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The review as Markdown.
pub fn markdown(r: &Review, config: &Config) -> String {
    let today = r.generated_at.with_timezone(&config.time_zone).date_naive();
    let mut o = String::new();
    let _ = writeln!(o, "# Audit review — {}\n", day(today));
    match &r.owner {
        Some(owner) => {
            let _ = writeln!(o, "Review owner: {}  ", md(owner));
        }
        None => {
            let _ = writeln!(o, "Review owner: not set (`review.owner`)  ");
        }
    }
    let _ = writeln!(
        o,
        "Trends are fitted on the last {} days of daily counts.{}\n",
        r.trend_days,
        r.team
            .as_deref()
            .map(|t| format!(" Team: {}.", md(t)))
            .unwrap_or_default()
    );
    if r.policies.is_empty() {
        let _ = writeln!(
            o,
            "No rollout to review: no policy has an enforcement date."
        );
        return o;
    }
    let _ = writeln!(
        o,
        "| policy | cluster | enforcement | review due | failing | status | projected ready |"
    );
    let _ = writeln!(o, "|---|---|---|---|---:|---|---|");
    for p in &r.policies {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md(&p.policy),
            md(&p.cluster),
            p.enforce_date.map_or("—".into(), day),
            p.review_due.map_or("—".into(), day),
            p.failing,
            p.burndown.status.as_str(),
            p.burndown.projected_ready.map_or("—".into(), day)
        );
    }
    for p in &r.policies {
        policy_markdown(&mut o, p, r.trend_days, today, config.time_zone);
    }
    o
}

fn policy_markdown(o: &mut String, p: &PolicyReview, window: u32, today: NaiveDate, tz: Tz) {
    let _ = writeln!(o, "\n## {} (`{}`)\n", md(&p.title), md(&p.policy));
    let enforce = match (p.enforce_date, p.days_left) {
        (Some(d), Some(left)) => format!("{} ({})", day(d), relative(left)),
        _ => "no date".to_string(),
    };
    let _ = writeln!(o, "- **Enforcement:** {enforce}");
    if let Some(due) = p.review_due {
        let _ = writeln!(
            o,
            "- **Review due:** {} ({})",
            day(due),
            relative((due - today).num_days())
        );
    }
    let _ = writeln!(
        o,
        "- **Mode in cluster {}:** {}{} ({} in Audit, {} in Enforce)",
        md(&p.cluster),
        p.mode,
        if p.enforced { ", flipped" } else { "" },
        crate::model::words::plural(p.audit_namespaces as u64, "namespace"),
        p.enforce_namespaces
    );
    let _ = writeln!(
        o,
        "- **Failing:** {} ({} excepted) — **{}**: {}",
        p.failing,
        p.excepted,
        p.burndown.status.as_str(),
        trend_words(&p.burndown, window, today)
    );
    let rd = &p.readiness;
    let blockers = rd
        .blockers
        .iter()
        .map(|(a, n)| format!("{} {n}", md(a)))
        .collect::<Vec<_>>()
        .join(", ");
    if rd.ready {
        let _ = writeln!(
            o,
            "- **If flipped today:** ready — nothing would be blocked ({} covered by exceptions)",
            rd.covered
        );
    } else {
        let _ = writeln!(
            o,
            "- **If flipped today:** not ready — {} would be blocked ({blockers}){}",
            rd.would_block,
            if rd.possibly_covered > 0 {
                format!(", {} only possibly covered", rd.possibly_covered)
            } else {
                String::new()
            }
        );
    }
    if !rd.kept_in_audit.is_empty() {
        let kept = rd
            .kept_in_audit
            .iter()
            .map(|(ns, n)| format!("{} ({n})", md(ns)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(o, "- **Stays in Audit by override:** {kept}");
    }
    if let Some(c) = &p.contact {
        let _ = writeln!(o, "- **Contact:** {}", md(c));
    }
    if let Some(g) = &p.guidance {
        let _ = writeln!(o, "- **Guide:** <{}>", g.replace(['<', '>', ' '], ""));
    }
    let _ = writeln!(o, "\n### Teams\n");
    if p.teams.is_empty() {
        let _ = writeln!(o, "Nothing fails in any team's namespaces.");
    } else {
        let _ = writeln!(
            o,
            "| team | failing | excepted | status | projected ready | trend |"
        );
        let _ = writeln!(o, "|---|---:|---:|---|---|---|");
        for t in &p.teams {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                md(&t.name),
                t.failing,
                t.excepted,
                t.burndown.status.as_str(),
                t.burndown.projected_ready.map_or("—".into(), day),
                md(&trend_words(&t.burndown, window, today))
            );
        }
        for t in p.teams.iter().filter(|t| !t.namespaces.is_empty()) {
            let _ = writeln!(o, "\n**{}**\n", md(&t.name));
            for ns in &t.namespaces {
                let messages = ns
                    .messages
                    .iter()
                    .take(3)
                    .map(|m| format!("“{}” ×{}", md(&m.message), m.count))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(
                    o,
                    "- `{}`: {} failing, {} excepted{}",
                    ns.name.replace('`', "'"),
                    ns.failing,
                    ns.excepted,
                    if messages.is_empty() {
                        String::new()
                    } else {
                        format!(" — {messages}")
                    }
                );
            }
        }
    }
    let _ = writeln!(o, "\n### Exceptions\n");
    if p.exceptions.is_empty() {
        let _ = writeln!(o, "None names this policy.");
    } else {
        let _ = writeln!(o, "| exception | owner | reason | due | findings |");
        let _ = writeln!(o, "|---|---|---|---|---|");
        for x in &p.exceptions {
            let _ = writeln!(
                o,
                "| {}{} | {} | {} | {} | {} |",
                md(&x.id),
                if x.active { "" } else { " (expired)" },
                x.owner.as_deref().map_or("—".into(), md),
                x.reason.as_deref().map_or("—".into(), md),
                x.due.as_deref().map_or("—".into(), md),
                if x.findings.is_empty() {
                    "—".to_string()
                } else {
                    md(&x.findings.join("; "))
                }
            );
        }
    }
    let _ = writeln!(o, "\n### Triage\n");
    match (triage_empty(p.triage.as_ref()), &p.triage) {
        (Some(why), _) => {
            let _ = writeln!(o, "{why}");
        }
        (None, Some(t)) => {
            if !t.answered.is_empty() {
                let _ = writeln!(o, "| team | answer | by | when |");
                let _ = writeln!(o, "|---|---|---|---|");
                for a in &t.answered {
                    let _ = writeln!(
                        o,
                        "| {} | {}{} | {} | {} |",
                        md(&a.team),
                        md(&answer_words(a)),
                        if a.late {
                            " — **after the enforcement date**"
                        } else {
                            ""
                        },
                        md(&a.by),
                        answered_at(a, tz)
                    );
                }
            }
            if !t.unanswered.is_empty() {
                let names: Vec<String> = t.unanswered.iter().map(|n| md(n)).collect();
                let _ = writeln!(
                    o,
                    "{}**No answer yet from:** {}",
                    if t.answered.is_empty() { "" } else { "\n" },
                    names.join(", ")
                );
            }
        }
        (None, None) => {}
    }
    let _ = writeln!(o, "\n### Burn-down\n");
    if p.burndown.history.is_empty() {
        let _ = writeln!(o, "No counts recorded yet.");
    } else {
        let _ = writeln!(o, "| date | failing | excepted |");
        let _ = writeln!(o, "|---|---:|---:|");
        for pt in &p.burndown.history {
            let _ = writeln!(o, "| {} | {} | {} |", pt.date, pt.failing, pt.excepted);
        }
    }
}

// --------------------------------------------------------------------------------- HTML --

/// Escapes text for HTML text and double-quoted attributes.
fn h(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --ink: #1d2330; --muted: #5b6474; --line: #d9dee7; --ok: #1b7f3b; --warn: #b35c00; --bad: #b3261e; --none: #6b7280; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1000px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.meta { color: var(--muted); margin: 0 0 20px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
section.policy { border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px; margin: 22px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 8px 0 12px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; font-weight: 600; color: #fff; white-space: nowrap; }
.status.ready, .status.on-track { background: var(--ok); }
.status.at-risk { background: var(--warn); }
.status.no-progress { background: var(--bad); }
.status.no-data { background: var(--none); }
svg.chart { width: 100%; height: auto; max-width: 720px; display: block; margin: 6px 0; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
.chart .actual { fill: none; stroke: #2457c5; stroke-width: 2.5; }
.chart .dot { fill: #2457c5; }
.chart .projection { fill: none; stroke: #2457c5; stroke-width: 1.5; stroke-dasharray: 5 4; }
.chart .enforce { stroke: var(--bad); stroke-width: 1.5; }
.chart .axis { stroke: var(--line); }
.late { color: var(--warn); }
ul.ns { margin: 4px 0 10px 18px; padding: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  section.policy { break-inside: avoid-page; border: none; border-top: 2px solid #000; border-radius: 0; padding: 10px 0; }
  .status { color: #000; background: none !important; border: 1px solid #000; }
  a { color: inherit; text-decoration: none; }
  a[href]::after { content: " (" attr(href) ")"; font-size: 9pt; }
}
"#;

fn status_badge(s: Status) -> String {
    format!(
        r#"<span class="status {}">{}</span>"#,
        s.as_str().replace(' ', "-"),
        s.as_str()
    )
}

/// The burn-down chart of one series: recorded failing counts (solid), the projection from the
/// latest point to its projected ready day (dashed), and the enforcement day (a red line).
fn chart(b: &Burndown, enforce: Option<NaiveDate>, today: NaiveDate, label: &str) -> String {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    const L: f64 = 44.0;
    const R: f64 = 16.0;
    const T: f64 = 14.0;
    const B: f64 = 34.0;
    let pts: Vec<(NaiveDate, u64)> = b.history.iter().map(|p| (p.date, p.failing)).collect();
    let first = pts.first().map_or(today, |p| p.0).min(today);
    let mut last = pts.last().map_or(today, |p| p.0).max(today);
    if let Some(e) = enforce {
        last = last.max(e);
    }
    if let Some(r) = b.projected_ready {
        last = last.max(r);
    }
    if last <= first {
        last = first + Duration::days(1);
    }
    let span = (last - first).num_days() as f64;
    let top = pts.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let x = |d: NaiveDate| L + (d - first).num_days() as f64 / span * (W - L - R);
    let y = |v: f64| T + (1.0 - v / top) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="burn-down of {l}" data-series="{l}"><title>Burn-down: {l}</title>"#,
        l = h(label)
    );
    let _ = write!(
        s,
        r#"<line class="axis" x1="{L}" y1="{y0:.1}" x2="{xr:.1}" y2="{y0:.1}"/><line class="axis" x1="{L}" y1="{T}" x2="{L}" y2="{y0:.1}"/>"#,
        y0 = y(0.0),
        xr = W - R
    );
    let _ = write!(
        s,
        r#"<text x="{tx}" y="{ty:.1}" text-anchor="end">{top}</text><text x="{tx}" y="{y0:.1}" text-anchor="end">0</text>"#,
        tx = L - 6.0,
        ty = y(top) + 4.0,
        y0 = y(0.0) + 4.0,
        top = top as u64
    );
    let _ = write!(
        s,
        r#"<text x="{L}" y="{by}">{a}</text><text x="{xr}" y="{by}" text-anchor="end">{b}</text>"#,
        by = H - 10.0,
        xr = W - R,
        a = h(&short(first)),
        b = h(&short(last))
    );
    if let Some(e) = enforce {
        let ex = x(e);
        let _ = write!(
            s,
            r#"<line class="enforce" x1="{ex:.1}" y1="{T}" x2="{ex:.1}" y2="{y0:.1}"/><text x="{tx:.1}" y="{ty}" text-anchor="end" class="enforce-label">enforcement {d}</text>"#,
            y0 = y(0.0),
            tx = ex - 4.0,
            ty = T + 10.0,
            d = h(&short(e))
        );
    }
    if !pts.is_empty() {
        let line = pts
            .iter()
            .map(|(d, v)| format!("{:.1},{:.1}", x(*d), y(*v as f64)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(s, r#"<polyline class="actual" points="{line}"/>"#);
        for (d, v) in &pts {
            let _ = write!(
                s,
                r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="2.5"><title>{}: {v} failing</title></circle>"#,
                x(*d),
                y(*v as f64),
                h(&day(*d))
            );
        }
        if let (Some(r), Some((ld, lv))) = (b.projected_ready, pts.last())
            && *lv > 0
        {
            let _ = write!(
                s,
                r#"<polyline class="projection" points="{:.1},{:.1} {:.1},{:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="ready-label">ready {}</text>"#,
                x(*ld),
                y(*lv as f64),
                x(r),
                y(0.0),
                x(r),
                y(0.0) + 13.0,
                h(&short(r))
            );
        }
    } else {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no counts recorded yet</text>"#,
            W / 2.0,
            H / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

/// The review as one self-contained HTML page.
pub fn html(r: &Review, config: &Config) -> String {
    let today = r.generated_at.with_timezone(&config.time_zone).date_naive();
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Audit review — {d}</title><style>{CSS}</style></head><body>
<h1>Audit review — {d}</h1>
<p class="meta">Review owner: {owner} · trends fitted on the last {w} days of daily counts{team}</p>
"#,
        d = h(&day(today)),
        owner = r
            .owner
            .as_deref()
            .map_or("<em>not set (review.owner)</em>".to_string(), h),
        w = r.trend_days,
        team = r
            .team
            .as_deref()
            .map(|t| format!(" · team {}", h(t)))
            .unwrap_or_default()
    );
    if r.policies.is_empty() {
        o.push_str(
            "<p>No rollout to review: no policy has an enforcement date.</p></body></html>\n",
        );
        return o;
    }
    o.push_str(r#"<table class="summary"><thead><tr><th>policy</th><th>cluster</th><th>enforcement</th><th>review due</th><th class="n">failing</th><th>status</th><th>projected ready</th></tr></thead><tbody>"#);
    for p in &r.policies {
        let _ = write!(
            o,
            r##"<tr><td><a href="#{id}">{title}</a></td><td>{c}</td><td>{e}</td><td>{due}</td><td class="n">{f}</td><td>{s}</td><td>{pr}</td></tr>"##,
            id = h(&anchor(p)),
            title = h(&p.title),
            c = h(&p.cluster),
            e = p.enforce_date.map_or("—".into(), |d| h(&day(d))),
            due = p.review_due.map_or("—".into(), |d| h(&day(d))),
            f = p.failing,
            s = status_badge(p.burndown.status),
            pr = p
                .burndown
                .projected_ready
                .map_or("—".into(), |d| h(&day(d)))
        );
    }
    o.push_str("</tbody></table>\n");
    for p in &r.policies {
        policy_html(&mut o, p, r.trend_days, today, config.time_zone);
    }
    o.push_str("</body></html>\n");
    o
}

fn anchor(p: &PolicyReview) -> String {
    format!("{}-{}", p.cluster, p.policy)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn policy_html(o: &mut String, p: &PolicyReview, window: u32, today: NaiveDate, tz: Tz) {
    let _ = write!(
        o,
        r#"<section class="policy" id="{id}" data-policy="{pol}"><h2>{title} <code>{pol}</code> {badge}</h2><dl class="facts">"#,
        id = h(&anchor(p)),
        pol = h(&p.policy),
        title = h(&p.title),
        badge = status_badge(p.burndown.status)
    );
    let fact = |o: &mut String, k: &str, v: String| {
        let _ = write!(o, "<dt>{}</dt><dd>{v}</dd>", h(k));
    };
    fact(
        o,
        "Enforcement",
        match (p.enforce_date, p.days_left) {
            (Some(d), Some(left)) => format!("{} ({})", h(&day(d)), h(&relative(left))),
            _ => "no date".into(),
        },
    );
    if let Some(due) = p.review_due {
        fact(
            o,
            "Review due",
            format!(
                "{} ({})",
                h(&day(due)),
                h(&relative((due - today).num_days()))
            ),
        );
    }
    fact(
        o,
        "Mode",
        format!(
            "{}{} in cluster {} ({} in Audit, {} in Enforce)",
            p.mode,
            if p.enforced { ", flipped" } else { "" },
            h(&p.cluster),
            crate::model::words::plural(p.audit_namespaces as u64, "namespace"),
            p.enforce_namespaces
        ),
    );
    fact(
        o,
        "Failing",
        format!(
            "{} ({} excepted) — {}",
            p.failing,
            p.excepted,
            h(&trend_words(&p.burndown, window, today))
        ),
    );
    fact(
        o,
        "Projected ready",
        p.burndown
            .projected_ready
            .map_or("—".into(), |d| h(&day(d))),
    );
    let rd = &p.readiness;
    fact(
        o,
        "If flipped today",
        if rd.ready {
            format!(
                "ready — nothing would be blocked ({} covered by exceptions)",
                rd.covered
            )
        } else {
            format!(
                "not ready — {} would be blocked ({}){}",
                rd.would_block,
                h(&rd
                    .blockers
                    .iter()
                    .map(|(a, n)| format!("{a} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")),
                if rd.possibly_covered > 0 {
                    format!(", {} only possibly covered", rd.possibly_covered)
                } else {
                    String::new()
                }
            )
        },
    );
    if !rd.kept_in_audit.is_empty() {
        fact(
            o,
            "Stays in Audit by override",
            h(&rd
                .kept_in_audit
                .iter()
                .map(|(ns, n)| format!("{ns} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")),
        );
    }
    if let Some(c) = &p.contact {
        fact(o, "Contact", h(c));
    }
    if let Some(g) = &p.guidance {
        fact(o, "Guide", format!(r#"<a href="{0}">{0}</a>"#, h(g)));
    }
    o.push_str("</dl><h3>Burn-down</h3>");
    o.push_str(&chart(&p.burndown, p.enforce_date, today, &p.policy));
    o.push_str("<h3>Teams</h3>");
    if p.teams.is_empty() {
        o.push_str("<p>Nothing fails in any team's namespaces.</p>");
    } else {
        o.push_str(r#"<table class="teams"><thead><tr><th>team</th><th class="n">failing</th><th class="n">excepted</th><th>status</th><th>projected ready</th><th>trend</th></tr></thead><tbody>"#);
        for t in &p.teams {
            let _ = write!(
                o,
                r#"<tr data-team="{k}"><td>{n}</td><td class="n">{f}</td><td class="n">{e}</td><td>{s}</td><td>{pr}</td><td>{tw}</td></tr>"#,
                k = h(&t.team),
                n = h(&t.name),
                f = t.failing,
                e = t.excepted,
                s = status_badge(t.burndown.status),
                pr = t
                    .burndown
                    .projected_ready
                    .map_or("—".into(), |d| h(&day(d))),
                tw = h(&trend_words(&t.burndown, window, today))
            );
        }
        o.push_str("</tbody></table>");
        for t in p.teams.iter().filter(|t| !t.namespaces.is_empty()) {
            let _ = write!(o, "<p><strong>{}</strong></p><ul class=\"ns\">", h(&t.name));
            for ns in &t.namespaces {
                let messages = ns
                    .messages
                    .iter()
                    .take(3)
                    .map(|m| format!("“{}” ×{}", h(&m.message), m.count))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = write!(
                    o,
                    "<li><code>{}</code>: {} failing, {} excepted{}</li>",
                    h(&ns.name),
                    ns.failing,
                    ns.excepted,
                    if messages.is_empty() {
                        String::new()
                    } else {
                        format!(" — {messages}")
                    }
                );
            }
            o.push_str("</ul>");
        }
    }
    o.push_str("<h3>Exceptions</h3>");
    if p.exceptions.is_empty() {
        o.push_str("<p>None names this policy.</p>");
    } else {
        o.push_str(r#"<table class="exceptions"><thead><tr><th>exception</th><th>owner</th><th>reason</th><th>due</th><th>findings</th></tr></thead><tbody>"#);
        for x in &p.exceptions {
            let _ = write!(
                o,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                h(&x.id),
                if x.active { "" } else { " (expired)" },
                x.owner.as_deref().map_or("—".into(), h),
                x.reason.as_deref().map_or("—".into(), h),
                x.due.as_deref().map_or("—".into(), h),
                if x.findings.is_empty() {
                    "—".to_string()
                } else {
                    h(&x.findings.join("; "))
                }
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("<h3>Triage</h3>");
    match (triage_empty(p.triage.as_ref()), &p.triage) {
        (Some(why), _) => {
            let _ = write!(o, r#"<p class="triage-note">{}</p>"#, h(why));
        }
        (None, Some(t)) => {
            if !t.answered.is_empty() {
                o.push_str(r#"<table class="triage"><thead><tr><th>team</th><th>answer</th><th>by</th><th>when</th></tr></thead><tbody>"#);
                for a in &t.answered {
                    let _ = write!(
                        o,
                        r#"<tr data-answer="{kind}"><td>{team}</td><td>{words}{late}</td><td>{by}</td><td>{at}</td></tr>"#,
                        kind = match a.answer {
                            crate::model::triage::Triage::GotIt => "got-it",
                            crate::model::triage::Triage::FixBy(_) => "fix-by",
                            crate::model::triage::Triage::NeedException => "need-exception",
                        },
                        team = h(&a.team),
                        words = h(&answer_words(a)),
                        late = if a.late {
                            r#" — <strong class="late">after the enforcement date</strong>"#
                        } else {
                            ""
                        },
                        by = h(&a.by),
                        at = h(&answered_at(a, tz))
                    );
                }
                o.push_str("</tbody></table>");
            }
            if !t.unanswered.is_empty() {
                let _ = write!(
                    o,
                    r#"<p class="unanswered"><strong>No answer yet from:</strong> {}</p>"#,
                    h(&t.unanswered.join(", "))
                );
            }
        }
        (None, None) => {}
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_cluster_cannot_become_markup() {
        assert_eq!(
            h(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(md("a|b <i>*x*</i>\n`c`"), r"a\|b \<i\>\*x\*\</i\> \`c\`");
    }
}
