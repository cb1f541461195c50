//! A local fake Kubernetes API for the live-source tests, following the real API's semantics:
//! discovery documents, lists carrying a `resourceVersion` (items without apiVersion/kind, as
//! the real API sends them), newline-delimited watch event streams, 404 with a `Status` for
//! groups that are not served, 403 for forbidden resources, and `410 Gone` for expired watches.
//! ConfigMaps (for the ConfigMap ledger) can be read, created and replaced: create refused with
//! 409 AlreadyExists, replace only with the current `metadata.resourceVersion` (else 409
//! Conflict), a `resourceVersion` that grows on every write. Like Gatekeeper, applying a
//! ConstraintTemplate makes the fake serve the constraint kind it defines
//! (`constraints.gatekeeper.sh/v1beta1`, cluster-scoped).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

struct Resource {
    group: String,
    version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    served: bool,
    forbidden: bool,
    objects: BTreeMap<String, Value>,
    watchers: Vec<mpsc::UnboundedSender<Value>>,
}

#[derive(Default)]
struct FakeState {
    resources: Vec<Resource>,
    rv: u64,
    /// (namespace, name) → ConfigMap.
    configmaps: BTreeMap<(String, String), Value>,
    /// Writes refused with 409, for tests to see that conflicts happened.
    conflicts: u64,
}

/// The fake API server; dropping it stops nothing, the runtime does.
#[derive(Clone)]
pub struct FakeKube {
    state: Arc<Mutex<FakeState>>,
    pub url: String,
}

/// The kinds forewarn reads, with their API coordinates in the fake.
pub const KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Namespace", "namespaces", false),
    (
        "kyverno.io",
        "v1",
        "ClusterPolicy",
        "clusterpolicies",
        false,
    ),
    ("kyverno.io", "v1", "Policy", "policies", true),
    (
        "kyverno.io",
        "v2",
        "PolicyException",
        "policyexceptions",
        true,
    ),
    (
        "policies.kyverno.io",
        "v1",
        "ValidatingPolicy",
        "validatingpolicies",
        false,
    ),
    (
        "policies.kyverno.io",
        "v1",
        "PolicyException",
        "policyexceptions",
        true,
    ),
    (
        "wgpolicyk8s.io",
        "v1alpha2",
        "PolicyReport",
        "policyreports",
        true,
    ),
    (
        "wgpolicyk8s.io",
        "v1alpha2",
        "ClusterPolicyReport",
        "clusterpolicyreports",
        false,
    ),
    ("openreports.io", "v1alpha1", "Report", "reports", true),
    (
        "openreports.io",
        "v1alpha1",
        "ClusterReport",
        "clusterreports",
        false,
    ),
    (
        "templates.gatekeeper.sh",
        "v1",
        "ConstraintTemplate",
        "constrainttemplates",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        false,
    ),
];

/// The group Gatekeeper serves each template's constraint kind in.
pub const CONSTRAINTS: &str = "constraints.gatekeeper.sh";

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn status_response(code: u16, reason: &str, message: &str) -> Response {
    let sc = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (sc, axum::Json(status(code, reason, message))).into_response()
}

impl FakeKube {
    /// Starts the fake on 127.0.0.1, serving the kinds whose group is in `groups`.
    pub async fn start(groups: &[&str]) -> FakeKube {
        let mut st = FakeState::default();
        for (g, v, k, p, ns) in KINDS {
            st.resources.push(Resource {
                group: g.to_string(),
                version: v.to_string(),
                kind: k.to_string(),
                plural: p.to_string(),
                namespaced: *ns,
                served: groups.contains(g),
                forbidden: false,
                objects: BTreeMap::new(),
                watchers: Vec::new(),
            });
        }
        let state = Arc::new(Mutex::new(st));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeKube { state, url }
    }

    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().expect("url"));
        kube::Client::try_from(config).expect("client")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces an object (by its apiVersion and kind) and tells the watchers.
    pub fn apply(&self, obj: &Value) {
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let group = obj["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .rsplit_once('/')
            .map(|(g, _)| g.to_string())
            .unwrap_or_default();
        let mut st = self.lock();
        if kind == "ConstraintTemplate"
            && let Some(defined) = obj
                .pointer("/spec/crd/spec/names/kind")
                .and_then(Value::as_str)
            && !st
                .resources
                .iter()
                .any(|r| r.group == CONSTRAINTS && r.kind == defined)
        {
            // Gatekeeper creates the constraint CRD of a template's kind.
            let served = st
                .resources
                .iter()
                .any(|r| r.group == "templates.gatekeeper.sh" && r.served);
            st.resources.push(Resource {
                group: CONSTRAINTS.to_string(),
                version: "v1beta1".to_string(),
                kind: defined.to_string(),
                plural: defined.to_lowercase(),
                namespaced: false,
                served,
                forbidden: false,
                objects: BTreeMap::new(),
                watchers: Vec::new(),
            });
        }
        st.rv += 1;
        let rv = st.rv;
        let Some(r) = st
            .resources
            .iter_mut()
            .find(|r| r.kind == kind && r.group == group)
        else {
            panic!("the fake does not know {group}/{kind}");
        };
        let mut obj = obj.clone();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = format!(
            "{}/{}",
            obj["metadata"]["namespace"].as_str().unwrap_or(""),
            obj["metadata"]["name"].as_str().unwrap_or("")
        );
        let kind_of_event = if r.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        r.objects.insert(key, obj.clone());
        r.watchers.retain(|w| {
            w.send(json!({"type": kind_of_event, "object": obj}))
                .is_ok()
        });
    }

    /// Deletes an object and tells the watchers (`tell = false` simulates a missed event).
    pub fn delete(&self, group: &str, kind: &str, namespace: &str, name: &str, tell: bool) {
        let mut st = self.lock();
        st.rv += 1;
        let rv = st.rv;
        let r = st
            .resources
            .iter_mut()
            .find(|r| r.kind == kind && r.group == group)
            .expect("known kind");
        if let Some(mut obj) = r.objects.remove(&format!("{namespace}/{name}")) {
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            if tell {
                r.watchers
                    .retain(|w| w.send(json!({"type": "DELETED", "object": obj})).is_ok());
            }
        }
    }

    /// Ends every open watch with `410 Gone`, as an API server does after compaction.
    pub fn expire_watches(&self) {
        let mut st = self.lock();
        for r in &mut st.resources {
            for w in r.watchers.drain(..) {
                let _ = w.send(json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version")}));
            }
        }
    }

    /// Starts serving a group that was missing (a CRD installed later).
    /// Serving Gatekeeper's templates also serves the constraint kinds they define.
    pub fn serve_group(&self, group: &str) {
        let gatekeeper = group == "templates.gatekeeper.sh";
        for r in self
            .lock()
            .resources
            .iter_mut()
            .filter(|r| r.group == group || (gatekeeper && r.group == CONSTRAINTS))
        {
            r.served = true;
        }
    }

    /// Makes listing a resource answer 403.
    pub fn forbid(&self, plural: &str, group: &str) {
        for r in self
            .lock()
            .resources
            .iter_mut()
            .filter(|r| r.plural == plural && r.group == group)
        {
            r.forbidden = true;
        }
    }

    /// How many watch streams are open, for tests that wait for them.
    pub fn open_watches(&self) -> usize {
        self.lock()
            .resources
            .iter()
            .map(|r| r.watchers.iter().filter(|w| !w.is_closed()).count())
            .sum()
    }
}

fn resource_list(st: &FakeState, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = st
        .resources
        .iter()
        .filter(|r| r.served && r.group == group && r.version == version)
        .map(|r| {
            json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                   "kind": r.kind, "verbs": ["get", "list", "watch"]})
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

async fn handle(State(state): State<Arc<Mutex<FakeState>>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.contains("/configmaps") {
        return configmaps(state, req).await;
    }
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    match parts.as_slice() {
        ["api"] => axum::Json(
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        )
        .into_response(),
        ["api", "v1"] => {
            axum::Json(resource_list(&st, "", "v1").unwrap_or(json!({}))).into_response()
        }
        ["apis"] => {
            let mut groups: BTreeMap<String, String> = BTreeMap::new();
            for r in st
                .resources
                .iter()
                .filter(|r| r.served && !r.group.is_empty())
            {
                groups.insert(r.group.clone(), r.version.clone());
            }
            // A group can serve several versions; list each once.
            let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for r in st
                .resources
                .iter()
                .filter(|r| r.served && !r.group.is_empty())
            {
                let v = versions.entry(r.group.clone()).or_default();
                if !v.contains(&r.version) {
                    v.push(r.version.clone());
                }
            }
            let list: Vec<Value> = versions
                .iter()
                .map(|(g, vs)| {
                    let vers: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": vers, "preferredVersion": vers[0]})
                })
                .collect();
            axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}))
                .into_response()
        }
        ["apis", g, v] => match resource_list(&st, g, v) {
            Some(l) => axum::Json(l).into_response(),
            None => status_response(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        },
        ["api", "v1", plural] => list_or_watch(&mut st, "", "v1", plural, &query),
        ["apis", g, v, plural] => list_or_watch(&mut st, g, v, plural, &query),
        _ => status_response(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

/// GET, POST (create) and PUT (replace) of `/api/v1/namespaces/NS/configmaps[/NAME]`.
async fn configmaps(state: Arc<Mutex<FakeState>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = axum::body::to_bytes(req.into_body(), 4 << 20)
        .await
        .unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let not_found = || status_response(404, "NotFound", "configmaps not found");
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["api", "v1", "namespaces", ns, "configmaps", name]) => {
            match st.configmaps.get(&(ns.to_string(), name.to_string())) {
                Some(cm) => axum::Json(cm.clone()).into_response(),
                None => not_found(),
            }
        }
        ("POST", ["api", "v1", "namespaces", ns, "configmaps"]) => {
            let mut cm: Value = serde_json::from_slice(&body).unwrap_or_default();
            let name = cm["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let key = (ns.to_string(), name);
            if st.configmaps.contains_key(&key) {
                st.conflicts += 1;
                return status_response(409, "AlreadyExists", "configmaps already exists");
            }
            st.rv += 1;
            cm["metadata"]["resourceVersion"] = json!(st.rv.to_string());
            st.configmaps.insert(key, cm.clone());
            (StatusCode::CREATED, axum::Json(cm)).into_response()
        }
        ("PUT", ["api", "v1", "namespaces", ns, "configmaps", name]) => {
            let mut cm: Value = serde_json::from_slice(&body).unwrap_or_default();
            let key = (ns.to_string(), name.to_string());
            let Some(current) = st.configmaps.get(&key) else {
                return not_found();
            };
            if cm["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                st.conflicts += 1;
                return status_response(
                    409,
                    "Conflict",
                    "Operation cannot be fulfilled on configmaps: the object has been modified; please apply your changes to the latest version and try again",
                );
            }
            st.rv += 1;
            cm["metadata"]["resourceVersion"] = json!(st.rv.to_string());
            st.configmaps.insert(key, cm.clone());
            axum::Json(cm).into_response()
        }
        _ => not_found(),
    }
}

impl FakeKube {
    /// A ConfigMap as stored, if any.
    pub fn configmap(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .configmaps
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// How many writes were refused with 409 so far.
    pub fn conflicts(&self) -> u64 {
        self.lock().conflicts
    }
}

fn list_or_watch(
    st: &mut FakeState,
    group: &str,
    version: &str,
    plural: &str,
    query: &BTreeMap<String, String>,
) -> Response {
    let rv = st.rv;
    let Some(r) = st
        .resources
        .iter_mut()
        .find(|r| r.served && r.group == group && r.version == version && r.plural == *plural)
    else {
        return status_response(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    if r.forbidden {
        let msg = format!(
            "{plural}.{group} is forbidden: User \"system:serviceaccount:forewarn:forewarn\" cannot list resource \"{plural}\" in API group \"{group}\" at the cluster scope"
        );
        return status_response(403, "Forbidden", &msg);
    }
    if query.get("watch").map(String::as_str) == Some("true") {
        let (tx, rx) = mpsc::unbounded_channel::<Value>();
        r.watchers.push(tx);
        let stream = futures::stream::unfold(Some(rx), |state| async move {
            let mut rx = state?;
            let ev = rx.recv().await?;
            let mut line = serde_json::to_vec(&ev).unwrap_or_default();
            line.push(b'\n');
            // After an ERROR event the server closes the stream.
            let next = if ev["type"] == "ERROR" {
                None
            } else {
                Some(rx)
            };
            Some((Ok::<_, std::io::Error>(line), next))
        });
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(stream))
            .unwrap_or_default();
    }
    let items: Vec<Value> = r
        .objects
        .values()
        .map(|o| {
            let mut o = o.clone();
            if let Value::Object(m) = &mut o {
                m.remove("apiVersion");
                m.remove("kind");
            }
            o
        })
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    axum::Json(json!({"apiVersion": gv, "kind": format!("{}List", r.kind), "metadata": {"resourceVersion": rv.to_string()}, "items": items}))
        .into_response()
}
