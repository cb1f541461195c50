//! The scheduler: one tick is "load, plan, pick what is due and not yet sent, render, deliver,
//! record"; the daemon is a thin loop that runs a tick at every time of the cron schedule.
//!
//! [`tick`] is public so tests (and `forewarn run --once`) drive it directly with a fixed time.
//! It never sends a notice the ledger already holds, writes `pending` before each send, keeps
//! to about one message per second per channel without idling while other channels have work,
//! and stops between messages (never inside one) when asked to shut down.

use crate::config::Config;
use crate::deliver::ledger::{Entry, Ledger, LedgerError, Reported, State};
use crate::deliver::{Deliver, DeliveryError};
use crate::inventory::snapshot::InventorySource;
use crate::model::ids::{ClusterName, Destination};
use crate::plan::{Notice, Plan, plan};
use crate::render::{Message, Renderer};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::{Instrument, error, info, info_span, warn};

/// Slack's guidance: about one message per second per channel.
pub const CHANNEL_PACE: Duration = Duration::from_secs(1);

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// Notices due at this tick (not yet in the ledger).
    pub due: usize,
    /// Delivered (or printed, in a dry run).
    pub sent: Vec<String>,
    /// Refused by Slack, with the error; recorded as failed.
    pub failed: Vec<(String, String)>,
    /// Pending entries resolved at the start of the tick (found in Slack, or cleared to resend).
    pub reconciled: usize,
    /// Set when the tick stopped early: a token error, or shutdown.
    pub stopped: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Source(#[from] crate::inventory::snapshot::SnapshotError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The notices to send at `now`: for each policy and audience, only the latest milestone whose
/// send time has come (after downtime, one catch-up message, never a burst), and only when
/// the ledger does not hold it yet.
pub fn due<'a>(planned: &'a Plan, ledger: &impl Ledger) -> Vec<&'a Notice> {
    type Key<'a> = (
        crate::plan::NoticeKind,
        Option<&'a ClusterName>,
        &'a str,
        &'a str,
    );
    let mut latest: BTreeMap<Key, &Notice> = BTreeMap::new();
    for n in planned.notices.iter().filter(|n| n.send_at <= planned.now) {
        let key = (
            n.kind,
            n.cluster.as_ref(),
            n.policy.as_str(),
            n.audience.as_str(),
        );
        let slot = latest.entry(key).or_insert(n);
        if n.send_at > slot.send_at {
            *slot = n;
        }
    }
    let mut out: Vec<&Notice> = latest
        .into_values()
        .filter(|n| ledger.get(&n.id.to_string()).is_none())
        .collect();
    out.sort_by(|a, b| (a.send_at, &a.id).cmp(&(b.send_at, &b.id)));
    out
}

/// Resolves `pending` entries left by a crash or an unanswered send: found in the channel's
/// history → `sent`; not found → cleared so the notice can be sent again; unknown (no history
/// scope, Slack down) → left pending, never resent blindly.
pub async fn reconcile<D: Deliver>(
    deliver: &D,
    ledger: &Mutex<impl Ledger>,
) -> Result<usize, LedgerError> {
    let pending: Vec<Entry> = ledger
        .lock()
        .await
        .entries()
        .into_iter()
        .filter(|e| e.state == State::Pending)
        .collect();
    let mut resolved = 0;
    for entry in pending {
        let channel = entry
            .channel
            .clone()
            .unwrap_or_else(|| entry.destination.clone());
        match deliver.find_sent(&entry.id, &channel).await {
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
                resolved += 1;
            }
            Ok(None) => {
                info!(notice = %entry.id, "pending notice not found in Slack; it will be sent again");
                ledger.lock().await.remove(&entry.id).await?;
                resolved += 1;
            }
            Err(e) => {
                warn!(notice = %entry.id, error = %e, "cannot check whether a pending notice was sent; leaving it pending")
            }
        }
    }
    Ok(resolved)
}

/// One scheduler step at `now`.
#[allow(clippy::too_many_arguments)]
pub async fn tick<D: Deliver, L: Ledger>(
    source: &impl InventorySource,
    config: &Config,
    renderer: &Renderer,
    deliver: &D,
    ledger: &Mutex<L>,
    now: DateTime<FixedOffset>,
    stop: &AtomicBool,
) -> Result<TickOutcome, TickError> {
    tick_with(source, config, renderer, deliver, ledger, now, stop, None).await
}

/// [`tick`], remembering in `modes` where each policy audits from one tick to the next, so a
/// policy flipped to Enforce since the previous tick — with or without an enforcement date —
/// sends its "now enforced" notices (once: they share the date-based notices' ids).
#[allow(clippy::too_many_arguments)]
pub async fn tick_with<D: Deliver, L: Ledger>(
    source: &impl InventorySource,
    config: &Config,
    renderer: &Renderer,
    deliver: &D,
    ledger: &Mutex<L>,
    now: DateTime<FixedOffset>,
    stop: &AtomicBool,
    modes: Option<&Mutex<Option<crate::plan::readiness::AuditModes>>>,
) -> Result<TickOutcome, TickError> {
    let span = info_span!("tick", now = %now);
    async move {
        let mut outcome = TickOutcome::default();
        if deliver.records() {
            outcome.reconciled = reconcile(deliver, ledger).await?;
            ledger.lock().await.prune(now).await?;
        }
        let inventory = source.load()?;
        for p in inventory.iter().flat_map(|inv| &inv.problems) {
            warn!(problem = %p, "inventory");
        }
        let mut planned = plan(&inventory, config, now);
        if let Some(m) = modes {
            let before = m
                .lock()
                .await
                .replace(crate::plan::readiness::audit_modes(&inventory));
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
        }
        for p in &planned.problems {
            warn!(problem = %p, "plan");
        }
        let due: Vec<Notice> = {
            let l = ledger.lock().await;
            due(&planned, &*l).into_iter().cloned().collect()
        };
        outcome.due = due.len();
        let mut by_channel: BTreeMap<String, Vec<(Notice, Message)>> = BTreeMap::new();
        for n in due {
            match renderer.render(&n, config) {
                Ok(m) => by_channel
                    .entry(m.channel.to_string())
                    .or_default()
                    .push((n, m)),
                Err(e) => error!(notice = %n.id, error = %e, "cannot render notice; skipped"),
            }
        }
        let abort = AtomicBool::new(false);
        let results = futures::future::join_all(
            by_channel
                .into_values()
                .map(|queue| send_queue(queue, deliver, ledger, now, stop, &abort)),
        )
        .await;
        for r in results {
            let r = r?;
            outcome.sent.extend(r.sent);
            outcome.failed.extend(r.failed);
            if outcome.stopped.is_none() {
                outcome.stopped = r.stopped;
            }
        }
        if deliver.records() {
            report_failures(&outcome.failed, config, renderer, deliver, ledger).await?;
        }
        info!(
            due = outcome.due,
            sent = outcome.sent.len(),
            failed = outcome.failed.len(),
            "tick done"
        );
        Ok(outcome)
    }
    .instrument(span)
    .await
}

/// Sends one channel's messages in order, one per [`CHANNEL_PACE`].
async fn send_queue<D: Deliver, L: Ledger>(
    queue: Vec<(Notice, Message)>,
    deliver: &D,
    ledger: &Mutex<L>,
    now: DateTime<FixedOffset>,
    stop: &AtomicBool,
    abort: &AtomicBool,
) -> Result<TickOutcome, LedgerError> {
    let mut out = TickOutcome::default();
    for (i, (notice, message)) in queue.into_iter().enumerate() {
        if i > 0 && deliver.records() {
            tokio::time::sleep(CHANNEL_PACE).await;
        }
        if stop.load(Ordering::SeqCst) {
            out.stopped = Some("shutdown".into());
            break;
        }
        if abort.load(Ordering::SeqCst) {
            out.stopped = Some("token rejected".into());
            break;
        }
        let pending = Entry {
            id: notice.id.to_string(),
            state: State::Pending,
            destination: notice.destination.to_string(),
            channel: None,
            ts: None,
            error: None,
            at: now,
            enforce_at: notice.keep_until,
        };
        if deliver.records() {
            ledger.lock().await.put(pending.clone()).await?;
        }
        let span = info_span!("notice", id = %notice.id, destination = %notice.destination);
        let result = deliver.send(&pending.id, &message).instrument(span).await;
        match result {
            Ok(d) => {
                if deliver.records() {
                    ledger
                        .lock()
                        .await
                        .put(Entry {
                            state: State::Sent,
                            channel: Some(d.channel),
                            ts: Some(d.ts),
                            at: Utc::now().fixed_offset(),
                            ..pending
                        })
                        .await?;
                }
                out.sent.push(notice.id.to_string());
            }
            Err(e @ DeliveryError::Auth { .. }) => {
                error!(notice = %notice.id, error = %e, "Slack rejected the token; stopping this tick");
                // Nothing was posted: forget the pending entry so the notice goes out once the
                // token is fixed.
                ledger.lock().await.remove(&notice.id.to_string()).await?;
                abort.store(true, Ordering::SeqCst);
                out.stopped = Some(e.to_string());
                break;
            }
            Err(e @ DeliveryError::Unavailable { .. }) => {
                // Slack may or may not have posted it: stays pending, reconciled next tick.
                warn!(notice = %notice.id, error = %e, "delivery outcome unknown; left pending");
            }
            Err(e @ DeliveryError::Rejected { .. }) => {
                warn!(notice = %notice.id, error = %e, "Slack refused the notice; recorded as failed");
                ledger
                    .lock()
                    .await
                    .put(Entry {
                        state: State::Failed,
                        error: Some(e.cause()),
                        ..pending
                    })
                    .await?;
                out.failed.push((notice.id.to_string(), e.cause()));
            }
        }
    }
    Ok(out)
}

/// Tells the platform channel about delivery failures, once per cause.
async fn report_failures<D: Deliver, L: Ledger>(
    failed: &[(String, String)],
    config: &Config,
    renderer: &Renderer,
    deliver: &D,
    ledger: &Mutex<L>,
) -> Result<(), LedgerError> {
    let mut causes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, cause) in failed {
        causes.entry(cause).or_default().push(id);
    }
    for (cause, ids) in causes {
        let ids: Vec<&str> = {
            let l = ledger.lock().await;
            ids.into_iter().filter(|i| !l.reported(i, cause)).collect()
        };
        if ids.is_empty() {
            continue;
        }
        // Which destinations refused, so the platform team knows where to invite the app.
        let data = serde_json::json!({
            "cause": cause,
            "count": ids.len(),
            "items": ids.iter().map(|i| serde_json::json!({"id": i})).collect::<Vec<_>>(),
        });
        let mut message = match renderer.render_answer("failure", &data) {
            Ok(m) => m,
            Err(e) => {
                error!(error = %e, "cannot render the delivery-failure report");
                continue;
            }
        };
        message.channel = Destination::Channel(config.platform.channel.clone());
        match deliver.send(&format!("failure/{cause}"), &message).await {
            Ok(_) => {
                let at = Utc::now().fixed_offset();
                let items = ids
                    .iter()
                    .map(|i| Reported {
                        id: i.to_string(),
                        reason: cause.to_string(),
                        at,
                    })
                    .collect();
                ledger.lock().await.mark_reported(items).await?
            }
            Err(e) => {
                error!(cause, error = %e, "cannot report delivery failures to the platform channel")
            }
        }
    }
    Ok(())
}

/// Runs a tick at every time of the schedule until `shutdown` resolves. A shutdown during a
/// tick lets the message in flight finish (send and ledger write) and stops before the next one.
///
/// With `leader` (replicas sharing one ledger), only the leader ticks; when leadership is lost
/// mid-tick, delivery stops before the next message — before another replica can take over.
/// A ledger that cannot be written skips the tick (nothing is sent without a `pending` record)
/// and is tried again at the next one.
#[allow(clippy::too_many_arguments)]
pub async fn run_loop<D: Deliver, L: Ledger>(
    source: &impl InventorySource,
    config: &Config,
    renderer: &Renderer,
    deliver: &D,
    ledger: &Mutex<L>,
    stop: &AtomicBool,
    leader: Option<tokio::sync::watch::Receiver<bool>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), TickError> {
    tokio::pin!(shutdown);
    // Where each policy audited at the previous tick (kept in memory: after a restart, only
    // flips on their enforcement date are noticed until the next tick).
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
        let tick_fut = tick_with(
            source,
            config,
            renderer,
            deliver,
            ledger,
            tick_at,
            stop,
            Some(&modes),
        );
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
