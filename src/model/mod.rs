//! The vocabulary shared by every stage: typed identities, problems (bad input as data) and
//! time. No I/O, no clock, no dependency on any other module of the crate.

pub mod ids;
pub mod name;
pub mod problem;
pub mod time;
pub mod triage;
pub mod words;
