//! The scheduler: one tick is "reconcile, load, plan, pick what is due and not yet sent, render,
//! deliver, record, report"; the daemon is a thin loop that runs a tick at every time of the
//! cron schedule.
//!
//! [`Tick::run`] is public so tests (and `forewarn run --once`) drive it directly with a fixed
//! time. A tick:
//!
//! - never sends a notice the ledger already holds, and writes `pending` (with the attempt
//!   time) before each send — for every notice a message carries: the heads-ups due for one
//!   destination (and, apart, its reminders) go out as one message (`delivery.batch`), which
//!   lists all their ids, and each is recorded and reconciled on its own;
//! - renders for the moment of sending, with the contacts' emails looked up as Slack users
//!   (so they are mentions) through the edge;
//! - never sends again a notice whose outcome is unknown: a `pending` entry is first looked up
//!   in the channel's history since its attempt, marked `sent` when found, and only when it is
//!   proven absent is it cleared and sent again; when history cannot be read (no scope,
//!   channel not resolvable) it stays pending and the platform channel is told once;
//! - delivers every channel concurrently (one task per channel), keeping to
//!   `delivery.channel-pace` (one message per second by default) within a channel;
//! - ends by its deadline (`delivery.tick-deadline`): every Slack request and wait is bounded
//!   by it, and what is left stays for the next tick;
//! - reports every new failure (notice, reason) to the platform channel once, in one message;
//! - records the day's failing and excepted counts and where each policy audits in the audit
//!   history beside the ledger (before delivering; a history that cannot be written is logged
//!   and costs only trends);
//! - stops between messages (never inside one) when asked to shut down.

use crate::config::Config;
use crate::deliver::ledger::{Entry, Ledger, LedgerError, Reported, State};
use crate::deliver::metrics::DeliveryMetrics;
use crate::deliver::{Deliver, DeliveryError, with_deadline};
use crate::inventory::snapshot::InventorySource;
use crate::model::ids::Destination;
use crate::plan::views::{FailureItem, FailureView};
use crate::plan::{History, Notice, Plan, Told, plan_with};
use crate::render::{Message, RenderContext, Renderer};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;
use tracing::{Instrument, error, info, info_span, warn};

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// Notices due at this tick (not yet in the ledger).
    pub due: usize,
    /// Delivered (or printed, in a dry run).
    pub sent: Vec<String>,
    /// Refused by Slack (recorded as failed) or not renderable, with the reason.
    pub failed: Vec<(String, String)>,
    /// Due or pending but not (proven) sent at the end of the tick, with the reason: an outcome
    /// still unknown, a refusal worth retrying, history that cannot be read, the deadline.
    pub pending: Vec<(String, String)>,
    /// Failures newly told to the platform channel.
    pub reported: usize,
    /// Pending entries resolved at the start of the tick (found in Slack, or cleared to resend).
    pub reconciled: usize,
    /// Set when the tick stopped early: a token error, or shutdown.
    pub stopped: Option<String>,
    /// Sent at this tick although due at an earlier one (deferred then).
    pub late: Vec<String>,
    /// Deferred at an earlier tick and now never to be sent, with why.
    pub superseded: Vec<(String, String)>,
}

impl TickOutcome {
    /// Whether everything due was sent or proven sent.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.pending.is_empty() && self.stopped.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Source(#[from] crate::inventory::snapshot::SnapshotError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A channel's delivery task panicked or was cancelled.
    #[error("delivery task failed: {0}")]
    Task(String),
}

/// The notices to send at `now`: [`Plan::due_at`] (for each policy and audience only the
/// latest milestone whose send time has come: after downtime one catch-up, never a burst)
/// less what the ledger has settled. A deferred notice (due at an earlier tick that could not
/// deliver it) is still to be sent.
pub fn due<'a>(planned: &'a Plan, ledger: &impl Ledger) -> Vec<&'a Notice> {
    planned
        .due_at(planned.now)
        .into_iter()
        .filter(|n| {
            ledger
                .get(&n.id.to_string())
                .is_none_or(|e| !e.state.settled())
        })
        .collect()
}

/// The deferred notices that will not be sent any more, each with why: a later notice of the
/// same thread is due instead ([`Plan::superseded_at`]), or the plan no longer has it due at
/// all (the date moved, the policy was flipped or removed, the team fixed everything).
/// The time shown is when the notice was due (from the plan; the deferral's time when the plan
/// no longer has it).
/// `due` is this tick's [`due`]: a deferred notice among them is sent, not superseded.
fn superseded(
    planned: &Plan,
    due: &[Notice],
    ledger: &impl Ledger,
) -> Vec<(Entry, String, DateTime<FixedOffset>)> {
    let due: BTreeSet<String> = due.iter().map(|n| n.id.to_string()).collect();
    let by: BTreeMap<String, String> = planned
        .superseded_at(planned.now)
        .into_iter()
        .map(|(n, by)| (n.id.to_string(), by.id.to_string()))
        .collect();
    ledger
        .entries()
        .into_iter()
        .filter(|e| e.state == State::Deferred && !due.contains(&e.id))
        .map(|e| {
            let why = match by.get(&e.id) {
                Some(later) => format!("superseded by {later}"),
                None => "no longer due (its day has passed, or the rollout changed)".to_string(),
            };
            let due_at = planned
                .notices
                .iter()
                .find(|n| n.id.to_string() == e.id)
                .map_or(e.due.unwrap_or(e.at), |n| n.send_at);
            (e, why, due_at)
        })
        .collect()
}

/// What the ledger remembers, for the planner: the heads-ups it holds as sent (or possibly
/// sent: pending) and the audit history recorded beside it.
pub fn history(ledger: &impl Ledger) -> History {
    let prefix = format!("{}/", crate::plan::NoticeKind::Announce.as_str());
    History {
        progress: Arc::new(ledger.progress().cloned().unwrap_or_default()),
        told: ledger
            .entries()
            .into_iter()
            .filter(|e| e.state.told() && e.id.starts_with(&prefix))
            .map(|e| Told {
                destination: e.destination.parse().unwrap_or_else(|never| match never {}),
                id: e.id,
                enforce_at: e.enforce_at,
            })
            .collect(),
        answers: Default::default(),
    }
}

/// `history` with today's counts of `clusters` merged in (as the tick records them), and
/// those counts.
pub fn with_today(
    mut history: History,
    clusters: &[crate::inventory::Inventory],
    config: &Config,
    now: DateTime<FixedOffset>,
) -> (History, crate::plan::progress::Measurement) {
    let measured = crate::plan::progress::measure(clusters, config, now);
    let mut progress = (*history.progress).clone();
    progress.record(&measured, config.review.history_days);
    history.progress = Arc::new(progress);
    (history, measured)
}

/// A failure worth telling the platform channel about: the notice, a stable reason, details.
#[derive(Debug, Clone)]
struct Failure {
    id: String,
    reason: String,
    detail: String,
}

/// Everything a tick works with. The edge, the ledger and the stop flag are shared (`Arc`)
/// with the tick's per-channel tasks.
pub struct Tick<'a, S, D, L> {
    pub source: &'a S,
    pub config: &'a Config,
    pub renderer: &'a Renderer,
    pub deliver: &'a Arc<D>,
    pub ledger: &'a Arc<Mutex<L>>,
    /// Set to stop between messages (shutdown, lost leadership).
    pub stop: &'a Arc<AtomicBool>,
    /// Where the outcome is counted for `/metrics`, if anywhere.
    pub metrics: Option<&'a DeliveryMetrics>,
    /// The triage answers the readiness notices and digests list, if kept.
    pub answers: Option<&'a crate::deliver::answers::AnswerStore>,
}

impl<S, D, L> Clone for Tick<'_, S, D, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S, D, L> Copy for Tick<'_, S, D, L> {}

impl<'a, S, D, L> Tick<'a, S, D, L>
where
    S: InventorySource + Clone + Send + 'static,
    D: Deliver,
    L: Ledger + 'static,
{
    /// One scheduler step at `now`.
    pub async fn run(&self, now: DateTime<FixedOffset>) -> Result<TickOutcome, TickError> {
        self.run_with(now, None).await
    }

    /// [`Tick::run`], remembering in `modes` where each policy audits from one tick to the
    /// next, so a policy flipped to Enforce since the previous tick — with or without an
    /// enforcement date — sends its "now enforced" notices (once: they share the date-based
    /// notices' ids). The ledger's audit history remembers the same across restarts (and
    /// `run --once`); `modes` serves a store that keeps none, and dry runs.
    pub async fn run_with(
        &self,
        now: DateTime<FixedOffset>,
        modes: Option<&Mutex<Option<crate::plan::readiness::AuditModes>>>,
    ) -> Result<TickOutcome, TickError> {
        let span = info_span!("tick", now = %now);
        let deadline = tokio::time::Instant::now() + self.config.delivery.tick_deadline;
        let outcome = with_deadline(deadline, self.steps(now, modes, deadline))
            .instrument(span)
            .await?;
        if let Some(m) = self.metrics {
            m.record(&outcome);
        }
        Ok(outcome)
    }

    async fn steps(
        &self,
        now: DateTime<FixedOffset>,
        modes: Option<&Mutex<Option<crate::plan::readiness::AuditModes>>>,
        deadline: tokio::time::Instant,
    ) -> Result<TickOutcome, TickError> {
        let (config, ledger, deliver) = (self.config, self.ledger, self.deliver);
        let started = tokio::time::Instant::now();
        let mut outcome = TickOutcome::default();
        let mut failures: Vec<Failure> = Vec::new();
        let mut unresolved: Vec<(String, String)> = Vec::new();
        if deliver.records() {
            let r = reconcile(&**deliver, &**ledger, deadline).await?;
            outcome.reconciled = r.resolved;
            unresolved = r.unresolved;
            failures.extend(r.unconfirmed);
            ledger.lock().await.prune(now).await?;
        }
        // Who was already warned about what: the planner tells a moved date and "all clear"
        // to them (see plan::History); and the audit history, for trends and flips.
        let mut history = history(&*ledger.lock().await);
        if let Some(store) = self.answers {
            // Answers only add lines to messages: without them the tick still sends.
            match store.load().await {
                Ok(answers) => history.answers = Some(answers),
                Err(e) => warn!(error = %e, "cannot read the triage answers; messages list none"),
            }
        }
        // Where each policy audited at the last recorded tick, even one before a restart.
        let remembered = history.progress.clone();
        // Reading the clusters, counting and planning are CPU work: off the runtime's workers.
        let (inventory, measured, mut planned) = {
            let (source, config) = (self.source.clone(), config.clone());
            tokio::task::spawn_blocking(move || {
                let inventory = source.load()?;
                let (history, measured) = with_today(history, &inventory, &config, now);
                let planned = plan_with(&inventory, &config, now, &history);
                Ok::<_, crate::inventory::snapshot::SnapshotError>((inventory, measured, planned))
            })
            .await
            .map_err(|e| TickError::Task(e.to_string()))??
        };
        for p in inventory.iter().flat_map(|inv| &inv.problems) {
            warn!(problem = %p, "inventory");
        }
        let in_memory = match modes {
            Some(m) => m
                .lock()
                .await
                .replace(crate::plan::readiness::audit_modes(&inventory)),
            None => None,
        };
        // The store's memory first: another replica may have ticked since this one last did.
        // A dry run records nothing, so its own memory is the fresher.
        let stored = remembered.audit_modes(&inventory);
        let before = if deliver.records() {
            stored.or(in_memory)
        } else {
            in_memory.or(stored)
        };
        if let Some(before) = before {
            let known: BTreeSet<String> =
                planned.notices.iter().map(|n| n.id.to_string()).collect();
            let flips = crate::plan::readiness::flip_notices(&before, &inventory, config, now);
            planned.notices.extend(
                flips
                    .into_iter()
                    .filter(|n| !known.contains(&n.id.to_string())),
            );
        }
        if deliver.records() {
            // Recorded before delivery, so what the messages say about trends is kept; a
            // history that cannot be written costs trends, never a notice.
            let recorded = ledger
                .lock()
                .await
                .record_progress(&measured, config.review.history_days)
                .await;
            if let Err(e) = recorded {
                warn!(error = %e, "cannot record the audit history; trends miss this tick");
            }
        }
        for p in &planned.problems {
            warn!(problem = %p, "plan");
        }
        let due: Vec<Notice> = {
            let l = ledger.lock().await;
            due(&planned, &*l).into_iter().cloned().collect()
        };
        outcome.due = due.len();
        // Deferred at an earlier tick: sent now (late), or never (superseded), and either way
        // recorded and told to the platform.
        type Replaced = Vec<(Entry, String, DateTime<FixedOffset>)>;
        let (deferred, replaced): (BTreeSet<String>, Replaced) = {
            let l = ledger.lock().await;
            let deferred = l
                .entries()
                .into_iter()
                .filter(|e| e.state == State::Deferred)
                .map(|e| e.id)
                .collect();
            (deferred, superseded(&planned, &due, &*l))
        };
        if deliver.records() {
            for (entry, why, due_at) in replaced {
                info!(notice = %entry.id, why = %why, "deferred notice will not be sent");
                failures.push(Failure {
                    id: entry.id.clone(),
                    reason: "superseded".into(),
                    detail: format!(
                        "due {}, not delivered then; never sent: {why}",
                        due_at
                            .with_timezone(&config.time_zone)
                            .format("%a %-d %b %H:%M")
                    ),
                });
                outcome.superseded.push((entry.id.clone(), why.clone()));
                ledger
                    .lock()
                    .await
                    .put(Entry {
                        state: State::Superseded,
                        error: Some(why),
                        ..entry
                    })
                    .await?;
            }
        }
        let planned_at: BTreeMap<String, DateTime<FixedOffset>> =
            due.iter().map(|n| (n.id.to_string(), n.send_at)).collect();
        type Planned = (String, DateTime<FixedOffset>, DateTime<FixedOffset>);
        let keep_until: BTreeMap<String, Planned> = due
            .iter()
            .map(|n| {
                let planned = (n.destination.to_string(), n.keep_until, n.send_at);
                (n.id.to_string(), planned)
            })
            .collect();
        // Contacts written as emails become mentions: looked up now, at the edge (cached).
        let mentions = mentions(&**deliver, &due, config).await;
        // Rendered for the moment of sending: the tick's time plus what reconciling and
        // planning took.
        let at = now
            + chrono::Duration::from_std(started.elapsed())
                .unwrap_or_else(|_| chrono::Duration::zero());
        let ctx = RenderContext { at, mentions };
        let refs: Vec<&Notice> = due.iter().collect();
        let (batches, unrendered) =
            self.renderer
                .render_batches(&refs, config, &ctx, config.delivery.batch);
        for (n, e) in unrendered {
            error!(notice = %n.id, error = %e, "cannot render notice; not sent");
            outcome
                .failed
                .push((n.id.to_string(), "render_error".into()));
            failures.push(Failure {
                id: n.id.to_string(),
                reason: "render_error".into(),
                detail: e.to_string(),
            });
        }
        let mut by_channel: BTreeMap<String, Vec<(Vec<Notice>, Message)>> = BTreeMap::new();
        for b in batches {
            by_channel
                .entry(b.message.channel.to_string())
                .or_default()
                .push((b.notices.into_iter().cloned().collect(), b.message));
        }
        // One task per channel: a slow channel (or a slow ledger write for it) holds up no other.
        let queue_ctx = QueueCtx {
            deliver: self.deliver.clone(),
            ledger: self.ledger.clone(),
            stop: self.stop.clone(),
            abort: Arc::new(AtomicBool::new(false)),
            pace: config.delivery.channel_pace,
            deadline,
        };
        let mut tasks = tokio::task::JoinSet::new();
        for queue in by_channel.into_values() {
            let ctx = queue_ctx.clone();
            tasks.spawn(
                with_deadline(deadline, send_queue(ctx, queue))
                    .instrument(tracing::Span::current()),
            );
        }
        while let Some(joined) = tasks.join_next().await {
            let r = joined.map_err(|e| TickError::Task(e.to_string()))??;
            outcome.sent.extend(r.outcome.sent);
            outcome.failed.extend(r.outcome.failed);
            outcome.pending.extend(r.outcome.pending);
            failures.extend(r.failures);
            if outcome.stopped.is_none() {
                outcome.stopped = r.outcome.stopped;
            }
        }
        if deliver.records() {
            self.defer(&outcome, &keep_until, now).await?;
            for id in outcome.sent.iter().filter(|id| deferred.contains(*id)) {
                let due_at = planned_at.get(id).map_or_else(String::new, |at| {
                    at.with_timezone(&config.time_zone)
                        .format("%a %-d %b %H:%M")
                        .to_string()
                });
                failures.push(Failure {
                    id: id.clone(),
                    reason: "late".into(),
                    detail: format!("due {due_at}, delivered at this tick"),
                });
                outcome.late.push(id.clone());
            }
        }
        outcome.pending.extend(unresolved);
        // Tasks finish in any order: report in a stable one.
        outcome.late.sort();
        outcome.superseded.sort();
        outcome.sent.sort();
        outcome.failed.sort();
        outcome.pending.sort();
        failures.sort_by(|a, b| (&a.id, &a.reason).cmp(&(&b.id, &b.reason)));
        if deliver.records() {
            outcome.reported = self.report(&failures, now).await?;
        }
        info!(
            due = outcome.due,
            sent = outcome.sent.len(),
            failed = outcome.failed.len(),
            pending = outcome.pending.len(),
            "tick done"
        );
        Ok(outcome)
    }

    /// Records as deferred every notice due at this tick that was definitely not posted (no
    /// ledger entry left by the send: Slack unavailable, deadline, shutdown, token), so the next
    /// tick knows it is late — or that a later notice supersedes it. A deferred notice keeps
    /// the time of its first deferral.
    async fn defer(
        &self,
        outcome: &TickOutcome,
        due: &BTreeMap<String, (String, DateTime<FixedOffset>, DateTime<FixedOffset>)>,
        now: DateTime<FixedOffset>,
    ) -> Result<(), LedgerError> {
        let mut l = self.ledger.lock().await;
        for (id, why) in &outcome.pending {
            let Some((destination, keep_until, due_at)) = due.get(id) else {
                continue;
            };
            let at = match l.get(id) {
                None => now,
                Some(e) if e.state == State::Deferred => e.at,
                // Pending (outcome unknown) or settled: not ours to touch.
                Some(_) => continue,
            };
            l.put(Entry {
                id: id.clone(),
                state: State::Deferred,
                destination: destination.clone(),
                channel: None,
                ts: None,
                error: Some(why.clone()),
                at,
                enforce_at: *keep_until,
                due: Some(*due_at),
            })
            .await?;
        }
        Ok(())
    }

    /// Tells the platform channel, in one message, about every failure (notice, reason) not
    /// reported before; remembers them in the ledger once the message is posted (or may have
    /// been: a report is never sent twice). Returns how many were reported.
    async fn report(
        &self,
        failures: &[Failure],
        now: DateTime<FixedOffset>,
    ) -> Result<usize, LedgerError> {
        let new: Vec<&Failure> = {
            let l = self.ledger.lock().await;
            let mut seen = BTreeSet::new();
            failures
                .iter()
                .filter(|f| !l.reported(&f.id, &f.reason))
                .filter(|f| seen.insert((f.id.clone(), f.reason.clone())))
                .collect()
        };
        if new.is_empty() {
            return Ok(0);
        }
        let reasons: BTreeSet<&str> = new.iter().map(|f| f.reason.as_str()).collect();
        let of = |reason: &str| new.iter().filter(|f| f.reason == reason).count();
        let (late, superseded) = (of("late"), of("superseded"));
        let view = FailureView {
            cause: reasons.into_iter().collect::<Vec<_>>().join(", "),
            count: new.len(),
            failed: new.len() - late - superseded,
            late,
            superseded,
            items: new
                .iter()
                .map(|f| FailureItem {
                    id: f.id.clone(),
                    reason: f.reason.clone(),
                    detail: f.detail.clone(),
                })
                .collect(),
        };
        let mut message = match self.renderer.render_view("failure", &view) {
            Ok(m) => m,
            Err(e) => {
                error!(error = %e, "cannot render the delivery-failure report");
                return Ok(0);
            }
        };
        message.channel = Destination::Channel(self.config.platform.channel.clone());
        let id = format!("failure/{}", now.to_rfc3339());
        let result = self.deliver.send(&[id.as_str()], &message).await;
        if let Err(e) = &result
            && e.may_have_posted()
        {
            // Most likely it arrived: remembered as reported, so the platform channel never
            // gets the same report twice (the run's exit code and log still list them).
            warn!(error = %e, "the failure report may not have arrived; not sending it again");
        }
        match result {
            Ok(_) | Err(DeliveryError::Unknown { .. }) => {
                let at = Utc::now().fixed_offset();
                let items = new
                    .iter()
                    .map(|f| Reported {
                        id: f.id.clone(),
                        reason: f.reason.clone(),
                        at,
                    })
                    .collect();
                self.ledger.lock().await.mark_reported(items).await?;
                Ok(new.len())
            }
            Err(e) => {
                error!(error = %e, "cannot report delivery failures to the platform channel; trying again at the next tick");
                Ok(0)
            }
        }
    }
}

/// What one channel's task works with.
struct QueueCtx<D, L> {
    deliver: Arc<D>,
    ledger: Arc<Mutex<L>>,
    stop: Arc<AtomicBool>,
    /// Set by the first task that meets a token error: the others stop too.
    abort: Arc<AtomicBool>,
    pace: std::time::Duration,
    deadline: tokio::time::Instant,
}

impl<D, L> Clone for QueueCtx<D, L> {
    fn clone(&self) -> Self {
        Self {
            deliver: self.deliver.clone(),
            ledger: self.ledger.clone(),
            stop: self.stop.clone(),
            abort: self.abort.clone(),
            pace: self.pace,
            deadline: self.deadline,
        }
    }
}

/// Sends one channel's messages in order, one per `delivery.channel-pace`. A message carries
/// one notice or several (a batch): every one of them is recorded `pending` before the post and
/// shares its outcome — `sent` with the same channel and ts, `failed`, or left pending for the
/// next tick to reconcile each by its own id (the message lists them all in its metadata).
async fn send_queue<D: Deliver, L: Ledger>(
    ctx: QueueCtx<D, L>,
    queue: Vec<(Vec<Notice>, Message)>,
) -> Result<QueueOutcome, LedgerError> {
    let (deliver, ledger, abort, deadline) =
        (&*ctx.deliver, &*ctx.ledger, &*ctx.abort, ctx.deadline);
    let mut out = QueueOutcome::default();
    let mut queue = queue.into_iter().enumerate().peekable();
    let ids_of =
        |notices: &[Notice]| -> Vec<String> { notices.iter().map(|n| n.id.to_string()).collect() };
    while let Some((i, (notices, message))) = queue.next() {
        if i > 0 && deliver.records() {
            tokio::time::sleep(ctx.pace).await;
        }
        if ctx.stop.load(Ordering::SeqCst) {
            out.outcome.stopped = Some("shutdown".into());
            break;
        }
        if abort.load(Ordering::SeqCst) {
            out.outcome.stopped = Some("token rejected".into());
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            warn!(channel = %message.channel, "tick deadline reached; the rest waits for the next tick");
            let left = std::iter::once(notices)
                .chain(queue.map(|(_, (n, _))| n))
                .flat_map(|n| ids_of(&n));
            out.outcome
                .pending
                .extend(left.map(|id| (id, "not sent: tick deadline reached".into())));
            break;
        }
        // The attempt, by the wall clock Slack's history uses.
        let attempt = Utc::now().fixed_offset();
        let pendings: Vec<Entry> = notices
            .iter()
            .map(|notice| Entry {
                id: notice.id.to_string(),
                state: State::Pending,
                destination: notice.destination.to_string(),
                channel: None,
                ts: None,
                error: None,
                at: attempt,
                enforce_at: notice.keep_until,
                due: Some(notice.send_at),
            })
            .collect();
        if deliver.records() {
            let mut l = ledger.lock().await;
            for p in &pendings {
                l.put(p.clone()).await?;
            }
        }
        let ids: Vec<&str> = pendings.iter().map(|p| p.id.as_str()).collect();
        let span = info_span!("message", ids = %ids.join(","), destination = %message.channel);
        let result = deliver.send(&ids, &message).instrument(span).await;
        match result {
            Ok(d) => {
                if deliver.records() {
                    let mut l = ledger.lock().await;
                    let at = Utc::now().fixed_offset();
                    for p in &pendings {
                        l.put(Entry {
                            state: State::Sent,
                            channel: Some(d.channel.clone()),
                            ts: Some(d.ts.clone()),
                            at,
                            ..p.clone()
                        })
                        .await?;
                    }
                }
                out.outcome.sent.extend(ids_of(&notices));
            }
            Err(e @ DeliveryError::Auth { .. }) => {
                error!(notices = %ids.join(","), error = %e, "Slack rejected the token; stopping this tick");
                // Nothing was posted: forget the pending entries so the notices go out once
                // the token is fixed.
                {
                    let mut l = ledger.lock().await;
                    for p in &pendings {
                        l.remove(&p.id).await?;
                    }
                }
                abort.store(true, Ordering::SeqCst);
                out.outcome.pending.extend(
                    pendings
                        .iter()
                        .map(|p| (p.id.clone(), format!("not sent: {}", e.cause()))),
                );
                out.outcome.stopped = Some(e.to_string());
                break;
            }
            Err(e @ DeliveryError::Unknown { .. }) => {
                // Slack may or may not have posted it: stays pending, reconciled with the
                // channel's history at the next tick before anything is sent again.
                warn!(notices = %ids.join(","), error = %e, "delivery outcome unknown; left pending");
                out.outcome
                    .pending
                    .extend(pendings.iter().map(|p| (p.id.clone(), e.to_string())));
            }
            Err(e @ DeliveryError::Unavailable { .. }) => {
                // Definitely not posted: due again at the next tick.
                warn!(notices = %ids.join(","), error = %e, "not delivered; tried again at the next tick");
                if deliver.records() {
                    let mut l = ledger.lock().await;
                    for p in &pendings {
                        l.remove(&p.id).await?;
                    }
                }
                out.outcome.pending.extend(
                    pendings
                        .iter()
                        .map(|p| (p.id.clone(), format!("not sent: {e}"))),
                );
            }
            Err(e @ DeliveryError::Rejected { .. }) => {
                warn!(notices = %ids.join(","), error = %e, "Slack refused the message; recorded as failed");
                if deliver.records() {
                    let mut l = ledger.lock().await;
                    for p in &pendings {
                        l.put(Entry {
                            state: State::Failed,
                            error: Some(e.cause()),
                            ..p.clone()
                        })
                        .await?;
                    }
                }
                for notice in &notices {
                    out.failures.push(Failure {
                        id: notice.id.to_string(),
                        reason: e.cause(),
                        detail: format!("Slack answered {} for {}", e.cause(), notice.destination),
                    });
                    out.outcome.failed.push((notice.id.to_string(), e.cause()));
                }
            }
        }
    }
    Ok(out)
}

/// The Slack user ids of every email written in the contacts the `due` notices show (and the
/// members of teams with `mention-members`), looked up through the edge (`users.lookupByEmail`,
/// cached there). An address Slack does not know, or a lookup that fails, stays text.
async fn mentions<D: Deliver>(
    deliver: &D,
    due: &[Notice],
    config: &Config,
) -> BTreeMap<String, String> {
    let mut emails = BTreeSet::new();
    for n in due {
        for text in crate::render::contacts_of(n, config) {
            emails.extend(crate::render::mention::emails_in(&text));
        }
    }
    let mut out = BTreeMap::new();
    for email in emails {
        match deliver.lookup_user(&email).await {
            Ok(Some(id)) => {
                out.insert(email.to_lowercase(), id);
            }
            Ok(None) => {}
            Err(e) => {
                // Slack unavailable, or no `users:read.email`: the rest would fail the same
                // way and eat the tick's time; every remaining email stays text.
                warn!(error = %e, "cannot look up contacts' Slack users; their emails stay text");
                break;
            }
        }
    }
    out
}

#[derive(Debug, Default)]
struct QueueOutcome {
    outcome: TickOutcome,
    failures: Vec<Failure>,
}

/// What reconciling the pending entries found.
#[derive(Debug, Default)]
struct Reconciled {
    /// Found in Slack (now `sent`) or proven absent (cleared, to be sent again).
    resolved: usize,
    /// Still pending, with why.
    unresolved: Vec<(String, String)>,
    /// Pending entries that cannot be confirmed until someone acts (history scope, channel).
    unconfirmed: Vec<Failure>,
}

/// Resolves `pending` entries left by a crash or an unanswered send: found in the channel's
/// history since the attempt → `sent`; proven absent → deferred, so the notice is sent again
/// (late) or recorded as superseded;
/// unknown (no history scope, channel not resolvable, Slack down) → left pending, never resent
/// blindly.
async fn reconcile<D: Deliver, L: Ledger>(
    deliver: &D,
    ledger: &Mutex<L>,
    deadline: tokio::time::Instant,
) -> Result<Reconciled, LedgerError> {
    let pending: Vec<Entry> = ledger
        .lock()
        .await
        .entries()
        .into_iter()
        .filter(|e| e.state == State::Pending)
        .collect();
    let mut out = Reconciled::default();
    for entry in pending {
        if tokio::time::Instant::now() >= deadline {
            out.unresolved
                .push((entry.id, "unconfirmed: tick deadline reached".into()));
            continue;
        }
        let channel = entry
            .channel
            .clone()
            .unwrap_or_else(|| entry.destination.clone());
        // An attempt time ahead of the clock (a ledger written with `--now` in the future)
        // bounds nothing: search the whole (paged) history instead.
        let since = if entry.at > Utc::now() {
            DateTime::<Utc>::UNIX_EPOCH.fixed_offset()
        } else {
            entry.at
        };
        match deliver.find_sent(&entry.id, &channel, since).await {
            Ok(Some(found)) => {
                info!(notice = %entry.id, "pending notice found in Slack; marking it sent");
                ledger
                    .lock()
                    .await
                    .put(Entry {
                        state: State::Sent,
                        channel: Some(found.channel),
                        ts: Some(found.ts),
                        ..entry
                    })
                    .await?;
                out.resolved += 1;
            }
            Ok(None) => {
                info!(notice = %entry.id, "pending notice proven absent from Slack; it will be sent again");
                // Not posted on its attempt: deferred, so it goes out late (if still due) or
                // is recorded as superseded — never dropped silently.
                ledger
                    .lock()
                    .await
                    .put(Entry {
                        state: State::Deferred,
                        error: Some(
                            "its send was not answered and the channel's history proves it absent"
                                .into(),
                        ),
                        ..entry
                    })
                    .await?;
                out.resolved += 1;
            }
            Err(e @ (DeliveryError::Auth { .. } | DeliveryError::Rejected { .. })) => {
                warn!(notice = %entry.id, error = %e, "cannot check whether a pending notice was sent; leaving it pending");
                let reason = format!("unconfirmed: {}", e.cause());
                out.unconfirmed.push(Failure {
                    id: entry.id.clone(),
                    reason: reason.clone(),
                    detail: format!(
                        "may or may not be in {channel}; forewarn cannot read that channel's history ({}), so it will not send it again",
                        e.cause()
                    ),
                });
                out.unresolved.push((entry.id, reason));
            }
            Err(e) => {
                warn!(notice = %entry.id, error = %e, "cannot check whether a pending notice was sent; leaving it pending");
                out.unresolved.push((entry.id, format!("unconfirmed: {e}")));
            }
        }
    }
    Ok(out)
}

/// Runs a tick at every time of the schedule until `shutdown` resolves. A shutdown during a
/// tick lets the message in flight finish (send and ledger write) and stops before the next one.
///
/// With `leader` (replicas sharing one ledger), only the leader ticks; when leadership is lost
/// mid-tick, delivery stops before the next message — before another replica can take over.
/// A ledger that cannot be written skips the tick (nothing is sent without a `pending` record)
/// and is tried again at the next one.
pub async fn run_loop<
    S: InventorySource + Clone + Send + 'static,
    D: Deliver,
    L: Ledger + 'static,
>(
    tick: Tick<'_, S, D, L>,
    leader: Option<tokio::sync::watch::Receiver<bool>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), TickError> {
    let (config, ledger, stop) = (tick.config, tick.ledger, tick.stop);
    tokio::pin!(shutdown);
    // Between ticks another writer (an operator's `run --once`) may use the ledger: it is
    // taken again at the start of each tick.
    ledger.lock().await.release();
    // Where each policy audited at the previous tick, for a ledger that keeps no audit history
    // (both stores do: they remember it across restarts).
    let modes = Mutex::new(None);
    loop {
        let now = Utc::now().with_timezone(&config.time_zone);
        let Some(next) = config.schedule.after(&now).next() else {
            warn!("the schedule has no future tick; stopping");
            return Ok(());
        };
        let wait = (next - now).to_std().unwrap_or_default();
        info!(next = %next, "waiting for the next tick");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => {
                info!("shutting down");
                return Ok(());
            }
        }
        if let Some(l) = &leader
            && !*l.borrow()
        {
            info!("not the leader; another replica delivers this tick");
            continue;
        }
        if let Err(e) = ledger.lock().await.refresh().await {
            error!(error = %e, "cannot read the ledger; skipping this tick");
            continue;
        }
        stop.store(false, Ordering::SeqCst);
        let lost = async {
            match leader.clone() {
                Some(mut rx) => {
                    let _ = rx.wait_for(|is| !*is).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let tick_at = next.fixed_offset();
        let tick_fut = tick.run_with(tick_at, Some(&modes));
        tokio::pin!(tick_fut);
        let result = tokio::select! {
            r = &mut tick_fut => r,
            _ = &mut shutdown => {
                stop.store(true, Ordering::SeqCst);
                let r = tick_fut.await;
                info!("shutting down after the message in flight");
                return r.map(|_| ());
            }
            _ = lost => {
                warn!("lost leadership: stopping delivery after the message in flight");
                stop.store(true, Ordering::SeqCst);
                tick_fut.await
            }
        };
        // Let another writer of the same ledger in until the next tick.
        ledger.lock().await.release();
        match result {
            Ok(o) => {
                if let Some(why) = o.stopped {
                    warn!(reason = %why, "tick stopped early");
                }
            }
            Err(e) => error!(error = %e, "tick failed; trying again at the next tick"),
        }
    }
}
