//! Typed identities, parsed once at the boundary and never turned back into text to be parsed
//! again: who hears a notice (audience) and where it goes (destination).
//!
//! Plain values with no I/O; the text forms (`Display`) are for ids and logs only.

use std::fmt;

/// The owner name that means the platform team itself (reserved as a team key).
pub const PLATFORM: &str = "platform";

/// Who hears about a namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Audience {
    /// A team from the config.
    Team(String),
    /// A channel named on the namespace itself, without a known team.
    Channel(String),
    /// The platform team, for namespaces nobody owns.
    Platform,
}

impl Audience {
    /// Stable text used in notice ids: the team key, the channel, or `platform`.
    pub fn key(&self) -> String {
        match self {
            Audience::Team(t) => t.clone(),
            Audience::Channel(c) => c.clone(),
            Audience::Platform => PLATFORM.to_string(),
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Where a message is delivered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Destination {
    /// A channel name (`#payments`) or ID.
    Channel(String),
    /// Direct messages to these people.
    Emails(Vec<String>),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Channel(c) => f.write_str(c),
            Destination::Emails(e) => write!(f, "email:{}", e.join(",")),
        }
    }
}
