//! forewarn: dated, owner-addressed Slack heads-ups for Kubernetes policy rollouts.
//!
//! A platform team runs admission policies in Audit and picks a date to enforce each one;
//! forewarn reads the policies, their reports and the namespace owners, and plans who must be
//! told what, and when, then renders those notices as Slack messages.
//!
//! # Layout
//!
//! - [`problem`]: bad input as data (object, field, message) — never a panic.
//! - [`inventory`]: the engine-neutral model of a cluster and the sources that build it
//!   (`inventory::snapshot` reads a directory of YAML/JSON).
//! - [`config`]: `forewarn.yaml`, validated once into typed values.
//! - [`rollout`]: a policy's enforcement date, guidance and contact, from annotations or config.
//! - [`owners`]: who owns a namespace and where their notices go.
//! - [`schedule`]: which cron tick sends a milestone.
//! - [`plan`]: the pure core — inventory × config × now → notices and problems.
//! - [`render`]: notices → Slack Block Kit messages, words from `templates/`.
//! - [`ledger`]: what was sent (pending → sent/failed), durable across restarts.
//! - [`deliver`]: the edges messages go to — Slack, or stdout for dry runs.
//! - [`daemon`]: one scheduler tick (reconcile, pick due notices, deliver with pacing) and the
//!   loop around it.
//! - [`cli`]: the command line (`plan`, `render`, `check`, `run`); the only module that knows
//!   clap.

pub mod cli;
pub mod cluster_ledger;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod digest;
pub mod exceptions;
pub mod inventory;
pub mod leader;
pub mod ledger;
pub mod owners;
pub mod plan;
pub mod problem;
pub mod readiness;
pub mod reminders;
pub mod render;
pub mod rollout;
pub mod schedule;
pub mod server;
pub mod slash;
pub mod socket;
pub mod source;
