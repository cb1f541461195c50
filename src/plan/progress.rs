//! The audit progress: how many resources fail each rollout, per (cluster, policy, team), one
//! point per day (the last tick of the day wins), and where each policy audited at the last
//! tick — the memory `run` keeps beside its ledger so that burn-downs can be drawn and a flip
//! made while forewarn was down is still followed up.
//!
//! Pure: [`measure`] reads inventories, [`Progress::record`] merges a measurement and applies
//! the retention; time is an argument. Never does I/O (the store is
//! `deliver::ledger::history`) and never decides what a trend means (that is
//! [`crate::plan::burndown`]).

use crate::config::Config;
use crate::inventory::{Inventory, Name};
use crate::plan::readiness::AuditModes;
use crate::plan::resolve::Resolved;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

/// The team key of a policy's whole-cluster series (all teams and unowned namespaces).
pub const ALL_TEAMS: &str = "";

/// One day's counts of one series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Failing resources the flip would block (as the heads-ups count them).
    pub failing: u64,
    /// Results an exception skipped.
    pub excepted: u64,
}

/// One cluster's series: (policy label, team key) → day → counts. The team key is the
/// audience key of the namespace's owner (a team, a channel, `platform`), or [`ALL_TEAMS`]
/// for the policy as a whole.
pub type Series = BTreeMap<(String, String), BTreeMap<NaiveDate, Counts>>;

/// Everything recorded. Clusters are keyed as notice ids name them: `""` when one cluster is
/// read, its name when several are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub series: BTreeMap<String, Series>,
    /// Where each validating policy audited at the last record: cluster key → policy label →
    /// namespaces.
    pub modes: BTreeMap<String, BTreeMap<String, BTreeSet<Name>>>,
}

/// What one tick measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurement {
    /// The day (in the configured time zone) the counts are for.
    pub day: Option<NaiveDate>,
    /// Cluster key → (policy, team) → counts. Every validating policy has its
    /// [`ALL_TEAMS`] entry (zero included); teams only where something fails or is excepted.
    pub counts: BTreeMap<String, BTreeMap<(String, String), Counts>>,
    /// Cluster key → policy → namespaces where it audits (each name held once for all
    /// policies: a large cluster has thousands of namespaces and every policy names them).
    pub modes: BTreeMap<String, BTreeMap<String, BTreeSet<Name>>>,
}

/// The key a cluster's series are recorded under: none with one cluster (so a snapshot
/// directory's name does not matter), its name with several.
pub fn cluster_key(inv: &Inventory, clusters: usize) -> String {
    if clusters > 1 {
        inv.cluster.to_string()
    } else {
        String::new()
    }
}

/// Counts every validating policy's failing and excepted results per team, and where it
/// audits, in `clusters` at `now`.
pub fn measure(clusters: &[Inventory], config: &Config, now: DateTime<FixedOffset>) -> Measurement {
    let mut out = Measurement {
        day: Some(now.with_timezone(&config.time_zone).date_naive()),
        ..Measurement::default()
    };
    let modes = crate::plan::readiness::audit_modes(clusters);
    for inv in clusters {
        let key = cluster_key(inv, clusters.len());
        let res = Resolved::new(inv, config, now);
        let counts = out.counts.entry(key.clone()).or_default();
        for (policy, _) in res.validating() {
            let mut per_team: BTreeMap<String, Counts> = BTreeMap::new();
            for ns in crate::plan::audit_failures(policy, inv) {
                let team = res.owner(&ns.name).0.audience.key();
                per_team.entry(team).or_default().failing += ns.failing;
            }
            for (ns, summary) in inv.results_for(&policy.reference) {
                if summary.skipped_by_exception() == 0 {
                    continue;
                }
                let name = ns.unwrap_or(crate::plan::CLUSTER_SCOPED);
                if ns.is_some_and(|ns| !policy.applies_in(ns)) {
                    continue;
                }
                let team = res.owner(name).0.audience.key();
                per_team.entry(team).or_default().excepted += summary.skipped_by_exception();
            }
            let mut total = Counts::default();
            for (team, c) in per_team {
                total.failing += c.failing;
                total.excepted += c.excepted;
                counts.insert((policy.label.clone(), team), c);
            }
            counts.insert((policy.label.clone(), ALL_TEAMS.to_string()), total);
        }
        let cluster_modes = out.modes.entry(key).or_default();
        for ((cluster, label), namespaces) in &modes {
            if *cluster == inv.cluster {
                cluster_modes.insert(label.clone(), namespaces.clone());
            }
        }
    }
    out
}

impl Progress {
    /// Merges `m` (its day's point replaces one recorded earlier that day), then keeps only
    /// the last `keep_days` days. A team series recorded before that has nothing in this
    /// measurement gets a zero (it fell to nothing); a team series that is zero throughout is
    /// dropped. The modes of the measured clusters replace those remembered.
    pub fn record(&mut self, m: &Measurement, keep_days: u32) {
        let Some(day) = m.day else { return };
        for (cluster, counts) in &m.counts {
            let series = self.series.entry(cluster.clone()).or_default();
            for ((policy, team), points) in series.iter_mut() {
                if team != ALL_TEAMS && !counts.contains_key(&(policy.clone(), team.clone())) {
                    points.insert(day, Counts::default());
                }
            }
            for (key, c) in counts {
                series.entry(key.clone()).or_default().insert(day, *c);
            }
        }
        for (cluster, modes) in &m.modes {
            self.modes.insert(cluster.clone(), modes.clone());
        }
        self.prune(day, keep_days);
    }

    /// Drops points older than `keep_days` before `today`, team series with nothing but zeros
    /// and series left empty.
    pub fn prune(&mut self, today: NaiveDate, keep_days: u32) {
        let first = today - Duration::days(i64::from(keep_days.max(1)) - 1);
        for series in self.series.values_mut() {
            series.retain(|(_, team), points| {
                points.retain(|d, _| *d >= first);
                !points.is_empty()
                    && (team == ALL_TEAMS || points.values().any(|c| *c != Counts::default()))
            });
        }
        self.series.retain(|_, s| !s.is_empty());
    }

    /// The points of one series, oldest first: (day, counts).
    pub fn points(&self, cluster: &str, policy: &str, team: &str) -> Vec<(NaiveDate, Counts)> {
        self.series
            .get(cluster)
            .and_then(|s| s.get(&(policy.to_string(), team.to_string())))
            .map(|p| p.iter().map(|(d, c)| (*d, *c)).collect())
            .unwrap_or_default()
    }

    /// The teams with a series for `policy` in `cluster` (not [`ALL_TEAMS`]).
    pub fn teams(&self, cluster: &str, policy: &str) -> Vec<String> {
        self.series
            .get(cluster)
            .map(|s| {
                s.keys()
                    .filter(|(p, t)| p == policy && t != ALL_TEAMS)
                    .map(|(_, t)| t.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The remembered modes as [`AuditModes`] for `clusters` (the ones being planned), or
    /// `None` when nothing was remembered for any of them.
    pub fn audit_modes(&self, clusters: &[Inventory]) -> Option<AuditModes> {
        let mut out = AuditModes::new();
        let mut any = false;
        for inv in clusters {
            let Some(modes) = self.modes.get(&cluster_key(inv, clusters.len())) else {
                continue;
            };
            any = true;
            for (label, namespaces) in modes {
                out.insert((inv.cluster.clone(), label.clone()), namespaces.clone());
            }
        }
        any.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    fn m(d: &str, counts: &[(&str, &str, u64)]) -> Measurement {
        Measurement {
            day: Some(day(d)),
            counts: BTreeMap::from([(
                String::new(),
                counts
                    .iter()
                    .map(|(p, t, n)| {
                        (
                            (p.to_string(), t.to_string()),
                            Counts {
                                failing: *n,
                                excepted: 0,
                            },
                        )
                    })
                    .collect(),
            )]),
            modes: BTreeMap::new(),
        }
    }

    #[test]
    fn one_point_per_day_the_last_wins_and_a_team_that_fixed_everything_gets_a_zero() {
        let mut p = Progress::default();
        p.record(&m("2026-12-01", &[("pol", "", 5), ("pol", "web", 5)]), 180);
        p.record(&m("2026-12-01", &[("pol", "", 4), ("pol", "web", 4)]), 180);
        p.record(&m("2026-12-02", &[("pol", "", 0)]), 180);
        let web: Vec<u64> = p
            .points("", "pol", "web")
            .iter()
            .map(|(_, c)| c.failing)
            .collect();
        assert_eq!(web, vec![4, 0]);
        assert_eq!(p.points("", "pol", "").len(), 2);
    }

    #[test]
    fn retention_keeps_the_last_days_and_drops_teams_with_only_zeros() {
        let mut p = Progress::default();
        let start = day("2026-01-01");
        for i in 0..200 {
            let d = (start + Duration::days(i)).format("%Y-%m-%d").to_string();
            let web = if i < 10 { 3 } else { 0 };
            p.record(&m(&d, &[("pol", "", web), ("pol", "web", web)]), 180);
        }
        let all = p.points("", "pol", "");
        assert_eq!(all.len(), 180);
        assert_eq!(all[0].0, start + Duration::days(20));
        // web fell to zero on day 10; 180 days later only its zeros are left: dropped.
        assert!(p.points("", "pol", "web").is_empty());
    }
}
