//! Delivery metrics for `/metrics`, kept with `prometheus-client`: what the last tick left
//! pending, failures by reason, messages sent, and the Slack edge's request outcomes.
//!
//! The values are cheap-clone handles (`Arc`s inside): the tick records into them, the HTTP
//! edge encodes the registry they were registered with. Nothing here does I/O.

use crate::deliver::tick::TickOutcome;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of a counter by one dimension (`reason`, `outcome`).
pub type Labels = Vec<(&'static str, String)>;

/// What the scheduler's ticks did.
#[derive(Debug, Clone, Default)]
pub struct DeliveryMetrics {
    /// Notices due but not (proven) sent at the end of the last tick.
    pub pending: Gauge,
    /// 1 when the last tick sent or proved sent everything due, else 0.
    pub last_tick_clean: Gauge,
    /// Delivery failures, by reason (`channel_not_found`, `render_error`, …).
    pub failures: Family<Labels, Counter>,
    /// Notices sent.
    pub sent: Counter,
    /// Ticks run.
    pub ticks: Counter,
}

impl DeliveryMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "forewarn_delivery_pending",
            "Notices due but not (proven) sent at the end of the last tick",
            self.pending.clone(),
        );
        registry.register(
            "forewarn_delivery_last_tick_clean",
            "1 when the last tick sent (or proved sent) everything due",
            self.last_tick_clean.clone(),
        );
        registry.register(
            "forewarn_delivery_failures",
            "Delivery failures, by reason",
            self.failures.clone(),
        );
        registry.register(
            "forewarn_notices_sent",
            "Notices sent to Slack",
            self.sent.clone(),
        );
        registry.register("forewarn_ticks", "Scheduler ticks run", self.ticks.clone());
    }

    /// Counts one tick's outcome.
    pub fn record(&self, outcome: &TickOutcome) {
        self.ticks.inc();
        self.pending.set(outcome.pending.len() as i64);
        self.last_tick_clean.set(i64::from(outcome.is_clean()));
        self.sent.inc_by(outcome.sent.len() as u64);
        for (_, reason) in &outcome.failed {
            self.failures
                .get_or_create(&vec![("reason", reason.clone())])
                .inc();
        }
        for (_, why) in &outcome.pending {
            // The reason's stable head: "outcome unknown", "not sent", "unconfirmed".
            let head = why.split(':').next().unwrap_or(why).trim().to_string();
            self.failures.get_or_create(&vec![("reason", head)]).inc();
        }
    }
}
