//! `forewarn render`: the messages themselves, as text or as `chat.postMessage` payloads.
//!
//! Prints only; never sends or records anything.

use super::{SourceArgs, all_problems, exit_for, load, parse_now};
use crate::plan::{Notice, plan};
use crate::render::{Renderer, to_text};
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
    let mut messages = Vec::new();
    for n in &notices {
        messages.push((n, renderer.render(n, &config)?));
    }
    match args.output {
        RenderOutput::Json => {
            let payloads: Vec<_> = messages.iter().map(|(_, m)| m).collect();
            println!("{}", serde_json::to_string_pretty(&payloads)?);
        }
        RenderOutput::Text => {
            for (n, m) in &messages {
                println!(
                    "──── {} → {} at {}\n",
                    n.id,
                    m.channel,
                    n.send_at
                        .with_timezone(&config.time_zone)
                        .format("%a %Y-%m-%d %H:%M %Z")
                );
                print!("{}", to_text(m));
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
