//! What forewarn knows of a cluster, and the sources it is read from.
//!
//! `model` is the engine-neutral inventory; `kyverno`, `gatekeeper`, `vap`, `report` and
//! `ingest` turn Kubernetes objects into it; `snapshot` reads them from a directory of YAML/JSON. Sources only read: they
//! never decide who is told what (that is `plan`).

pub mod fields;
pub mod gatekeeper;
pub mod ingest;
pub mod kube;
pub mod kyverno;
pub mod model;
pub mod report;
pub mod results;
pub mod selector;
pub mod snapshot;
pub mod source;
pub mod vap;

pub use model::*;
