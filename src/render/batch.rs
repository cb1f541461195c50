//! One post per destination per tick: the heads-ups (and, apart, the reminders) due for one
//! channel or person at one tick become one message — a part per policy, soonest enforcement
//! first, separated by dividers — that lists every notice it carries. A batch that does not
//! fit one message (Block Kit: 50 blocks) is split across as few messages as it needs, each
//! part whole in one of them.
//!
//! Pure: grouping and packing rendered parts; it never sends or records anything. The ledger
//! still records each notice (the scheduler writes one entry per notice id of a message).

use super::{MAX_BLOCKS, MAX_SECTION, Message, RenderContext, RenderError, Renderer, cut_chars};
use crate::config::Config;
use crate::model::ids::Destination;
use crate::plan::{Notice, NoticeKind};
use chrono::{DateTime, FixedOffset};
use slack_morphism::prelude::*;

/// One notice's share of a message: its blocks, its fallback text, and where it sorts
/// (enforcement moment, then name).
#[derive(Debug, Clone)]
pub struct Part {
    pub blocks: Vec<SlackBlock>,
    pub text: String,
    pub order: (Option<DateTime<FixedOffset>>, String),
}

/// A message and the notices it carries (its metadata lists their ids).
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    pub notices: Vec<&'a Notice>,
    pub message: Message,
}

/// Whether notices of `kind` to one destination at one tick share a message.
pub fn batches_kind(kind: NoticeKind) -> bool {
    matches!(kind, NoticeKind::Announce | NoticeKind::Reminder)
}

/// Groups notices sent at one tick into messages: with `batch`, every heads-up for one
/// destination together, every reminder for one destination together; anything else (and
/// everything without `batch`) alone. Groups keep the order of their first notice.
pub fn group<'a>(notices: &[&'a Notice], batch: bool) -> Vec<Vec<&'a Notice>> {
    let mut out: Vec<Vec<&'a Notice>> = Vec::new();
    let mut keys: Vec<Option<(String, NoticeKind)>> = Vec::new();
    for n in notices {
        let key = (batch && batches_kind(n.kind)).then(|| (n.destination.to_string(), n.kind));
        match key
            .as_ref()
            .and_then(|k| keys.iter().position(|x| x.as_ref() == Some(k)))
        {
            Some(i) => out[i].push(n),
            None => {
                keys.push(key);
                out.push(vec![n]);
            }
        }
    }
    out
}

/// Packs parts (already rendered, each with its notices) into as few messages to
/// `destination` as Block Kit allows, soonest first: a part goes whole into the current
/// message when it fits with a divider before it, else starts the next message.
pub fn pack<'a>(
    mut parts: Vec<(Vec<&'a Notice>, Part)>,
    destination: &Destination,
) -> Vec<Batch<'a>> {
    parts.sort_by(|a, b| {
        let key = |p: &Part| (p.order.0.is_none(), p.order.0, p.order.1.clone());
        key(&a.1).cmp(&key(&b.1))
    });
    let mut out: Vec<(Vec<&'a Notice>, Vec<SlackBlock>, Vec<String>)> = Vec::new();
    for (notices, part) in parts {
        let fits = out
            .last()
            .is_some_and(|(_, blocks, _)| blocks.len() + 1 + part.blocks.len() <= MAX_BLOCKS);
        if fits && let Some((ns, blocks, texts)) = out.last_mut() {
            blocks.push(SlackDividerBlock::new().into());
            blocks.extend(part.blocks);
            ns.extend(notices);
            texts.push(part.text);
        } else {
            out.push((notices, part.blocks, vec![part.text]));
        }
    }
    out.into_iter()
        .map(|(notices, blocks, texts)| Batch {
            notices,
            message: Message {
                channel: destination.clone(),
                text: cut_chars(&texts.join("\n"), MAX_SECTION),
                blocks,
            },
        })
        .collect()
}

impl Renderer {
    /// Renders the notices sent at one tick (`notices`) as the messages that carry them: with
    /// `batch` (config `delivery.batch`, on by default) one message per destination for the
    /// heads-ups and one for the reminders ([`group`]), split within Block Kit's limits
    /// ([`pack`]); every other notice alone. A notice that cannot be rendered is returned
    /// with its error and left out; the rest of its batch still goes.
    pub fn render_batches<'a>(
        &self,
        notices: &[&'a Notice],
        config: &Config,
        ctx: &RenderContext,
        batch: bool,
    ) -> (Vec<Batch<'a>>, Vec<(&'a Notice, RenderError)>) {
        let mut batches = Vec::new();
        let mut errors = Vec::new();
        for g in group(notices, batch) {
            let mut parts = Vec::new();
            for n in &g {
                match self.notice_part(n, config, ctx) {
                    Ok(part) => parts.push((vec![*n], part)),
                    Err(e) => errors.push((*n, e)),
                }
            }
            if !parts.is_empty() {
                batches.extend(pack(parts, &g[0].destination));
            }
        }
        (batches, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::NoticeId;

    fn notice(kind: NoticeKind, id: &str, to: &str) -> Notice {
        let config = crate::config::Config::parse(
            "platform: {channel: '#p'}\n",
            "t",
            std::path::Path::new("."),
        )
        .expect("config");
        let mut n = super::super::sample_notices(&config).remove(0);
        n.kind = kind;
        n.id = NoticeId::new(kind, &[id]);
        n.destination = Destination::Channel(to.into());
        n
    }

    #[test]
    fn heads_ups_and_reminders_are_batched_per_destination_each_kind_apart() {
        let ns = [
            notice(NoticeKind::Announce, "a1", "#x"),
            notice(NoticeKind::Reminder, "r1", "#x"),
            notice(NoticeKind::Digest, "d1", "#x"),
            notice(NoticeKind::Announce, "a2", "#y"),
            notice(NoticeKind::Announce, "a3", "#x"),
            notice(NoticeKind::Reminder, "r2", "#x"),
            notice(NoticeKind::Digest, "d2", "#x"),
        ];
        let refs: Vec<&Notice> = ns.iter().collect();
        let ids = |groups: Vec<Vec<&Notice>>| -> Vec<Vec<String>> {
            groups
                .into_iter()
                .map(|g| g.iter().map(|n| n.id.to_string()).collect())
                .collect()
        };
        assert_eq!(
            ids(group(&refs, true)),
            [
                vec!["announce/a1", "announce/a3"],
                vec!["reminder/r1", "reminder/r2"],
                vec!["digest/d1"],
                vec!["announce/a2"],
                vec!["digest/d2"],
            ]
        );
        // Without batching, one message per notice.
        assert_eq!(group(&refs, false).len(), ns.len());
    }
}
