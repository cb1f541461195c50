//! Which inventory source a command reads: a snapshot directory, or the live cluster.
//!
//! Commands name a source with `--snapshot DIR`, or read the cluster that the kubeconfig (or the
//! in-cluster ServiceAccount) points at, optionally with `--context`. One-shot commands wait
//! for the first full listing before planning; long-running ones keep watching. This module
//! only wires sources: it never plans and never writes to the cluster.

use crate::inventory::Inventory;
use crate::inventory::kube::{LiveInventory, REDISCOVER_EVERY, run};
use crate::inventory::snapshot::{InventorySource, SnapshotError, SnapshotSource};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// How long a one-shot command waits for the cluster's first full listing.
pub const FIRST_LISTING_LIMIT: Duration = Duration::from_secs(120);

/// Where the inventory comes from, as the flags said.
#[derive(Debug, Clone, Default)]
pub struct SourceSpec {
    pub snapshot: Option<PathBuf>,
    pub context: Option<String>,
}

/// An opened source.
#[derive(Clone)]
pub enum Source {
    Snapshot(SnapshotSource),
    Cluster(LiveInventory),
}

impl Source {
    /// How often a server re-reads this source for slash-command answers: a directory every
    /// five minutes, the (already current) cluster inventory every 15 seconds.
    pub fn refresh_every(&self) -> Duration {
        match self {
            Source::Snapshot(_) => Duration::from_secs(300),
            Source::Cluster(_) => Duration::from_secs(15),
        }
    }
}

impl InventorySource for Source {
    fn describe(&self) -> String {
        match self {
            Source::Snapshot(s) => s.describe(),
            Source::Cluster(l) => l.describe(),
        }
    }

    fn load(&self) -> Result<Inventory, SnapshotError> {
        match self {
            Source::Snapshot(s) => s.load(),
            Source::Cluster(l) => l.load(),
        }
    }
}

/// A client for the kubeconfig's current (or the named) context, or the in-cluster config.
pub async fn kube_client(context: Option<&str>) -> anyhow::Result<kube::Client> {
    let config = kube_config(context).await?;
    kube::Client::try_from(config).context("cannot build a Kubernetes client")
}

/// The connection settings for the kubeconfig's current (or the named) context, or the
/// in-cluster config.
pub async fn kube_config(context: Option<&str>) -> anyhow::Result<kube::Config> {
    match context {
        Some(ctx) => {
            let options = kube::config::KubeConfigOptions {
                context: Some(ctx.to_string()),
                ..Default::default()
            };
            kube::Config::from_kubeconfig(&options)
                .await
                .with_context(|| format!("kubeconfig context '{ctx}'"))
        }
        None => kube::Config::infer()
            .await
            .context("no --snapshot given and no cluster found (kubeconfig or in-cluster)"),
    }
}

/// Opens the source for a long-running command; the cluster is watched in the background
/// until the runtime stops. Must be called inside a Tokio runtime.
pub async fn open(spec: &SourceSpec) -> anyhow::Result<Source> {
    match &spec.snapshot {
        Some(dir) => {
            let s = SnapshotSource::new(dir);
            // Fail early on an unreadable directory.
            s.load()
                .with_context(|| format!("loading --snapshot {}", dir.display()))?;
            Ok(Source::Snapshot(s))
        }
        None => {
            let client = kube_client(spec.context.as_deref()).await?;
            let live = LiveInventory::new();
            tokio::spawn(run(
                client,
                live.clone(),
                REDISCOVER_EVERY,
                std::future::pending(),
            ));
            Ok(Source::Cluster(live))
        }
    }
}

/// Waits (bounded) until the source can produce a full inventory, and returns it.
pub async fn wait_ready(source: &Source) -> anyhow::Result<Inventory> {
    let deadline = tokio::time::Instant::now() + FIRST_LISTING_LIMIT;
    loop {
        match source.load() {
            Ok(inv) => return Ok(inv),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(anyhow::anyhow!(e)).context("reading the cluster");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Loads the inventory once, for `plan`, `render`, `check` and `gate`.
pub fn load_once(spec: &SourceSpec) -> anyhow::Result<Inventory> {
    if let Some(dir) = &spec.snapshot {
        return SnapshotSource::new(dir)
            .load()
            .with_context(|| format!("loading --snapshot {}", dir.display()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { wait_ready(&open(spec).await?).await })
}
