//! Who owns a namespace, and where that owner's notices go.
//!
//! Resolution order: the owner annotation (a team key from the config), the slack-channel
//! annotation, the configured label fallbacks; otherwise the namespace is unowned and its
//! notices go to the platform channel. Pure: no I/O, unknown teams become problems.

use crate::config::Config;
use crate::inventory::Inventory;
pub use crate::model::ids::{Audience, Destination, PLATFORM, TeamKey};
use crate::model::problem::Problem;

/// The result of looking up one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub audience: Audience,
    pub destination: Destination,
    /// The owning team, also when notices go to a channel named on the namespace.
    pub team: Option<TeamKey>,
    /// True when nobody owns the namespace.
    pub unowned: bool,
}

/// Finds the owner of `namespace`. A namespace annotation naming a team that is not in the
/// config is reported and the namespace treated as unowned.
pub fn owner_of(namespace: &str, inv: &Inventory, config: &Config) -> (Ownership, Option<Problem>) {
    let platform = Ownership {
        audience: Audience::Platform,
        destination: Destination::Channel(config.platform.channel.clone()),
        team: None,
        unowned: true,
    };
    let Some(ns) = inv.namespaces.get(namespace) else {
        return (platform, None);
    };
    let get = |k: &str| {
        ns.annotations
            .get(k)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let owner_key = config.annotation("owner");
    let channel_key = config.annotation("slack-channel");
    let (team, field) = match get(&owner_key) {
        Some(t) => (
            Some(t.to_string()),
            format!("metadata.annotations.{owner_key}"),
        ),
        None => match config.owner_labels.iter().find_map(|l| {
            ns.labels
                .get(l)
                .filter(|v| !v.is_empty())
                .map(|v| (v.clone(), l))
        }) {
            Some((t, l)) => (Some(t), format!("metadata.labels.{l}")),
            None => (None, String::new()),
        },
    };
    let channel = get(&channel_key).map(str::to_string);
    if team.as_deref() == Some(PLATFORM) && channel.is_none() {
        return (
            Ownership {
                unowned: false,
                ..platform
            },
            None,
        );
    }
    let mut problem = None;
    // The config's own key: the name is parsed once, when the config is read.
    let team = team.and_then(|t| {
        if let Some((key, _)) = config.teams.get_key_value(t.as_str()) {
            Some(key.clone())
        } else {
            problem = Some(Problem::warning(
                format!("namespace {namespace}"),
                field,
                format!(
                    "owner '{t}' is not a team in {} (known: {})",
                    config.source,
                    config
                        .teams
                        .keys()
                        .map(TeamKey::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
    });
    let ownership = match (team, channel) {
        (Some(t), None) => {
            let team = &config.teams[&t];
            let destination = match &team.channel {
                Some(c) if !c.trim().is_empty() => Destination::Channel(c.clone()),
                _ => Destination::Emails(team.members.clone()),
            };
            Ownership {
                audience: Audience::Team(t.clone()),
                destination,
                team: Some(t),
                unowned: false,
            }
        }
        // A channel on the namespace routes its notices there; when it is the team's own
        // channel the namespace simply joins the team's notices.
        (Some(t), Some(c)) if config.teams[&t].channel.as_deref() == Some(c.as_str()) => {
            Ownership {
                audience: Audience::Team(t.clone()),
                destination: Destination::Channel(c),
                team: Some(t),
                unowned: false,
            }
        }
        (team, Some(c)) => Ownership {
            audience: Audience::Channel(c.clone()),
            destination: Destination::Channel(c),
            team,
            unowned: false,
        },
        (None, None) => platform,
    };
    (ownership, problem)
}
