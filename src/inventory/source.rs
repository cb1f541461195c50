//! Which clusters a command reads, and from where: snapshot directories, live clusters, or both.
//!
//! Commands name clusters with `--snapshot [NAME=]DIR` and `--context NAME` (each repeatable),
//! or read the cluster that the kubeconfig (or the in-cluster ServiceAccount) points at. Every
//! cluster has a name: the one given, else the directory's base name or the context name.
//! One-shot commands wait for the first full listing before planning; long-running ones keep
//! watching. This module only wires sources: it never plans and never writes to the cluster.

use crate::inventory::Inventory;
use crate::inventory::kube::{LiveInventory, REDISCOVER_EVERY, run};
use crate::inventory::snapshot::{
    InventorySource, SnapshotError, SnapshotSource, default_cluster_name,
};
use crate::model::ids::ClusterName;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// How long a one-shot command waits for the cluster's first full listing.
pub const FIRST_LISTING_LIMIT: Duration = Duration::from_secs(120);

/// Where one cluster's inventory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A directory of objects.
    Snapshot(PathBuf),
    /// A live cluster: a kubeconfig context, or (`None`) the current context / in-cluster.
    Cluster(Option<String>),
}

/// One cluster, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: ClusterName,
    pub origin: Origin,
}

/// The clusters a command reads, as the flags said (at least one).
#[derive(Debug, Clone, Default)]
pub struct SourceSpec {
    pub clusters: Vec<ClusterSpec>,
}

impl SourceSpec {
    /// Builds the spec from `--snapshot [NAME=]DIR` and `--context NAME` values; with neither,
    /// the current context. `single_name` (the config's `cluster-name`) names a lone cluster
    /// that the flags did not name. Two clusters with the same name are an error.
    pub fn from_flags(
        snapshots: &[String],
        contexts: &[String],
        single_name: Option<&ClusterName>,
    ) -> Result<SourceSpec, String> {
        let mut clusters = Vec::new();
        let mut named = Vec::new();
        for text in snapshots {
            let (name, dir) = match text.split_once('=') {
                Some((name, dir)) if !name.is_empty() && !name.contains('/') => {
                    let name =
                        ClusterName::parse(name).map_err(|e| format!("--snapshot {text}: {e}"))?;
                    (Some(name), PathBuf::from(dir))
                }
                _ => (None, PathBuf::from(text)),
            };
            named.push(name.is_some());
            clusters.push(ClusterSpec {
                name: name.unwrap_or_else(|| default_cluster_name(&dir)),
                origin: Origin::Snapshot(dir),
            });
        }
        for ctx in contexts {
            let name = ClusterName::parse(ctx).map_err(|e| format!("--context {ctx}: {e}"))?;
            named.push(true);
            clusters.push(ClusterSpec {
                name,
                origin: Origin::Cluster(Some(ctx.clone())),
            });
        }
        if clusters.is_empty() {
            named.push(false);
            clusters.push(ClusterSpec {
                name: ClusterName::parse("cluster").unwrap_or_default(),
                origin: Origin::Cluster(None),
            });
        }
        if let ([only], [false], Some(name)) =
            (clusters.as_mut_slice(), named.as_slice(), single_name)
        {
            only.name = name.clone();
        }
        for (i, c) in clusters.iter().enumerate() {
            if clusters[..i].iter().any(|o| o.name == c.name) {
                return Err(format!(
                    "two clusters are named '{}': name them with --snapshot NAME=DIR",
                    c.name
                ));
            }
        }
        Ok(SourceSpec { clusters })
    }
}

/// One opened cluster source.
#[derive(Clone)]
pub enum Source {
    Snapshot(SnapshotSource),
    Cluster(ClusterName, LiveInventory),
}

impl Source {
    /// How often a server re-reads this source for slash-command answers: a directory every
    /// five minutes, the (already current) cluster inventory every 15 seconds.
    pub fn refresh_every(&self) -> Duration {
        match self {
            Source::Snapshot(_) => Duration::from_secs(300),
            Source::Cluster(..) => Duration::from_secs(15),
        }
    }
}

impl InventorySource for Source {
    fn describe(&self) -> String {
        match self {
            Source::Snapshot(s) => s.describe(),
            Source::Cluster(name, l) => format!("{} ({name})", l.describe()),
        }
    }

    fn load(&self) -> Result<Vec<Inventory>, SnapshotError> {
        match self {
            Source::Snapshot(s) => s.load(),
            Source::Cluster(name, l) => {
                let mut out = l.load()?;
                for inv in &mut out {
                    inv.cluster = name.clone();
                }
                Ok(out)
            }
        }
    }
}

/// Every configured cluster's source; loads them all, in the order given.
#[derive(Clone)]
pub struct Sources {
    pub sources: Vec<Source>,
}

impl Sources {
    /// The shortest refresh interval of its sources.
    pub fn refresh_every(&self) -> Duration {
        self.sources
            .iter()
            .map(Source::refresh_every)
            .min()
            .unwrap_or(Duration::from_secs(300))
    }
}

impl InventorySource for Sources {
    fn describe(&self) -> String {
        self.sources
            .iter()
            .map(Source::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn load(&self) -> Result<Vec<Inventory>, SnapshotError> {
        let mut out = Vec::new();
        for s in &self.sources {
            out.extend(s.load()?);
        }
        Ok(out)
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

/// Opens every cluster's source for a long-running command; live clusters are watched in the
/// background until the runtime stops. Must be called inside a Tokio runtime.
pub async fn open(spec: &SourceSpec) -> anyhow::Result<Sources> {
    let mut sources = Vec::new();
    for cluster in &spec.clusters {
        sources.push(match &cluster.origin {
            Origin::Snapshot(dir) => {
                let s = SnapshotSource::named(dir, cluster.name.clone());
                // Fail early on an unreadable directory.
                s.load()
                    .with_context(|| format!("loading --snapshot {}", dir.display()))?;
                Source::Snapshot(s)
            }
            Origin::Cluster(context) => {
                let client = kube_client(context.as_deref()).await?;
                let live = LiveInventory::new();
                tokio::spawn(run(
                    client,
                    live.clone(),
                    REDISCOVER_EVERY,
                    std::future::pending(),
                ));
                Source::Cluster(cluster.name.clone(), live)
            }
        });
    }
    Ok(Sources { sources })
}

/// Waits (bounded) until every source can produce a full inventory, and returns them.
pub async fn wait_ready(source: &Sources) -> anyhow::Result<Vec<Inventory>> {
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

/// Loads every cluster once, for `plan`, `render`, `check` and `gate`.
pub fn load_once(spec: &SourceSpec) -> anyhow::Result<Vec<Inventory>> {
    let all_snapshots = spec
        .clusters
        .iter()
        .all(|c| matches!(c.origin, Origin::Snapshot(_)));
    if all_snapshots {
        let mut out = Vec::new();
        for c in &spec.clusters {
            if let Origin::Snapshot(dir) = &c.origin {
                out.extend(
                    SnapshotSource::named(dir, c.name.clone())
                        .load()
                        .with_context(|| format!("loading --snapshot {}", dir.display()))?,
                );
            }
        }
        return Ok(out);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { wait_ready(&open(spec).await?).await })
}
