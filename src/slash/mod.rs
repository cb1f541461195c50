//! The `/policy` slash command: verify that a request came from Slack, parse it, answer it.
//!
//! `verify` checks Slack's request signature on the raw body before anything is parsed;
//! `request` turns the form body and the command text into a [`request::Question`]; `answer`
//! decides what the reply says (pure); the HTTP edge is `crate::server`.

pub mod answer;
pub mod request;
pub mod verify;
