//! Who is calling: bearer tokens (`kiroku token create`), or, when the store has no active
//! token, loopback clients only.
//!
//! The token table is re-read at most every `CACHE_TTL` (revocation takes effect within that),
//! so authentication costs no store call on the hot logging path. A token the cache does not
//! know is looked up in the table (one indexed read), so a token made a moment ago (`kiroku
//! token create`, an evaluation job's own) works at once. A token's user is the
//! caller's identity for notes, stars and everything else attributed to a user; read-only
//! tokens may only read, and a job's own token may write only into its job's run (`job_scope`).
//! What a request needs (nothing, read, write) comes from the route it
//! matched and its method, through `access::classify`; `GET /health` needs nothing.
use super::access::{classify, Access};
use super::{job_scope, AppState};
use crate::api::{ApiError, USER_HEADER};
use crate::model::JOB_TOKEN_USER_PREFIX;
use crate::store::sqlite::tokens::{token_hash, TokenInfo};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(2);

tokio::task_local! {
    /// Through what the request's writes are made (its `x-kiroku-via`, when a known origin):
    /// `AppState::call` marks its store calls with it.
    pub static REQUEST_VIA: Option<&'static str>;
}

/// The caller of a request, put into the request's extensions for handlers.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// From the token; else the `x-kiroku-user` header (tokenless loopback use).
    pub user: Option<String>,
    /// Whether the caller is bound to a token (its user cannot be overridden by the request).
    pub authenticated: bool,
    /// Whether the caller's token is read-only (what `/mcp` checks per tool, since one route
    /// serves reading and writing tools alike).
    pub read_only: bool,
}

impl Caller {
    /// The acting user: the token's, else what the request says.
    pub fn user_or(&self, requested: &str) -> String {
        match &self.user {
            Some(u) if self.authenticated || requested.is_empty() => u.clone(),
            _ => requested.to_string(),
        }
    }
}

/// Active tokens by their hash.
type TokensByHash = Arc<HashMap<String, TokenInfo>>;

/// Active tokens by hash, refreshed every `CACHE_TTL`.
#[derive(Default)]
pub struct TokenCache {
    inner: Mutex<Option<(Instant, TokensByHash)>>,
}

impl TokenCache {
    fn get(&self) -> Option<TokensByHash> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, map)| Arc::clone(map))
    }

    fn put(&self, map: TokensByHash) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some((Instant::now(), map));
    }
}

async fn active_tokens(state: &Arc<AppState>) -> Result<TokensByHash, ApiError> {
    if let Some(map) = state.token_cache.get() {
        return Ok(map);
    }
    let Some(tokens) = state.tokens.clone() else {
        return Ok(Arc::default());
    };
    let list = tokio::task::spawn_blocking(move || tokens.tokens_with_hashes())
        .await
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("reading tokens: {e}")))?
        .map_err(ApiError::from)?;
    let map: TokensByHash = Arc::new(
        list.into_iter()
            .filter(|(_, t)| t.revoked_ms.is_none())
            .collect(),
    );
    state.token_cache.put(Arc::clone(&map));
    Ok(map)
}

/// A token the cache does not know, looked up in the table: made since the cache was read, or
/// unknown (None).
async fn newer_token(state: &Arc<AppState>, token: &str) -> Result<Option<TokenInfo>, ApiError> {
    let Some(tokens) = state.tokens.clone() else {
        return Ok(None);
    };
    let token = token.to_string();
    tokio::task::spawn_blocking(move || tokens.token_lookup(&token))
        .await
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("reading tokens: {e}")))?
        .map_err(ApiError::from)
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Authenticates and authorises a request. Runs on every route (`route_layer`, so the matched
/// template is known) and on the fallback (no template: needs a writing token, so an unknown
/// path tells an unauthenticated or read-only caller nothing).
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let access = classify(req.method(), template);
    if access == Access::Public {
        return next.run(req).await;
    }
    let tokens = match active_tokens(&state).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let caller = if tokens.is_empty() {
        if !peer.ip().is_loopback() {
            return ApiError::new(
                "UNAUTHENTICATED",
                "this server has no tokens and accepts only clients on its own machine",
            )
            .into_response();
        }
        let user = req
            .headers()
            .get(USER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .filter(|u| !u.is_empty());
        Caller {
            user,
            authenticated: false,
            read_only: false,
        }
    } else {
        let Some(token) = bearer(&req) else {
            return ApiError::new(
                "UNAUTHENTICATED",
                "a token is required: send `Authorization: Bearer <token>` (KIROKU_TOKEN or MLFLOW_TRACKING_TOKEN)",
            )
            .into_response();
        };
        let info = match tokens.get(&token_hash(token)) {
            Some(info) => info.clone(),
            None => match newer_token(&state, token).await {
                Ok(Some(info)) => info,
                Ok(None) => {
                    return ApiError::new("UNAUTHENTICATED", "unknown or revoked token")
                        .into_response()
                }
                Err(e) => return e.into_response(),
            },
        };
        if info.read_only && access == Access::Write {
            return ApiError::new(
                "PERMISSION_DENIED",
                format!("the token of '{}' is read-only", info.user),
            )
            .into_response();
        }
        let job_token = info.user.starts_with(JOB_TOKEN_USER_PREFIX);
        if access == Access::Write && job_token {
            let template = template.map(str::to_string);
            req = match job_scope::admit(&state, &info, template.as_deref(), req).await {
                Ok(req) => req,
                Err(e) => return e.into_response(),
            };
        }
        Caller {
            user: Some(info.user.clone()),
            authenticated: true,
            // A job's token writes only into its job's run (`job_scope`): on `/mcp`, whose one
            // route serves every tool, it is read-only.
            read_only: info.read_only || job_token,
        }
    };
    req.extensions_mut().insert(caller);
    let via = req
        .headers()
        .get(crate::api::VIA_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::store::origin::known);
    REQUEST_VIA.scope(via, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_user_wins_over_the_request() {
        let c = Caller {
            user: Some("alice".into()),
            authenticated: true,
            read_only: false,
        };
        assert_eq!(c.user_or("mallory"), "alice");
        let open = Caller {
            user: Some("bob".into()),
            authenticated: false,
            read_only: false,
        };
        assert_eq!(open.user_or("carol"), "carol");
        assert_eq!(open.user_or(""), "bob");
    }
}
