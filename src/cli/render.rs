//! `forewarn render`: the messages themselves, as text or as `chat.postMessage` payloads.
//!
//! Prints only; never sends or records anything. Messages are grouped as `run` sends them:
//! one per destination per tick for heads-ups and reminders (see `render::batch`).

use super::{SourceArgs, all_problems, exit_for, load, parse_now};
use crate::plan::{Notice, plan};
use crate::render::batch::Batch;
use crate::render::{RenderContext, Renderer, to_text};
use anyhow::bail;
use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to plan from (as for `plan`).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Render only the notice with this id (see `forewarn plan`).
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long, value_enum, default_value_t = RenderOutput::Text)]
    pub output: RenderOutput,
}

/// A message as `chat.postMessage` receives it: channel, text, blocks, and the metadata that
/// lists every notice it carries.
fn payload(b: &Batch<'_>) -> serde_json::Value {
    let ids: Vec<String> = b.notices.iter().map(|n| n.id.to_string()).collect();
    serde_json::json!({
        "channel": b.message.channel,
        "text": b.message.text,
        "blocks": b.message.blocks,
        "metadata": {
            "event_type": crate::deliver::EVENT_TYPE,
            "event_payload": {"notice_ids": ids.join(" ")},
        },
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RenderOutput {
    Text,
    Json,
}

pub(super) fn cmd_render(args: RenderArgs) -> anyhow::Result<u8> {
    let (config, clusters) = load(&args.source)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    let renderer = Renderer::for_config(&config)?;
    let planned = plan(&clusters, &config, now);
    let notices: Vec<&Notice> = match &args.id {
        Some(id) => {
            let found: Vec<_> = planned
                .notices
                .iter()
                .filter(|n| n.id == id.as_str())
                .collect();
            if found.is_empty() {
                bail!("no notice with id '{id}' (run `forewarn plan` to list them)");
            }
            found
        }
        None => planned.upcoming().collect(),
    };
    // As `run` would send them: the notices of one tick together, heads-ups (and reminders)
    // for one destination in one message (`delivery.batch`), each rendered for its send time.
    // One notice asked for by `--id` is rendered alone.
    let batch = config.delivery.batch && args.id.is_none();
    let mut ticks: Vec<Vec<&Notice>> = Vec::new();
    for n in notices {
        match ticks.last_mut() {
            Some(t) if t[0].send_at == n.send_at => t.push(n),
            _ => ticks.push(vec![n]),
        }
    }
    let mut messages = Vec::new();
    for tick in &ticks {
        let ctx = RenderContext::at(tick[0].told_at);
        let (batches, errors) = renderer.render_batches(tick, &config, &ctx, batch);
        if let Some((n, e)) = errors.into_iter().next() {
            bail!("cannot render {}: {e}", n.id);
        }
        messages.extend(batches);
    }
    match args.output {
        RenderOutput::Json => {
            let payloads: Vec<_> = messages.iter().map(|b| payload(b)).collect();
            println!("{}", serde_json::to_string_pretty(&payloads)?);
        }
        RenderOutput::Text => {
            for b in &messages {
                let ids: Vec<String> = b.notices.iter().map(|n| n.id.to_string()).collect();
                println!(
                    "──── {} → {} at {}\n",
                    ids.join(", "),
                    b.message.channel,
                    b.notices[0]
                        .send_at
                        .with_timezone(&config.time_zone)
                        .format("%a %Y-%m-%d %H:%M %Z")
                );
                print!("{}", to_text(&b.message));
            }
            if messages.is_empty() {
                println!("(no notices ahead)");
            }
        }
    }
    let problems = all_problems(&clusters, &planned);
    for p in &problems {
        eprintln!("{p}");
    }
    Ok(exit_for(&problems))
}
