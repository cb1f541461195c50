//! Leader election over a Kubernetes `Lease`, so that several replicas can run while exactly one
//! delivers.
//!
//! Every replica serves slash commands; **only the leader delivers notices**. The daemon follows
//! [`Leadership::watch`] — a flag updated at each check (every [`LeaseTimings::check_every`],
//! one second by default) — and stops sending as soon as it turns `false`.
//!
//! # How a replica knows it still holds the lease
//!
//! [`kube-lease-manager`](kube_lease_manager) acquires and renews the lease in a background task.
//! Its own "is leader" flag is not enough on its own: when the API server becomes unreachable it
//! keeps reporting the last state it saw. So `Leadership` also reads the Lease itself every
//! [`LeaseTimings::check_every`] and keeps a local *deadline*: the lease's own expiry
//! (`renewTime + leaseDurationSeconds`, both written by this replica with its own clock),
//! measured from the instant *before* the read was sent, minus [`LeaseTimings::safety_margin`].
//! The flag is true only while the manager says it holds the lease **and** that deadline has
//! not passed; reading it needs no API call.
//!
//! # Timing
//!
//! The defaults are a 15 s lease renewed every 5 s (the manager's "grace" is 10 s: it renews
//! 10 s before expiry), checked every 1 s, with a 5 s safety margin:
//!
//! - a healthy leader renews at `r + 5 s`, sees the renewal within about a second, and its
//!   deadline moves from `r + 10 s` to `r + 15 s` — it never flaps;
//! - when renewals stop (API unreachable, process stalled), the leader stops delivering at
//!   `r + 10 s` at the latest on its own clock;
//! - another replica considers the lease free only once `r + 15 s` has passed on *its* clock
//!   (it sleeps until then, re-reads the Lease and takes it over).
//!
//! So the old leader has stopped at least 5 s before anyone can take over, provided the clocks
//! of the two nodes differ by less than that margin minus the duration of one send (the daemon
//! checks between messages, so a message already in flight finishes). A failover takes about
//! 15–20 s. Timings must satisfy `renew_every + check_every + safety_margin < duration`.
//!
//! On [`Leadership::shutdown`] (and, best effort, on drop) the lease is released, so another
//! replica takes over at its next look at the Lease instead of waiting for expiry.
//!
//! # The client
//!
//! Build the election's client with [`election_client`]: kube retries 429/503/504 answers
//! for a long time by default, and the lease manager's renewal is an unconditional patch, so a
//! deposed leader's renewal retried late would rewrite the new holder's `renewTime`. (Every
//! holder reads the Lease and stops as soon as it sees an earlier `renewTime`, but there is no
//! reason to let it happen.)

use anyhow::{Context, bail};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseManagerError, LeaseParams};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// How long a lease lasts, how often it is renewed and checked, and how early the holder stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimings {
    /// `leaseDurationSeconds`: how long the lease is valid after a renewal.
    pub duration_secs: u64,
    /// The holder renews this long after its last renewal.
    pub renew_every_secs: u64,
    /// How often this replica reads the Lease to move its local deadline.
    pub check_every: Duration,
    /// The holder stops considering itself leader this long before the lease expires.
    pub safety_margin: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        Self {
            duration_secs: 15,
            renew_every_secs: 5,
            check_every: Duration::from_secs(1),
            safety_margin: Duration::from_secs(5),
        }
    }
}

impl LeaseTimings {
    fn validate(&self) -> anyhow::Result<()> {
        if self.renew_every_secs == 0 || self.renew_every_secs >= self.duration_secs {
            bail!(
                "lease renewal every {} s must be more than 0 and less than the lease duration of {} s",
                self.renew_every_secs,
                self.duration_secs
            );
        }
        if self.check_every.is_zero() {
            bail!("the lease check interval must be more than 0");
        }
        let used =
            Duration::from_secs(self.renew_every_secs) + self.check_every + self.safety_margin;
        if used >= Duration::from_secs(self.duration_secs) {
            bail!(
                "renewal every {} s + check every {:?} + safety margin {:?} must be shorter than the lease duration of {} s",
                self.renew_every_secs,
                self.check_every,
                self.safety_margin,
                self.duration_secs
            );
        }
        Ok(())
    }
}

/// The identity to hold the lease under: `$POD_NAME`, else `$HOSTNAME`, else the host name
/// the kernel reports, else `forewarn-<pid>`.
pub fn default_identity() -> String {
    ["POD_NAME", "HOSTNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| format!("forewarn-{}", std::process::id()))
}

/// A client for the election: `config` with kube's default retry layer turned off (see the
/// [module docs](self#the-client)).
pub fn election_client(mut config: kube::Config) -> anyhow::Result<kube::Client> {
    config.default_retry = false;
    kube::Client::try_from(config).context("cannot build the Kubernetes client for leader election")
}

/// State shared with the background task.
#[derive(Debug)]
struct Shared {
    /// What the lease manager last reported.
    manager_says: AtomicBool,
    /// Until when this replica may act as leader; `None` when it does not hold the lease.
    deadline: Mutex<Option<Instant>>,
    stopped: AtomicBool,
}

impl Shared {
    fn is_leader(&self) -> bool {
        if self.stopped.load(Ordering::Acquire) || !self.manager_says.load(Ordering::Acquire) {
            return false;
        }
        let deadline = *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        deadline.is_some_and(|d| Instant::now() < d)
    }

    fn set_deadline(&self, d: Option<Instant>) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }
}

/// This replica's part in the leader election. See the [module docs](self).
pub struct Leadership {
    identity: String,
    shared: Arc<Shared>,
    state: watch::Receiver<bool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    monitor: Option<JoinHandle<()>>,
    manager: Option<JoinHandle<Result<LeaseManager, LeaseManagerError>>>,
    timings: LeaseTimings,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("identity", &self.identity)
            .field("is_leader", &self.is_leader())
            .field("timings", &self.timings)
            .finish()
    }
}

impl Leadership {
    /// Joins the election for Lease `lease_name` in `namespace` (created when absent) as
    /// `identity` (e.g. [`default_identity`]), with the default [`LeaseTimings`].
    pub async fn start(
        client: kube::Client,
        namespace: &str,
        lease_name: &str,
        identity: &str,
    ) -> anyhow::Result<Leadership> {
        Self::start_with(
            client,
            namespace,
            lease_name,
            identity,
            LeaseTimings::default(),
        )
        .await
    }

    /// [`start`](Self::start) with explicit timings (short ones are useful in tests).
    pub async fn start_with(
        client: kube::Client,
        namespace: &str,
        lease_name: &str,
        identity: &str,
        timings: LeaseTimings,
    ) -> anyhow::Result<Leadership> {
        timings.validate()?;
        if identity.trim().is_empty() {
            bail!("the leader election identity is empty");
        }
        let params = LeaseParams::new(
            identity,
            timings.duration_secs,
            timings.duration_secs - timings.renew_every_secs,
        );
        let manager = LeaseManager::new(
            client.clone(),
            lease_name,
            namespace,
            params,
            LeaseCreateMode::AutoCreate,
        )
        .await
        .with_context(|| format!("cannot use Lease {namespace}/{lease_name}"))?;
        let (manager_rx, manager_task) = manager.watch().await;

        let shared = Arc::new(Shared {
            manager_says: AtomicBool::new(*manager_rx.borrow()),
            deadline: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        let (state_tx, state_rx) = watch::channel(false);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let monitor = Monitor {
            api: Api::namespaced(client, namespace),
            lease_name: lease_name.to_string(),
            identity: identity.to_string(),
            timings,
            shared: shared.clone(),
            state: state_tx,
        };
        let monitor = tokio::spawn(monitor.run(manager_rx, stop_rx));
        info!(%identity, lease = %format!("{namespace}/{lease_name}"), "joined leader election");
        Ok(Leadership {
            identity: identity.to_string(),
            shared,
            state: state_rx,
            stop: Some(stop_tx),
            monitor: Some(monitor),
            manager: Some(manager_task),
            timings,
        })
    }

    /// The identity this replica holds the lease under.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether this replica holds the lease right now (no API call).
    pub fn is_leader(&self) -> bool {
        self.shared.is_leader()
    }

    /// For the daemon to ask between messages: `false` means stop delivering now.
    pub fn still_leader(&self) -> bool {
        self.is_leader()
    }

    /// Leadership changes, as seen at each check (every [`LeaseTimings::check_every`]);
    /// [`still_leader`](Self::still_leader) is exact at the moment it is called.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.state.clone()
    }

    /// Stops taking part and releases the lease if this replica holds it, waiting (at most one
    /// lease duration) for the release to be written.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.await;
        }
        if let Some(manager) = self.manager.take() {
            let wait = Duration::from_secs(self.timings.duration_secs);
            match tokio::time::timeout(wait, manager).await {
                Ok(Ok(Ok(_))) => info!(identity = %self.identity, "left leader election"),
                Ok(Ok(Err(e))) => warn!(error = %e, "could not release the lease"),
                Ok(Err(e)) => warn!(error = %e, "lease manager task failed"),
                Err(_) => warn!("releasing the lease timed out"),
            }
        }
    }

    fn stop_now(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.set_deadline(None);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Leadership {
    /// Stops delivery at once; the lease is released in the background (while the runtime
    /// lives). Prefer [`Leadership::shutdown`] to wait for the release.
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The background task: follows the manager's flag and reads the Lease to keep the deadline.
struct Monitor {
    api: Api<Lease>,
    lease_name: String,
    identity: String,
    timings: LeaseTimings,
    shared: Arc<Shared>,
    state: watch::Sender<bool>,
}

impl Monitor {
    async fn run(
        self,
        mut manager_rx: watch::Receiver<bool>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let mut manager_alive = true;
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                changed = manager_rx.changed(), if manager_alive => match changed {
                    Ok(()) => {
                        let says = *manager_rx.borrow_and_update();
                        debug!(identity = %self.identity, holds = says, "lease manager reports");
                        self.shared.manager_says.store(says, Ordering::Release);
                    }
                    Err(_) => {
                        warn!("the lease manager stopped; this replica will not lead");
                        manager_alive = false;
                        self.shared.manager_says.store(false, Ordering::Release);
                    }
                },
                _ = tokio::time::sleep(self.timings.check_every) => {}
            }
            self.check().await;
            let now = self.shared.is_leader();
            self.state.send_if_modified(|s| {
                let changed = *s != now;
                if changed {
                    info!(identity = %self.identity, leader = now, "leadership changed");
                }
                *s = now;
                changed
            });
        }
        self.shared.set_deadline(None);
        self.state.send_replace(false);
        // Dropping `manager_rx` here closes the manager's channel: it releases the lease.
    }

    /// Reads the Lease and moves the deadline; on a failed read the old deadline stands and
    /// simply runs out.
    async fn check(&self) {
        let sent_at = Instant::now();
        let sent_wall = SystemTime::now();
        let limit = self.timings.check_every.max(Duration::from_millis(500));
        let lease = match tokio::time::timeout(limit, self.api.get_opt(&self.lease_name)).await {
            Ok(Ok(lease)) => lease,
            Ok(Err(e)) => {
                debug!(error = %e, "cannot read the Lease");
                return;
            }
            Err(_) => {
                debug!("reading the Lease timed out");
                return;
            }
        };
        let spec = lease.and_then(|l| l.spec);
        let deadline = spec.and_then(|s| {
            if s.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return None;
            }
            let renewed: SystemTime = s.renew_time?.0.into();
            let secs = u64::try_from(s.lease_duration_seconds?).ok()?;
            let expires = renewed.checked_add(Duration::from_secs(secs))?;
            let left = expires.duration_since(sent_wall).ok()?;
            let left = left.checked_sub(self.timings.safety_margin)?;
            Some(sent_at + left)
        });
        self.shared.set_deadline(deadline);
    }
}
