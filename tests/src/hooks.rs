//! Hooks for the black-box suite: one loopback server that is both a hook at
//! a URL (`POST /hook/{name}`) and a stand-in of Lambda's Invoke API
//! (`POST /2015-03-31/functions/{name}/invocations`, where the Lambda
//! engine's SDK client is pointed: moto's Lambda needs Docker to run a
//! function). Both run the same hooks by name, so each outcome is tested
//! through the SDK's Invoke path and through the URL path alike:
//!
//! - `accept`: accepts unchanged;
//! - `change`: sets `client_name` to "Set By Hook" and removes `logo_uri`;
//! - `invalid`: sets `grant_types` to a value no client may have;
//! - `reject`: rejects with `invalid_redirect_uri`;
//! - `hang`: never answers (the caller's timeout ends it);
//! - `fail`: a function error on Lambda, a `500` at a URL;
//! - `nonsense`: answers `200` with JSON outside the contract;
//! - `issuer-check`: the example hook (examples/hooks/issuer-check);
//! - `by-client-name`: whichever of the above the request's `client_name` names,
//!   so one deployment shows every outcome.
//!
//! Every request a hook received is kept, for tests to look at.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The loopback hook server.
pub struct HookServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a named hook answers: status and body; `None` never answers.
fn run(name: &str, request: &Value) -> Option<(u16, Value)> {
    let ok = |body: Value| Some((200, body));
    let name = match name {
        "by-client-name" => request["metadata"]["client_name"]
            .as_str()
            .unwrap_or("accept"),
        other => other,
    };
    match name {
        "accept" => ok(json!({"decision": "accept"})),
        "change" => ok(json!({
            "decision": "accept",
            "set": {"client_name": "Set By Hook"},
            "remove": ["logo_uri"],
        })),
        "invalid" => ok(json!({"decision": "accept", "set": {"grant_types": ["teleport"]}})),
        "reject" => ok(json!({
            "decision": "reject",
            "error": "invalid_redirect_uri",
            "error_description": "redirect URIs must be on the partner's domain",
        })),
        "hang" => None,
        "fail" => Some((500, json!({"message": "hook crashed"}))),
        "nonsense" => ok(json!({"decision": "maybe"})),
        "issuer-check" => ok(dcr_hook_issuer_check::decide(request)),
        _ => Some((404, json!({"message": "no such hook"}))),
    }
}

impl HookServer {
    /// Starts the server on a loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(req, seen.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }

    /// The URL of the hook `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/hook/{name}", self.addr)
    }

    /// The endpoint of the Lambda Invoke stand-in.
    pub fn lambda_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests hooks received so far: (hook name, request).
    pub fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }
}

async fn answer(
    request: Request<hyper::body::Incoming>,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let (name, lambda) = if let Some(name) = path.strip_prefix("/hook/") {
        (name.to_owned(), false)
    } else if let Some(rest) = path.strip_prefix("/2015-03-31/functions/") {
        let name = rest.strip_suffix("/invocations").unwrap_or(rest);
        // A function ARN names the function last.
        let name = url::form_urlencoded::parse(name.as_bytes())
            .map(|(k, _)| k.into_owned())
            .next()
            .unwrap_or_default();
        (name.rsplit(':').next().unwrap_or("").to_owned(), true)
    } else {
        (String::new(), false)
    };
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push((name.clone(), parsed.clone()));
    let Some((status, body)) = run(&name, &parsed) else {
        // Never answers; the connection ends when the caller gives up.
        return std::future::pending().await;
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    let headers = response.headers_mut();
    headers.insert("content-type", "application/json".parse().unwrap());
    if lambda && status != 200 && status != 404 {
        // What Lambda answers for a function that threw: 200 with the error header.
        headers.insert("x-amz-function-error", "Unhandled".parse().unwrap());
        return Ok(response);
    }
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    Ok(response)
}
