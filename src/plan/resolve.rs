//! Resolve once, then plan: the facts every planner needs — each policy's rollout, each
//! namespace's owner, each exception's view — derived from one cluster's inventory and the
//! config in one pass, then read by announce, readiness, follow-ups, reminders and the digest.
//!
//! Pure: no I/O, no clock (`now` is an argument). Problems met while resolving are kept with
//! what they are about, so each planner reports exactly the ones it used, once.

use super::exceptions::{ExceptionView, view};
use super::owners::{Ownership, owner_of};
use super::rollout::{Rollout, rollout_for};
use crate::config::Config;
use crate::inventory::{Exception, Inventory, Policy};
use crate::model::ids::{Engine, PolicyKind};
use crate::model::problem::Problem;
use chrono::{DateTime, FixedOffset, NaiveDate};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A namespace's owner, and the problem met finding it (an unknown team).
pub type Owner = (Ownership, Option<Problem>);

/// One cluster's inventory with its derived facts.
pub struct Resolved<'a> {
    pub inv: &'a Inventory,
    pub config: &'a Config,
    pub now: DateTime<FixedOffset>,
    /// One per policy of the inventory, in the same order.
    rollouts: Vec<(Rollout, Vec<Problem>)>,
    /// Every namespace the inventory names (objects, results, findings, exceptions).
    owners: BTreeMap<String, Owner>,
    /// One per exception of the inventory, in the same order.
    exceptions: Vec<(ExceptionView, Vec<Problem>)>,
    /// Policies by how report results name them: engine, then report name.
    by_report_name: HashMap<Engine, HashMap<String, usize>>,
    /// The heads-ups already told about this cluster's policies (ids without a cluster segment).
    told: Vec<super::Told>,
    /// The recorded daily counts, and this cluster's key in them.
    progress: std::sync::Arc<super::progress::Progress>,
    cluster_key: String,
    /// What teams answered with the triage buttons, when an answer store was read.
    answers: Option<&'a crate::model::triage::Answers>,
}

impl<'a> Resolved<'a> {
    pub fn new(inv: &'a Inventory, config: &'a Config, now: DateTime<FixedOffset>) -> Self {
        let rollouts = inv
            .policies
            .iter()
            .map(|p| rollout_for(p, config))
            .collect();
        // Each name once: results and findings repeat namespaces many times over.
        let mut names: BTreeSet<&str> = BTreeSet::from(["", super::CLUSTER_SCOPED]);
        names.extend(inv.namespaces.keys().map(String::as_str));
        names.extend(inv.results.keys().filter_map(|(_, _, ns, _)| ns));
        names.extend(inv.findings.keys().map(|r| r.namespace.as_str()));
        names.extend(inv.exceptions.iter().filter_map(|x| x.namespace.as_deref()));
        let owners = names
            .into_iter()
            .map(|ns| (ns.to_string(), owner_of(ns, inv, config)))
            .collect();
        let exceptions = inv
            .exceptions
            .iter()
            .map(|x| view(x, &config.exceptions.keys, config.time_zone))
            .collect();
        let mut by_report_name: HashMap<Engine, HashMap<String, usize>> = HashMap::new();
        for (i, p) in inv.policies.iter().enumerate() {
            by_report_name
                .entry(p.engine())
                .or_default()
                .entry(p.reference.report_name())
                .or_insert(i);
        }
        Resolved {
            inv,
            config,
            now,
            rollouts,
            owners,
            exceptions,
            by_report_name,
            told: Vec::new(),
            progress: Default::default(),
            cluster_key: String::new(),
            answers: None,
        }
    }

    /// The same, knowing the daily counts recorded so far (`cluster_key`: this cluster's key
    /// in them, see [`super::progress::cluster_key`]).
    pub fn with_progress(
        mut self,
        progress: std::sync::Arc<super::progress::Progress>,
        cluster_key: String,
    ) -> Self {
        self.progress = progress;
        self.cluster_key = cluster_key;
        self
    }

    /// The recorded failing counts of `policy` for `team` (or
    /// [`super::progress::ALL_TEAMS`]) in this cluster, oldest first.
    pub fn failing_series(&self, policy: &str, team: &str) -> Vec<(NaiveDate, u64)> {
        self.progress
            .points(&self.cluster_key, policy, team)
            .into_iter()
            .map(|(d, c)| (d, c.failing))
            .collect()
    }

    /// The same, knowing which heads-ups were already told.
    pub fn with_told(mut self, told: Vec<super::Told>) -> Self {
        self.told = told;
        self
    }

    /// The triage answers the readiness and digest list.
    pub fn with_answers(mut self, answers: Option<&'a crate::model::triage::Answers>) -> Self {
        self.answers = answers;
        self
    }

    pub fn answers(&self) -> Option<&'a crate::model::triage::Answers> {
        self.answers
    }

    /// The heads-ups told about the policy labelled `label`, by audience key: the id reads
    /// `announce/<label>/<audience>/…`. (The id is text the planner made itself; only its
    /// prefix is compared.)
    pub fn told_about(&self, label: &str) -> BTreeMap<String, Vec<&super::Told>> {
        let prefix = format!("announce/{label}/");
        let mut out: BTreeMap<String, Vec<&super::Told>> = BTreeMap::new();
        for t in &self.told {
            if let Some(rest) = t.id.strip_prefix(&prefix)
                && let Some((audience, _)) = rest.split_once('/')
            {
                out.entry(audience.to_string()).or_default().push(t);
            }
        }
        out
    }

    /// Today in the configured time zone.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.config.time_zone).date_naive()
    }

    /// Every policy with its rollout and the problems reading it.
    pub fn policies(&self) -> impl Iterator<Item = (&'a Policy, &Rollout, &[Problem])> + '_ {
        self.inv
            .policies
            .iter()
            .zip(&self.rollouts)
            .map(|(p, (r, problems))| (p, r, problems.as_slice()))
    }

    /// The validating policies (those that can block admission) with their rollouts.
    pub fn validating(&self) -> impl Iterator<Item = (&'a Policy, &Rollout)> + '_ {
        self.policies()
            .filter(|(p, ..)| p.is_validating())
            .map(|(p, r, _)| (p, r))
    }

    /// The rollout of `policy`, one of this inventory's policies.
    pub fn rollout(&self, policy: &Policy) -> Cow<'_, Rollout> {
        match self
            .inv
            .policies
            .iter()
            .position(|p| std::ptr::eq(p, policy))
        {
            Some(i) => Cow::Borrowed(&self.rollouts[i].0),
            None => Cow::Owned(rollout_for(policy, self.config).0),
        }
    }

    /// The policy a report result names (by its engine and report name), in one lookup.
    pub fn policy_of_result(&self, engine: Engine, report_name: &str) -> Option<&'a Policy> {
        let i = *self.by_report_name.get(&engine)?.get(report_name)?;
        Some(&self.inv.policies[i])
    }

    /// How forewarn names the policy of a report result: its label when the policy is known
    /// (the binding the result names, when it names one), else the name the report gives.
    pub fn result_label(&self, engine: Engine, report_name: &str, binding: Option<&str>) -> String {
        let named = binding.and_then(|b| {
            self.inv.policies.iter().find(|p| {
                p.engine() == engine
                    && p.kind() == PolicyKind::ValidatingAdmissionPolicyBinding
                    && p.reference.name == b
                    && p.reference.is_report_name(report_name)
            })
        });
        named
            .or_else(|| self.policy_of_result(engine, report_name))
            .map_or_else(|| report_name.to_string(), |p| p.label.clone())
    }

    /// Who owns `namespace` (resolved once; a name the inventory never mentioned is looked up
    /// now).
    pub fn owner(&self, namespace: &str) -> Cow<'_, Owner> {
        match self.owners.get(namespace) {
            Some(o) => Cow::Borrowed(o),
            None => Cow::Owned(owner_of(namespace, self.inv, self.config)),
        }
    }

    /// Every namespace the inventory names, with its owner.
    pub fn owners(&self) -> impl Iterator<Item = (&str, &Owner)> {
        self.owners.iter().map(|(k, o)| (k.as_str(), o))
    }

    /// Every exception with its view and the problems reading it.
    pub fn exceptions(&self) -> impl Iterator<Item = (&'a Exception, &ExceptionView, &[Problem])> {
        self.inv
            .exceptions
            .iter()
            .zip(&self.exceptions)
            .map(|(x, (v, problems))| (x, v, problems.as_slice()))
    }
}
