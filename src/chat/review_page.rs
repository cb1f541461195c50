//! The review page on the HTTP edge: `GET /review` (the HTML document) and `GET /review.json`,
//! served only when a review token is configured (`FOREWARN_REVIEW_TOKEN` or
//! `FOREWARN_REVIEW_TOKEN_FILE`); otherwise both answer 404 like any unknown path.
//!
//! The caller proves the token with `Authorization: Bearer TOKEN` or HTTP Basic (any user name,
//! the token as password — a browser asks for it), compared in constant time; anything else
//! gets 401. The page is built from the inventory in memory and the audit history and triage
//! answers read at each request (CPU work off the runtime's workers); answers that cannot be
//! read are logged and the page says they are unknown. Never logs the token; an internal error
//! reaches the caller as a short apology.

use crate::chat::http::AppState;
use crate::config::secret::Secret;
use crate::plan::progress::Progress;
use crate::plan::review::Scope;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::future::BoxFuture;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tracing::{error, warn};

/// The environment variable (or `…_FILE`) holding the review token.
pub const TOKEN_VAR: &str = "FOREWARN_REVIEW_TOKEN";

/// Reads the audit history (the ledger's history file or ConfigMap), at each request.
pub type HistoryReader =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Progress, String>> + Send + Sync>;

/// What serving the review page needs.
#[derive(Clone)]
pub struct ReviewPage {
    pub token: Secret,
    pub history: HistoryReader,
}

impl std::fmt::Debug for ReviewPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewPage")
            .field("token", &self.token)
            .finish()
    }
}

/// Whether `headers` carry the token: Bearer, or Basic with the token as password.
fn authorised(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let given: Vec<u8> = if let Some(t) = value.strip_prefix("Bearer ") {
        t.trim().as_bytes().to_vec()
    } else if let Some(b) = value.strip_prefix("Basic ") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b.trim()) else {
            return false;
        };
        match decoded.iter().position(|c| *c == b':') {
            Some(i) => decoded[i + 1..].to_vec(),
            None => return false,
        }
    } else {
        return false;
    };
    given.ct_eq(token.expose().as_bytes()).into()
}

#[derive(Clone, Copy)]
enum Format {
    Html,
    Json,
}

pub(crate) async fn html(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    page(state, headers, query, Format::Html).await
}

pub(crate) async fn json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    page(state, headers, query, Format::Json).await
}

/// `?policy=P&policy=Q&team=T`, as `forewarn review` takes them.
fn scope(query: Option<&str>) -> Scope {
    let pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let mut scope = Scope::default();
    for (k, v) in pairs {
        match k.as_str() {
            "policy" => scope.policies.push(v),
            "team" => scope.team = Some(v),
            _ => {}
        }
    }
    scope
}

async fn page(
    state: Arc<AppState>,
    headers: HeaderMap,
    query: Option<String>,
    format: Format,
) -> Response {
    let Some(review) = &state.review else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    if !authorised(&headers, &review.token) {
        warn!("review page: missing or wrong token");
        let mut r = (StatusCode::UNAUTHORIZED, "the review needs its token\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"forewarn review\", charset=\"UTF-8\""),
        );
        return r;
    }
    let Some(clusters) = state.inventory() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "inventory not loaded yet\n",
        )
            .into_response();
    };
    let progress = match (review.history)().await {
        Ok(p) => p,
        Err(e) => {
            error!(error = %e, "review page: cannot read the audit history");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sorry, the audit history could not be read. The platform team has the details in its logs.\n",
            )
                .into_response();
        }
    };
    // The answers to the buttons; unreadable (or no store): the page says they are unknown.
    let answers = match &state.answers {
        Some(store) => match store.load().await {
            Ok(a) => Some(a),
            Err(e) => {
                error!(error = %e, "review page: cannot read the triage answers");
                None
            }
        },
        None => None,
    };
    let config = state.config.clone();
    let now = (state.clock)()
        .with_timezone(&config.time_zone)
        .fixed_offset();
    let scope = scope(query.as_deref());
    let built = tokio::task::spawn_blocking(move || {
        let mut progress = progress;
        let measured = crate::plan::progress::measure(&clusters, &config, now);
        progress.record(&measured, config.review.history_days);
        let doc = crate::plan::review::review(
            &clusters,
            &config,
            now,
            &progress,
            answers.as_ref(),
            &scope,
        );
        match format {
            Format::Html => Ok(crate::render::review::html(&doc, &config)),
            Format::Json => serde_json::to_string_pretty(&doc).map(|s| s + "\n"),
        }
    })
    .await;
    let body = match built {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            error!(error = %e, "review page: cannot serialise the review");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sorry, something went wrong.\n",
            )
                .into_response();
        }
        Err(e) => {
            error!(error = %e, "review page: the build task failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sorry, something went wrong.\n",
            )
                .into_response();
        }
    };
    let content_type = match format {
        Format::Html => "text/html; charset=utf-8",
        Format::Json => "application/json",
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_taken_from_bearer_or_basic_only() {
        let token = Secret::new("s3cret");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("value"),
            );
            authorised(&h, &token)
        };
        assert!(with("Bearer s3cret"));
        // "anyone:s3cret"
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:s3cret");
        assert!(with(&format!("Basic {basic}")));
        assert!(!with("Bearer s3cre"));
        assert!(!with("Bearer s3cret2"));
        assert!(!with("Basic !!!"));
        assert!(!with("s3cret"));
        assert!(!authorised(&HeaderMap::new(), &token));
    }
}
