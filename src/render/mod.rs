//! Turns a planned notice into a Slack message: Block Kit blocks plus a plain-text fallback.
//!
//! Words come from Handlebars templates (strict mode, every value escaped for mrkdwn); the
//! structure — header, sections, one section per namespace, context footer — is built here with
//! slack-morphism's types, within Block Kit's limits. Rendering is pure: it never sends anything
//! and reads no clock — the moment a message is rendered for (the moment it is sent) and the
//! Slack users of the contacts' emails come in a [`RenderContext`]. Several heads-ups (or
//! reminders) for one destination at one tick become one message ([`batch`]); contacts become
//! mentions ([`mention`]); failure messages are grouped and shortened ([`failures`]).

pub mod actions;
pub mod batch;
pub mod failures;
pub mod mention;
pub mod review;

use crate::config::Config;
use crate::model::ids::{ClusterName, Destination, NoticeId};
use crate::plan::views::{PlatformView, TeamView};
use crate::plan::{Notice, NoticeKind, Payload};
use chrono::{DateTime, FixedOffset};
use handlebars::{Handlebars, handlebars_helper};
use serde::Serialize;
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Block Kit: blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// Block Kit: characters per section text.
pub const MAX_SECTION: usize = 3000;
/// Block Kit: characters per header text.
pub const MAX_HEADER: usize = 150;

/// A template file: its name (`<name>.hbs`), the parts it must define, its built-in text.
pub struct TemplateKind {
    pub name: &'static str,
    pub sections: &'static [&'static str],
    builtin: &'static str,
}

/// The parts of a notice template.
pub const NOTICE_SECTIONS: &[&str] = &[
    "header",
    "what_changes",
    "namespace",
    "what_to_do",
    "contact",
    "footer",
    "text",
];
/// The parts of a slash-command answer template: `item` is rendered once per listed item.
pub const ANSWER_SECTIONS: &[&str] = &["header", "body", "item", "footer", "text"];
/// The parts of the triage template: the button labels, the answered line, the refusal.
pub const TRIAGE_SECTIONS: &[&str] = &["got_it", "fix_by", "need_exception", "answered", "refused"];
/// Parts rendered as plain text (no mrkdwn escaping): headers and button labels.
const PLAIN_SECTIONS: &[&str] = &["header", "got_it", "fix_by", "need_exception"];

/// Every template forewarn uses.
pub const KINDS: &[TemplateKind] = &[
    TemplateKind {
        name: "announce",
        sections: NOTICE_SECTIONS,
        builtin: include_str!("../../templates/announce.hbs"),
    },
    TemplateKind {
        name: "why-policy",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/why-policy.hbs"),
    },
    TemplateKind {
        name: "why-resource",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/why-resource.hbs"),
    },
    TemplateKind {
        name: "status",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/status.hbs"),
    },
    TemplateKind {
        name: "exceptions",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/exceptions.hbs"),
    },
    TemplateKind {
        name: "reminder",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/reminder.hbs"),
    },
    TemplateKind {
        name: "digest",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/digest.hbs"),
    },
    TemplateKind {
        name: "readiness",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/readiness.hbs"),
    },
    TemplateKind {
        name: "overdue",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/overdue.hbs"),
    },
    TemplateKind {
        name: "enforced",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/enforced.hbs"),
    },
    TemplateKind {
        name: "postponed",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/postponed.hbs"),
    },
    TemplateKind {
        name: "all-clear",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/all-clear.hbs"),
    },
    TemplateKind {
        name: "failure",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/failure.hbs"),
    },
    TemplateKind {
        name: "help",
        sections: ANSWER_SECTIONS,
        builtin: include_str!("../../templates/help.hbs"),
    },
    TemplateKind {
        name: "triage",
        sections: TRIAGE_SECTIONS,
        builtin: include_str!("../../templates/triage.hbs"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
    #[error("template {file}, section {section}: {message}")]
    Render {
        file: String,
        section: String,
        message: String,
    },
}

/// What a message is rendered for, besides the notice: the moment it is sent (countdowns such
/// as "in 4 days" are counted from it) and the Slack user id of every contact email the
/// delivery edge could look up (lower-cased email → `U…`), so those contacts ping.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    pub at: DateTime<FixedOffset>,
    pub mentions: BTreeMap<String, String>,
}

impl RenderContext {
    /// Rendered for `at`, with no contact looked up (emails stay text).
    pub fn at(at: DateTime<FixedOffset>) -> Self {
        Self {
            at,
            mentions: BTreeMap::new(),
        }
    }
}

/// A message ready for `chat.postMessage`.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Channel name or ID, or `email:…` for direct messages.
    pub channel: Destination,
    /// Plain-text fallback for notifications.
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

/// Escapes text for Slack mrkdwn: only `&`, `<` and `>`.
pub fn escape_mrkdwn(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The shortest a cut line is made when a section is too long: enough to say what it is.
const MIN_LINE: usize = 60;

/// Fits a section's `text` into `limit` characters while keeping every heading, the start of
/// every paragraph and every link: lists (runs of `•` lines) lose their last entries first,
/// each shortened run ending with "…and N more"; then the longest lines are cut, at a word
/// boundary with "…" ([`cut_chars`]), to the same length; only when even that cannot fit are
/// the middle lines dropped, keeping the first and the last.
pub fn fit_lines(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    enum Seg<'a> {
        Line(&'a str),
        Run(Vec<&'a str>, usize),
    }
    let mut segs: Vec<Seg<'_>> = Vec::new();
    for line in text.lines() {
        let bullet = line.trim_start().starts_with('•');
        match segs.last_mut() {
            Some(Seg::Run(items, _)) if bullet => items.push(line),
            _ if bullet => segs.push(Seg::Run(vec![line], 0)),
            _ => segs.push(Seg::Line(line)),
        }
    }
    let lines_of = |segs: &[Seg<'_>]| -> Vec<String> {
        let mut out = Vec::new();
        for seg in segs {
            match seg {
                Seg::Line(l) => out.push(l.to_string()),
                Seg::Run(items, dropped) => {
                    out.extend(items.iter().map(|l| l.to_string()));
                    if *dropped > 0 {
                        out.push(format!("…and {dropped} more"));
                    }
                }
            }
        }
        out
    };
    // Whether the lines fit once every line is cut to at most `cap` characters.
    let total = |lines: &[String], cap: usize| -> usize {
        lines
            .iter()
            .map(|l| l.chars().count().min(cap))
            .sum::<usize>()
            + lines.len()
            - 1
    };
    loop {
        let lines = lines_of(&segs);
        if total(&lines, MIN_LINE) <= limit {
            // The largest common cap that fits.
            let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            let (mut lo, mut hi) = (MIN_LINE, longest.max(MIN_LINE));
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if total(&lines, mid) <= limit {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return lines
                .iter()
                .map(|l| cut_chars(l, lo))
                .collect::<Vec<_>>()
                .join("\n");
        }
        // Shorten the longest list by one entry.
        let longest = segs
            .iter_mut()
            .filter_map(|s| match s {
                Seg::Run(items, dropped) if items.len() > 1 => Some((items, dropped)),
                _ => None,
            })
            .max_by_key(|(items, _)| items.len());
        match longest {
            Some((items, dropped)) => {
                items.pop();
                *dropped += 1;
            }
            None => break,
        }
    }
    // Too many lines even so: the first, as many as fit, and the last.
    let lines = lines_of(&segs);
    let n = lines.len();
    let first = cut_chars(&lines[0], limit / 3);
    let last = cut_chars(&lines[n - 1], limit / 3);
    let mut kept = vec![first];
    let mut used = kept[0].chars().count() + 1 + last.chars().count();
    for (i, line) in lines[1..n - 1].iter().enumerate() {
        let line = cut_chars(line, MIN_LINE * 2);
        let marker = format!("…and {} more", n - 2 - i);
        if used + 1 + line.chars().count() + 1 + marker.chars().count() > limit {
            kept.push(marker);
            break;
        }
        used += 1 + line.chars().count();
        kept.push(line);
    }
    kept.push(last);
    kept.join("\n")
}

/// Cuts `text` to at most `limit` characters, ending with "…" when cut: at a word boundary
/// when there is one in the second half, and never inside an mrkdwn escape (`&amp;`), a
/// Slack link or mention (`<…>`) or `code`.
pub fn cut_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    if limit == 0 {
        return String::new();
    }
    let mut end = text
        .char_indices()
        .nth(limit - 1)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    if let Some(amp) = head.rfind('&')
        && !head[amp..].contains(';')
        && head.len() - amp < 8
    {
        end = amp;
    }
    if let Some(lt) = text[..end].rfind('<')
        && !text[lt..end].contains('>')
    {
        end = lt;
    }
    if text[..end].matches('`').count() % 2 == 1
        && let Some(tick) = text[..end].rfind('`')
    {
        end = tick;
    }
    if let Some(ws) = text[..end].rfind(char::is_whitespace)
        && ws >= end / 2
    {
        end = ws;
    }
    let mut s = text[..end].trim_end().to_string();
    s.push('…');
    s
}

pub use crate::model::words::plural;

handlebars_helper!(plural_helper: |n: u64, word: str| plural(n, word));

/// `{{mention contact}}` in mrkdwn parts: the contact with allowed Slack mentions kept, emails
/// whose Slack user is known (the root's `mentions`) turned into `<@U…>`, the rest escaped
/// (see [`mention`]). Written as is: its output is already escaped.
fn mention_md(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let text = h.param(0).and_then(|p| p.value().as_str()).unwrap_or("");
    let known = ctx.data().get("mentions");
    let user_of = |email: &str| {
        known
            .and_then(|m| m.get(email))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    out.write(&mention::to_mrkdwn(text, user_of))?;
    Ok(())
}

/// `{{mention contact}}` in plain-text parts (the header): the contact as written.
fn mention_plain(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    out.write(h.param(0).and_then(|p| p.value().as_str()).unwrap_or(""))?;
    Ok(())
}

/// Compiled templates for every notice kind.
pub struct Renderer {
    md: Handlebars<'static>,
    plain: Handlebars<'static>,
    /// Template name → the file it was read from.
    files: BTreeMap<&'static str, String>,
}

/// Splits a template file into its `{{!-- section: NAME --}}` parts.
fn split_sections(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut body = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t
            .strip_prefix("{{!-- section:")
            .and_then(|r| r.strip_suffix("--}}"))
            .map(str::trim)
        {
            if let Some(c) = current.take() {
                out.insert(c, std::mem::take(&mut body));
            }
            current = Some(name.to_string());
            body.clear();
        } else if current.is_some() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some(c) = current {
        out.insert(c, body);
    }
    out
}

/// `.hbs` files in a templates directory that no template kind reads (a misspelt
/// `announc.hbs`), each with a message listing the names forewarn knows.
pub fn unknown_template_files(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let known: Vec<String> = KINDS.iter().map(|k| format!("{}.hbs", k.name)).collect();
    let mut out: Vec<(String, String)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".hbs") && !known.contains(name))
        .map(|name| {
            let message = format!(
                "unknown template file '{name}': it is not used; forewarn reads {}",
                known.join(", ")
            );
            (name, message)
        })
        .collect();
    out.sort();
    out
}

impl Renderer {
    /// The templates shipped inside the binary.
    pub fn builtin() -> Result<Self, RenderError> {
        Self::new(None)
    }

    /// Templates from `dir` (`<kind>.hbs`), falling back to the built-in file for kinds the
    /// directory does not have.
    pub fn new(dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut md = Handlebars::new();
        md.set_strict_mode(true);
        md.register_escape_fn(escape_mrkdwn);
        md.register_helper("plural", Box::new(plural_helper));
        md.register_helper("mention", Box::new(mention_md));
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        plain.register_helper("plural", Box::new(plural_helper));
        plain.register_helper("mention", Box::new(mention_plain));
        let mut files = BTreeMap::new();
        for kind in KINDS {
            let name = format!("{}.hbs", kind.name);
            let (file, text) = match dir.map(|d| d.join(&name)) {
                Some(path) if path.exists() => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| RenderError::Template {
                            file: path.display().to_string(),
                            message: format!("cannot read: {e}"),
                        })?;
                    (path.display().to_string(), text)
                }
                _ => (format!("built-in {name}"), kind.builtin.to_string()),
            };
            let sections = split_sections(&text);
            for &section in kind.sections {
                let body = sections.get(section).ok_or_else(|| RenderError::Template {
                    file: file.clone(),
                    message: format!("missing part '{{{{!-- section: {section} --}}}}'"),
                })?;
                let key = format!("{}.{section}", kind.name);
                let registry = if PLAIN_SECTIONS.contains(&section) {
                    &mut plain
                } else {
                    &mut md
                };
                registry
                    .register_template_string(&key, body.trim_end())
                    .map_err(|e| RenderError::Render {
                        file: file.clone(),
                        section: section.to_string(),
                        message: e.to_string(),
                    })?;
            }
            files.insert(kind.name, file);
        }
        Ok(Self { md, plain, files })
    }

    /// Loads the templates the config points at (or the built-in ones).
    pub fn for_config(config: &Config) -> Result<Self, RenderError> {
        Self::new(config.templates.as_deref())
    }

    fn part(&self, kind: &str, section: &str, data: &Value) -> Result<String, RenderError> {
        let key = format!("{kind}.{section}");
        let registry = if PLAIN_SECTIONS.contains(&section) {
            &self.plain
        } else {
            &self.md
        };
        registry
            .render(&key, data)
            .map(|s| s.trim().to_string())
            .map_err(|e| RenderError::Render {
                file: self
                    .files
                    .get(kind)
                    .cloned()
                    .unwrap_or_else(|| kind.to_string()),
                section: section.to_string(),
                message: e.to_string(),
            })
    }

    /// Renders a slash-command answer from template `kind` (`why-policy`, `status`, …): a
    /// header, the body, one section per entry of `data.items` (within the block limit), and
    /// the footer; `text` is the fallback.
    pub fn render_answer(&self, kind: &str, data: &Value) -> Result<Message, RenderError> {
        let mut blocks: Vec<SlackBlock> = Vec::new();
        let header = cut_chars(&self.part(kind, "header", data)?, MAX_HEADER);
        if !header.is_empty() {
            blocks.push(SlackHeaderBlock::new(SlackBlockPlainText::new(header).into()).into());
        }
        push_section(&mut blocks, self.part(kind, "body", data)?);
        let footer = self.part(kind, "footer", data)?;
        let items = data["items"].as_array().cloned().unwrap_or_default();
        let room = MAX_BLOCKS.saturating_sub(blocks.len() + usize::from(!footer.is_empty()));
        let shown = if items.len() > room {
            room.saturating_sub(1)
        } else {
            items.len()
        };
        for item in &items[..shown] {
            push_section(&mut blocks, self.part(kind, "item", &merged(item, data))?);
        }
        if shown < items.len() {
            push_section(&mut blocks, format!("…and {} more", items.len() - shown));
        }
        push_footer(&mut blocks, footer);
        Ok(Message {
            channel: Destination::Channel(String::new()),
            text: cut_chars(&self.part(kind, "text", data)?, MAX_SECTION),
            blocks,
        })
    }

    /// Renders a typed view with the answer layout of template `kind` (the failure report).
    pub fn render_view(&self, kind: &str, view: &impl Serialize) -> Result<Message, RenderError> {
        self.render_answer(kind, &template_data(kind, view)?)
    }

    /// Renders one notice for the moment it was planned to be told (see
    /// [`Notice::told_at`]), with no contact looked up. A heads-up is laid out as a batch of
    /// one ([`Renderer::render_batches`]).
    pub fn render(&self, notice: &Notice, config: &Config) -> Result<Message, RenderError> {
        self.render_with(notice, config, &RenderContext::at(notice.told_at))
    }

    /// Renders one notice for `ctx` (the moment it is sent, the contacts' Slack users).
    pub fn render_with(
        &self,
        notice: &Notice,
        config: &Config,
        ctx: &RenderContext,
    ) -> Result<Message, RenderError> {
        let part = self.notice_part(notice, config, ctx)?;
        let mut messages = batch::pack(vec![(vec![notice], part)], &notice.destination);
        Ok(messages.remove(0).message)
    }

    /// One notice's blocks and fallback text, within one message's block limit: a heads-up's
    /// per-policy part ([`Renderer::announce_blocks`]), or the answer layout of other kinds.
    fn notice_part(
        &self,
        notice: &Notice,
        config: &Config,
        ctx: &RenderContext,
    ) -> Result<batch::Part, RenderError> {
        if matches!(notice.payload, Payload::Announce(_)) {
            return self.announce_blocks(notice, config, ctx, MAX_BLOCKS);
        }
        let kind = notice.kind.as_str();
        let mut data = template_data(kind, &notice.payload)?;
        data["cluster_name"] = json!(notice.cluster);
        data["mentions"] = json!(ctx.mentions);
        // Words about days, for the moment of sending.
        if let Some(e) = notice.enforce_on
            && matches!(
                notice.kind,
                NoticeKind::Readiness | NoticeKind::Postponed | NoticeKind::AllClear
            )
            && data.get("when").is_some_and(|w| !w.is_null())
        {
            let days = days_between(ctx.at, e.date, config.time_zone);
            data["when"] = json!(when(days));
            if data.get("days_left").is_some_and(|d| !d.is_null()) {
                data["days_left"] = json!(days);
            }
        }
        if !team_contact_shown(notice, config)
            && let Some(team) = data.get_mut("team").and_then(Value::as_object_mut)
        {
            team.remove("contact");
        }
        let m = self.render_answer(kind, &data)?;
        Ok(batch::Part {
            blocks: m.blocks,
            text: m.text,
            order: (
                notice.enforce_on.map(|e| e.instant.fixed_offset()),
                notice.id.to_string(),
            ),
        })
    }

    /// The blocks of one heads-up — one policy's section of a (batched) message: its header,
    /// *What changes*, a section per namespace, *What to do*, *Who to contact* and its footer
    /// line, in at most `room` blocks (namespaces beyond it become "…and N more"). Everything
    /// a message says about one policy is built here, so a per-policy block (e.g. buttons)
    /// belongs here too.
    pub fn announce_blocks(
        &self,
        notice: &Notice,
        config: &Config,
        ctx: &RenderContext,
        room: usize,
    ) -> Result<batch::Part, RenderError> {
        let kind = notice.kind.as_str();
        let data = template_data(kind, &context(notice, config, ctx))?;
        let mut blocks: Vec<SlackBlock> = Vec::new();
        let header = cut_chars(&self.part(kind, "header", &data)?, MAX_HEADER);
        blocks.push(SlackHeaderBlock::new(SlackBlockPlainText::new(header).into()).into());
        push_section(&mut blocks, self.part(kind, "what_changes", &data)?);

        let tail = [
            self.part(kind, "what_to_do", &data)?,
            self.part(kind, "contact", &data)?,
        ];
        let footer = self.part(kind, "footer", &data)?;
        // The buttons, when the notice goes to a team (see `actions`).
        let buttons = match &notice.payload {
            Payload::Announce(Some(key)) => self.triage_actions(key)?,
            _ => None,
        };
        // Room left for namespace sections after the fixed blocks (and one "…and N more").
        let fixed = blocks.len()
            + tail.iter().filter(|t| !t.trim().is_empty()).count()
            + usize::from(buttons.is_some())
            + usize::from(!footer.is_empty());
        let room = room.saturating_sub(fixed);
        let namespaces = data["namespaces"].as_array().cloned().unwrap_or_default();
        let shown = if namespaces.len() > room {
            room.saturating_sub(1)
        } else {
            namespaces.len()
        };
        for ns in &namespaces[..shown] {
            push_section(
                &mut blocks,
                self.part(kind, "namespace", &merged(ns, &data))?,
            );
        }
        if shown < namespaces.len() {
            push_section(
                &mut blocks,
                match namespaces.len() - shown {
                    1 => "…and 1 more namespace".to_string(),
                    n => format!("…and {n} more namespaces"),
                },
            );
        }
        for t in tail {
            push_section(&mut blocks, t);
        }
        blocks.extend(buttons);
        push_footer(&mut blocks, footer);
        Ok(batch::Part {
            blocks,
            text: cut_chars(&self.part(kind, "text", &data)?, MAX_SECTION),
            order: (
                notice.enforce_on.map(|e| e.instant.fixed_offset()),
                notice.policy.clone(),
            ),
        })
    }
}

/// Days from the day of `at` to `date`, in `tz`.
fn days_between(at: DateTime<FixedOffset>, date: chrono::NaiveDate, tz: chrono_tz::Tz) -> i64 {
    (date - at.with_timezone(&tz).date_naive()).num_days()
}

/// Whether a notice names its team's own contact ("your team: …"): only when it goes
/// somewhere else than the team's channel — a direct message, the platform channel, a
/// namespace's own channel — never to the team telling it to contact itself.
fn team_contact_shown(notice: &Notice, config: &Config) -> bool {
    let Some(team) = notice.team.as_deref().and_then(|k| config.teams.get(k)) else {
        return false;
    };
    match (&notice.destination, team.channel.as_deref()) {
        (Destination::Channel(to), Some(own)) => !same_channel(to, own),
        _ => true,
    }
}

fn same_channel(a: &str, b: &str) -> bool {
    let norm = |c: &str| c.trim().trim_start_matches('#').to_lowercase();
    norm(a) == norm(b)
}

/// Every contact text a notice may show: its policy's contact, its team's contact (and the
/// members' emails when the team has `mention-members`), the platform's contact. The
/// delivery edge looks up the emails in them before rendering.
pub fn contacts_of(notice: &Notice, config: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    out.extend(notice.brief.contact.clone());
    out.extend(config.platform.contact.clone());
    if let Some(team) = notice.team.as_deref().and_then(|k| config.teams.get(k)) {
        out.extend(team.contact.clone());
        if team.mention_members {
            out.extend(team.members.iter().cloned());
        }
    }
    if let Payload::Enforced(v) = &notice.payload {
        out.push(v.contact.clone());
    }
    out
}

impl Message {
    /// Appends `other`'s blocks (and fallback text) after this message's, keeping within
    /// Slack's block limit: what does not fit is left out with a last "…and more" section.
    pub fn append(&mut self, other: Message) {
        let room = MAX_BLOCKS.saturating_sub(self.blocks.len());
        if other.blocks.len() > room {
            let keep = room.saturating_sub(1);
            self.blocks.extend(other.blocks.into_iter().take(keep));
            if room > 0 {
                push_section(
                    &mut self.blocks,
                    "…and more (ask about one cluster)".to_string(),
                );
            }
        } else {
            self.blocks.extend(other.blocks);
        }
        self.text = cut_chars(&format!("{}\n{}", self.text, other.text), MAX_SECTION);
    }
}

/// A typed view as the data a template of `kind` reads.
fn template_data(kind: &str, view: &impl Serialize) -> Result<Value, RenderError> {
    serde_json::to_value(view).map_err(|e| RenderError::Render {
        file: kind.to_string(),
        section: String::new(),
        message: e.to_string(),
    })
}

/// An item's own fields, with the root's fields available too (the item's win).
fn merged(item: &Value, root: &Value) -> Value {
    let mut scope = item.clone();
    if let (Some(obj), Value::Object(root)) = (scope.as_object_mut(), root) {
        for (k, v) in root {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    scope
}

fn push_footer(blocks: &mut Vec<SlackBlock>, footer: String) {
    if footer.is_empty() {
        return;
    }
    blocks.push(
        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(cut_chars(&footer, MAX_SECTION)),
        )])
        .into(),
    );
}

fn push_section(blocks: &mut Vec<SlackBlock>, text: String) {
    if text.trim().is_empty() {
        return;
    }
    let text = fit_lines(&text, MAX_SECTION);
    blocks.push(
        SlackSectionBlock::new()
            .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text)))
            .into(),
    );
}

/// "today", "tomorrow", "in N days" (and "yesterday", "N days ago" for a day that has passed).
pub fn when(days_left: i64) -> String {
    crate::model::words::relative_days(days_left)
}

/// A policy as the heads-up describes it.
#[derive(Debug, Serialize)]
struct PolicyWords<'a> {
    id: &'a str,
    title: &'a str,
    /// At most [`MAX_DESCRIPTION`] characters, cut at a word with "…".
    description: Option<String>,
    category: Option<&'a str>,
    severity: Option<&'a str>,
    subject: Option<&'a str>,
    /// The policy sets `policies.kyverno.io/scored: "false"` (its failures are warnings).
    unscored: bool,
    /// What the flip changes, in the engine's own terms.
    change: &'a crate::plan::views::ChangeView,
}

/// A failing resource in a heads-up.
#[derive(Debug, Serialize)]
struct SampleWords<'a> {
    kind: &'a str,
    name: &'a str,
    rule: Option<&'a str>,
    message: Option<&'a str>,
}

/// One namespace of a heads-up.
#[derive(Debug, Serialize)]
struct NamespaceWords<'a> {
    name: &'a str,
    failing: u64,
    /// `failing` is a lower bound (the engine listed only some of its violations).
    at_least: bool,
    excepted: u64,
    unowned: bool,
    sample: Vec<SampleWords<'a>>,
    /// The sample grouped by message, Kyverno's "rule … failed at path …" tail taken off.
    groups: Vec<failures::FailureGroup>,
    /// Failing resources beyond the sample.
    more: u64,
}

/// What `announce.hbs` sees (variables: `templates/README.md`).
#[derive(Debug, Serialize)]
pub struct AnnounceView<'a> {
    policy: PolicyWords<'a>,
    audience: &'a str,
    cluster_name: Option<&'a ClusterName>,
    destination: &'a Destination,
    team: Option<TeamView>,
    milestone: &'a str,
    days_left: i64,
    when: String,
    enforce_on: String,
    namespaces: Vec<NamespaceWords<'a>>,
    namespace_count: usize,
    total_failing: u64,
    /// The counts are lower bounds: the engine (Gatekeeper) listed only some of the
    /// violations it found.
    at_least: bool,
    what_to_do: Option<&'a str>,
    guidance: Option<&'a str>,
    contact: Option<&'a str>,
    platform: PlatformView,
    /// Where to request an exception (`exceptions.request-url`), if configured.
    request_url: Option<&'a str>,
    /// Lower-cased email → Slack user id, for `{{mention …}}`.
    mentions: &'a BTreeMap<String, String>,
}

/// The longest policy description a heads-up quotes: the rest is in `/policy why`, and what
/// to do, who to contact and the guide link always follow it.
pub const MAX_DESCRIPTION: usize = 400;

/// The data a heads-up's template sees, for the moment in `ctx`.
pub fn context<'a>(
    notice: &'a Notice,
    config: &'a Config,
    ctx: &'a RenderContext,
) -> AnnounceView<'a> {
    let tz = config.time_zone;
    let days_left = notice
        .enforce_on
        .map_or(0, |e| days_between(ctx.at, e.date, tz));
    let b = &notice.brief;
    AnnounceView {
        policy: PolicyWords {
            id: &notice.policy,
            title: &b.title,
            description: b
                .description
                .as_deref()
                .map(|d| cut_chars(d.trim(), MAX_DESCRIPTION)),
            category: b.category.as_deref(),
            severity: b.severity.as_deref(),
            subject: b.subject.as_deref(),
            unscored: b.unscored,
            change: &b.change,
        },
        audience: &notice.audience,
        cluster_name: notice.cluster.as_ref(),
        destination: &notice.destination,
        team: notice
            .team
            .as_deref()
            .map(|k| TeamView::of(k, config, team_contact_shown(notice, config))),
        milestone: &notice.milestone,
        days_left,
        when: when(days_left),
        enforce_on: notice.enforce_on.map(|e| e.shown(tz)).unwrap_or_default(),
        namespaces: notice
            .namespaces
            .iter()
            .map(|n| NamespaceWords {
                name: &n.name,
                failing: n.failing,
                at_least: n.at_least,
                excepted: n.excepted,
                unowned: n.unowned,
                sample: n
                    .sample
                    .iter()
                    .map(|r| SampleWords {
                        kind: &r.kind,
                        name: &r.name,
                        rule: r.rule.as_deref(),
                        message: r.message.as_deref(),
                    })
                    .collect(),
                groups: failures::group(&n.sample),
                more: n.failing.saturating_sub(n.sample.len() as u64),
            })
            .collect(),
        namespace_count: notice.namespaces.len(),
        total_failing: notice.namespaces.iter().map(|n| n.failing).sum(),
        at_least: notice.namespaces.iter().any(|n| n.at_least),
        what_to_do: b.what_to_do.as_deref(),
        guidance: b.guidance.as_deref(),
        contact: b.contact.as_deref(),
        platform: PlatformView::of(config),
        request_url: config.exceptions.request_url.as_deref(),
        mentions: &ctx.mentions,
    }
}

/// Plain-text view of a message for terminals (`forewarn render --output text`).
pub fn to_text(message: &Message) -> String {
    let mut out = String::new();
    for block in &message.blocks {
        let text = match block {
            SlackBlock::Header(h) => {
                let v = serde_json::to_value(&h.text).unwrap_or_default();
                format!("# {}", v["text"].as_str().unwrap_or_default())
            }
            SlackBlock::Section(s) => match &s.text {
                Some(SlackBlockText::MarkDown(m)) => m.text.clone(),
                Some(SlackBlockText::Plain(p)) => p.text.clone(),
                None => String::new(),
            },
            SlackBlock::Context(c) => c
                .elements
                .iter()
                .filter_map(|e| match e {
                    SlackContextBlockElement::MarkDown(m) => Some(m.text.clone()),
                    SlackContextBlockElement::Plain(p) => Some(p.text.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" "),
            // Between the parts of a batched message.
            SlackBlock::Divider(_) => "· · ·".to_string(),
            _ => continue,
        };
        out.push_str(&text);
        out.push_str("\n\n");
    }
    out
}

/// Synthetic notices that exercise every template branch, for `forewarn check`: one with every
/// optional value missing (an unowned namespace, enforced today) and one with all of them set,
/// including characters that must be escaped.
pub fn sample_notices(config: &Config) -> Vec<Notice> {
    use crate::inventory::FailingResource;
    use crate::inventory::Setting;
    use crate::plan::views::ChangeView;
    use crate::plan::{NamespaceFailures, PolicyBrief};
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00+00:00").unwrap_or_default();
    let bare = Notice {
        id: NoticeId::new(NoticeKind::Announce, &["sample-policy", "platform", "T-0"]),
        kind: NoticeKind::Announce,
        policy: "sample-policy".into(),
        cluster: None,
        audience: "platform".into(),
        destination: Destination::Channel(config.platform.channel.clone()),
        send_at: at,
        told_at: at,
        milestone: "T-0".into(),
        enforce_on: crate::model::time::parse_enforce_on("2026-01-05", chrono_tz::UTC).ok(),
        namespaces: std::sync::Arc::new(vec![NamespaceFailures {
            cluster: ClusterName::default(),
            name: "sample".into(),
            failing: 1,
            excepted: 0,
            unowned: true,
            at_least: false,
            sample: std::sync::Arc::new([FailingResource {
                kind: "Pod".into(),
                name: "web-0".into(),
                rule: None,
                message: None,
            }]),
        }]),
        keep_until: at,
        team: None,
        brief: std::sync::Arc::new(PolicyBrief {
            title: "sample-policy".into(),
            ..PolicyBrief::default()
        }),
        payload: Payload::Announce(None),
    };
    let mut full = bare.clone();
    full.id = NoticeId::new(
        NoticeKind::Announce,
        &["sample-policy", "sample-team", "T-7"],
    )
    .in_cluster(&ClusterName::parse("sample-cluster").unwrap_or_default());
    full.cluster = ClusterName::parse("sample-cluster").ok();
    if let (Some(team), Ok(cluster)) = (&full.team, ClusterName::parse("sample-cluster")) {
        full.payload =
            Payload::Announce(Some(std::sync::Arc::new(crate::model::triage::TriageKey {
                cluster,
                policy: crate::model::ids::PolicyRef {
                    kind: crate::model::ids::PolicyKind::ClusterPolicy,
                    namespace: None,
                    name: "sample-policy".into(),
                    parent: None,
                },
                team: team.clone(),
            })));
    }
    full.milestone = "T-7".into();
    full.send_at = at - chrono::Duration::days(7);
    full.team = config.teams.keys().next().cloned();
    let ns = &mut std::sync::Arc::make_mut(&mut full.namespaces)[0];
    ns.unowned = false;
    ns.excepted = 2;
    ns.failing = 12;
    ns.sample = std::sync::Arc::new([FailingResource {
        message: Some("a <b> & c".into()),
        rule: Some("rule".into()),
        ..ns.sample[0].clone()
    }]);
    full.brief = std::sync::Arc::new(PolicyBrief {
        title: "Sample & <policy>".into(),
        description: Some("Why it exists.".into()),
        category: Some("Sample".into()),
        severity: Some("medium".into()),
        subject: Some("Pod".into()),
        contact: Some("#platform".into()),
        guidance: Some("https://example.com/guide?a=1&b=2".into()),
        what_to_do: Some("Set the field.".into()),
        unscored: true,
        change: ChangeView::of(&Setting::FailureAction),
    });
    // Each engine's words, on the day and before it.
    let mut out = vec![bare, full];
    let engines = [
        Setting::EnforcementAction(crate::inventory::EnforcementAction::Warn),
        Setting::ValidationActions(vec![crate::inventory::ValidationAction::Audit]),
    ];
    for (i, setting) in engines.iter().enumerate() {
        for j in 0..2 {
            let mut n = out[j].clone();
            n.id = NoticeId::new(
                NoticeKind::Announce,
                &["sample-policy", &format!("engine-{i}"), &n.milestone],
            );
            let mut brief = (*n.brief).clone();
            brief.change = ChangeView::of(setting);
            n.brief = std::sync::Arc::new(brief);
            out.push(n);
        }
    }
    out
}
