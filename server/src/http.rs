//! HTTP routes: the WebSocket endpoint with its origin check, `/healthz`, `/metrics`, and the
//! web app.
//!
//! Every path that is not an API route serves a file from the static directory; a path
//! without a file extension (a deep link such as `/room/team`) serves `index.html`, so the
//! web app can route it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::Addr;
use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;

use crate::limits::AddressLimiter;
use crate::registry::Registry;
use crate::session::{SessionConfig, WsSession};
use crate::stats::Stats;

/// Shared state of every HTTP worker.
pub struct AppState {
    /// The room registry.
    pub registry: Addr<Registry>,
    /// Limits and timings of WebSocket sessions.
    pub session_config: Arc<SessionConfig>,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// Origins allowed besides the server's own (`*` allows any).
    pub allowed_origins: Vec<String>,
    /// Source of connection ids.
    pub next_conn: AtomicU64,
    /// Open sessions per client address.
    pub addresses: Arc<AddressLimiter>,
    /// In a cluster: the node's connection to it.
    pub cluster: Option<Arc<crate::cluster::node::Health>>,
}

/// The content security policy of the web app: its own scripts and WebAssembly only, no inline
/// scripts, no framing, connections (the WebSocket) to this origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
    script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(self), display-capture=(self)",
        ))
        .add((
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

/// Registers every route on an app.
pub fn configure(static_dir: PathBuf) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.route("/ws", web::get().to(websocket))
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
            .service(
                Files::new("/", &static_dir)
                    .index_file("index.html")
                    .default_handler(spa_fallback(static_dir.join("index.html"))),
            );
    }
}

async fn websocket(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = req.connection_info().host().to_owned();
        if !origin_allowed(origin, &host, &state.allowed_origins) {
            tracing::info!(origin, host, "websocket refused for foreign origin");
            return Ok(HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body(format!(
                    "WebSocket connections from origin {origin} are not allowed; \
                     the server operator can add it with --allowed-origin.\n"
                )));
        }
    }
    let conn = state.next_conn.fetch_add(1, Ordering::Relaxed);
    let ip = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    // Over the limit the upgrade still succeeds, so the browser can read the error frame.
    let address = state.addresses.acquire(ip);
    if address.is_none() {
        tracing::info!(%ip, "too many sessions from one address");
    }
    let query_token = web::Query::<WsQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().token);
    let session = WsSession::new(
        conn,
        state.session_config.clone(),
        state.registry.clone(),
        state.stats.clone(),
        (ip, address),
        query_token,
    );
    // Frames up to 16 times the limit are read and answered with `frame-too-large`; beyond
    // that the codec refuses them and the connection closes with 1009 (message too big).
    let hard_limit = state.session_config.max_frame_bytes.saturating_mul(16);
    ws::WsResponseBuilder::new(session, &req, stream)
        .codec(actix_http::ws::Codec::new().max_size(hard_limit))
        .start()
}

/// Query parameters of `/ws`.
#[derive(Debug, serde::Deserialize)]
struct WsQuery {
    /// A join token, for clients that cannot put it into the join frame.
    token: Option<String>,
}

/// True when `origin` is the server's own (same host and port as `host`) or listed.
pub fn origin_allowed(origin: &str, host: &str, allowed: &[String]) -> bool {
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .trim_end_matches('/');
    let default_port = |s: &str, scheme_port: &str| {
        // "example.org" and "example.org:443" name the same origin for https.
        s.strip_suffix(scheme_port)
            .unwrap_or(s)
            .to_ascii_lowercase()
    };
    let port = if origin.starts_with("https://") {
        ":443"
    } else {
        ":80"
    };
    !origin_host.is_empty() && default_port(origin_host, port) == default_port(host, port)
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let mut body = serde_json::json!({
        "status": "ok",
        "sessions": state.stats.sessions(),
        "rooms": state.stats.rooms(),
    });
    let mut response = HttpResponse::Ok();
    if let Some(cluster) = &state.cluster {
        let up = cluster.up();
        body["node"] = cluster.node.clone().into();
        body["redis"] = if up { "up" } else { "down" }.into();
        body["rooms_owned"] = cluster.rooms_owned().into();
        if !up {
            // A load balancer sends no one here while the node cannot take joins.
            body["status"] = "unavailable".into();
            response = HttpResponse::ServiceUnavailable();
        }
    }
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.stats.encode())
}

fn spa_fallback(
    index: PathBuf,
) -> impl actix_web::dev::ServiceFactory<
    ServiceRequest,
    Config = (),
    Response = ServiceResponse,
    Error = actix_web::Error,
    InitError = (),
> {
    fn_service(move |req: ServiceRequest| {
        let index = index.clone();
        async move {
            let (req, _) = req.into_parts();
            let last = req.path().rsplit('/').next().unwrap_or("");
            if last.contains('.') {
                let res = HttpResponse::NotFound()
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("Not found: {}\n", req.path()));
                return Ok(ServiceResponse::new(req, res));
            }
            let res = match NamedFile::open(&index) {
                Ok(file) => {
                    let mut res = file.use_etag(true).into_response(&req);
                    res.headers_mut().insert(
                        header::CACHE_CONTROL,
                        header::HeaderValue::from_static("no-cache"),
                    );
                    res
                }
                Err(_) => HttpResponse::ServiceUnavailable()
                    .content_type("text/plain; charset=utf-8")
                    .body(
                        "The web app is not built yet: run scripts/build-web.sh, \
                         or start treff with scripts/run.sh which builds it.\n",
                    ),
            };
            Ok(ServiceResponse::new(req, res))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn own_origin_is_allowed_and_foreign_refused() {
        assert!(origin_allowed(
            "https://meet.lan:8000",
            "meet.lan:8000",
            &[]
        ));
        assert!(origin_allowed(
            "http://127.0.0.1:8000",
            "127.0.0.1:8000",
            &[]
        ));
        assert!(origin_allowed(
            "https://Meet.example",
            "meet.example:443",
            &[]
        ));
        assert!(!origin_allowed(
            "https://evil.example",
            "meet.lan:8000",
            &[]
        ));
        assert!(!origin_allowed(
            "https://meet.lan:9000",
            "meet.lan:8000",
            &[]
        ));
        assert!(!origin_allowed("null", "meet.lan:8000", &[]));
    }

    #[test]
    fn listed_origins_are_allowed() {
        let allowed = vec!["https://app.example".to_string()];
        assert!(origin_allowed(
            "https://app.example",
            "meet.lan:8000",
            &allowed
        ));
        assert!(!origin_allowed(
            "https://other.example",
            "meet.lan:8000",
            &allowed
        ));
        assert!(origin_allowed("https://x", "y", &["*".to_string()]));
    }
}
