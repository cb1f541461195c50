//! forewarn: dated, owner-addressed Slack heads-ups for Kubernetes policy rollouts.
//!
//! A platform team runs admission policies in Audit and picks a date to enforce each one;
//! forewarn reads the policies, their reports and the namespace owners, and plans who must be
//! told what, and when, then renders those notices as Slack messages.
//!
//! # Layout
//!
//! The modules follow the flow: sources → inventory → plan → render → deliver, with chat and
//! the command line at the edges. Imports only point down this list.
//!
//! - [`model`]: typed identities, problems (bad input as data), time. Depends on nothing.
//! - [`config`]: `forewarn.yaml`, validated once into typed values.
//! - [`inventory`]: the engine-neutral model of a cluster and the sources that build it (a
//!   snapshot directory, or the live cluster through watches).
//! - [`plan`]: the pure core — inventory × config × now → notices and problems (rollouts,
//!   owners, exceptions, announce, reminders, digest, readiness, follow-ups, schedule).
//! - [`render`]: notices → Slack Block Kit messages, words from `templates/`.
//! - [`deliver`]: the edges messages go to (Slack, stdout), the ledger of what was sent (file or
//!   ConfigMap) and the triage answers beside it, leader election and the scheduler tick.
//! - [`chat`]: the `/policy` slash command and the triage buttons — signature check, parsing,
//!   answers, recording clicks, the HTTP and Socket Mode edges.
//! - [`cli`]: the command line; the only module that knows clap.

pub mod chat;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod inventory;
pub mod model;
pub mod plan;
pub mod render;
