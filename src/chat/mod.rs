//! The `/policy` slash command and the triage buttons: verify that a request came from Slack,
//! parse it, answer it.
//!
//! `verify` checks Slack's request signature on the raw body before anything is parsed;
//! `request` turns the form body and the command text into a [`request::Question`]; `answer`
//! decides what the reply says (pure); `interactions` records what a team answered with the
//! buttons under a heads-up; `http` and `socket` are the edges
//! Slack reaches it through (a signed HTTP request, or a Socket Mode envelope). `review_page`
//! serves the audit review over the same HTTP edge, behind its own token.

pub mod answer;
pub mod http;
pub mod interactions;
pub mod request;
pub mod review_page;
pub mod socket;
pub mod verify;
