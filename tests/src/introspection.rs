//! An RFC 7662 introspection endpoint on loopback, as an authorization server
//! that issues opaque tokens (Curity's DCR tokens, for one) runs it: `POST`
//! with a form body, the caller authenticated with `client_secret_basic`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The path of the endpoint.
pub const PATH: &str = "/introspect";
/// The client id the service authenticates with.
pub const CLIENT_ID: &str = "dcr-service";

#[derive(Default)]
struct State {
    answers: Mutex<HashMap<String, Value>>,
    calls: AtomicU64,
    refused_auth: AtomicU64,
    down: AtomicBool,
    authorization: String,
}

/// The endpoint: answers `{"active": false}` for tokens it was not told about.
pub struct IntrospectionServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl IntrospectionServer {
    /// Starts on an ephemeral loopback port, accepting [`CLIENT_ID`] with `secret`.
    pub async fn start(secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pair = format!("{CLIENT_ID}:{secret}");
        let state = Arc::new(State {
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ),
            ..State::default()
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:PORT/introspect`.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// Makes `token` active with these members (`active: true` is added).
    pub fn activate(&self, token: &str, mut members: Value) {
        members["active"] = json!(true);
        self.state
            .answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), members);
    }

    /// Answers `503` to everything from now on (or again normally).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Introspection requests answered so far (authenticated ones).
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Requests refused for bad client authentication.
    pub fn refused(&self) -> u64 {
        self.state.refused_auth.load(Ordering::SeqCst)
    }
}

impl Drop for IntrospectionServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn answer(
    state: Arc<State>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    if state.down.load(Ordering::SeqCst) {
        return Ok(reply(503, json!({"error": "temporarily_unavailable"})));
    }
    let form = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/x-www-form-urlencoded");
    let authorized = req
        .headers()
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == state.authorization.as_bytes());
    if req.method() != "POST" || req.uri().path() != PATH || !form {
        return Ok(reply(400, json!({"error": "invalid_request"})));
    }
    if !authorized {
        state.refused_auth.fetch_add(1, Ordering::SeqCst);
        return Ok(reply(401, json!({"error": "invalid_client"})));
    }
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let body = body.unwrap_or_default();
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    state.calls.fetch_add(1, Ordering::SeqCst);
    let found = state.answers.lock().unwrap().get(&token).cloned();
    Ok(reply(
        200,
        found.unwrap_or_else(|| json!({"active": false})),
    ))
}
