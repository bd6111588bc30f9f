//! Test fixtures (feature `testing`): a loopback JWKS server and a static resolver.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Resolve;

/// What the server answers at a path.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200` with this JSON as `application/json`.
    Json(serde_json::Value),
    /// Any status, content type and body.
    Raw {
        /// The status code.
        status: u16,
        /// The `Content-Type`, if any.
        content_type: Option<String>,
        /// The body.
        body: Vec<u8>,
    },
    /// `302 Found` to this location.
    Redirect(String),
    /// This status with an empty body.
    Status(u16),
    /// Waits this long, then answers the inner reply.
    Slow(Duration, Box<Reply>),
    /// `200` JSON that streams `bytes` bytes, with or without a `Content-Length`.
    Oversized {
        /// Body length.
        bytes: u64,
        /// Whether to send `Content-Length` up front.
        declare_length: bool,
    },
}

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Reply>>,
    hits: Mutex<HashMap<String, u64>>,
    streamed: Arc<AtomicU64>,
}

/// A tiny HTTP/1.1 server on `127.0.0.1:0` serving configurable replies per path,
/// counting hits per path. Stops accepting when dropped.
pub struct JwksServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl JwksServer {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((IpAddr::from([127, 0, 0, 1]), 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(Arc::clone(&state), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sets the reply at `path` (replacing any: key rotation, failures).
    pub fn set(&self, path: &str, reply: Reply) {
        let mut routes = self
            .state
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.insert(path.to_owned(), reply);
    }

    /// Serves `json` at `path` as `application/json`.
    pub fn set_json(&self, path: &str, json: serde_json::Value) {
        self.set(path, Reply::Json(json));
    }

    /// Requests received at `path`.
    pub fn hits(&self, path: &str) -> u64 {
        let hits = self
            .state
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hits.get(path).copied().unwrap_or(0)
    }

    /// Requests received at any path.
    pub fn total_hits(&self) -> u64 {
        let hits = self
            .state
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hits.values().sum()
    }

    /// Body bytes handed to the socket by [`Reply::Oversized`] replies so far.
    pub fn bytes_streamed(&self) -> u64 {
        self.state.streamed.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type ResBody = BoxBody<Bytes, Infallible>;

async fn answer(
    state: Arc<State>,
    req: http::Request<Incoming>,
) -> Result<Response<ResBody>, Infallible> {
    let path = req.uri().path().to_owned();
    {
        let mut hits = state.hits.lock().unwrap_or_else(PoisonError::into_inner);
        *hits.entry(path.clone()).or_default() += 1;
    }
    let reply = {
        let routes = state.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes.get(&path).cloned()
    };
    let mut reply = reply.unwrap_or(Reply::Status(404));
    while let Reply::Slow(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    Ok(render(reply, &state.streamed))
}

fn render(reply: Reply, streamed: &Arc<AtomicU64>) -> Response<ResBody> {
    let full = |b: Vec<u8>| Full::new(Bytes::from(b)).boxed();
    let mut res = Response::new(full(Vec::new()));
    match reply {
        Reply::Json(json) => {
            *res.body_mut() = full(json.to_string().into_bytes());
            set_type(&mut res, "application/json");
        }
        Reply::Raw {
            status,
            content_type,
            body,
        } => {
            *res.status_mut() = code(status);
            *res.body_mut() = full(body);
            if let Some(ct) = content_type {
                set_type(&mut res, &ct);
            }
        }
        Reply::Redirect(location) => {
            *res.status_mut() = StatusCode::FOUND;
            if let Ok(v) = header::HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::LOCATION, v);
            }
        }
        Reply::Status(status) => *res.status_mut() = code(status),
        Reply::Slow(_, inner) => return render(*inner, streamed),
        Reply::Oversized {
            bytes,
            declare_length,
        } => {
            let drip = Drip {
                remaining: bytes,
                exact: declare_length,
                streamed: Arc::clone(streamed),
            };
            *res.body_mut() = BoxBody::new(drip);
            set_type(&mut res, "application/json");
        }
    }
    res
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn set_type(res: &mut Response<ResBody>, ct: &str) {
    if let Ok(v) = header::HeaderValue::from_str(ct) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
}

/// A body of `remaining` spaces, produced in 16 KiB chunks as the socket takes them.
struct Drip {
    remaining: u64,
    /// Whether to announce the length (else hyper sends it chunked).
    exact: bool,
    streamed: Arc<AtomicU64>,
}

const CHUNK: u64 = 16 * 1024;

impl Body for Drip {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK);
        self.remaining -= n;
        self.streamed.fetch_add(n, Ordering::SeqCst);
        let len = usize::try_from(n).unwrap_or(0);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; len])))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        if self.exact {
            hyper::body::SizeHint::with_exact(self.remaining)
        } else {
            hyper::body::SizeHint::default()
        }
    }
}

/// A [`Resolve`] answering from a fixed table; unknown names fail. No packets.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `name` resolve to `addrs`.
    pub fn with(mut self, name: &str, addrs: &[IpAddr]) -> Self {
        self.table.insert(name.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

#[async_trait]
impl Resolve for StaticResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let addrs = self
            .table
            .get(&host.to_ascii_lowercase())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown host"))?;
        Ok(addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
    }
}

/// A JWK Set of one EC P-256 public key per `kid` (same key material, for cache tests).
pub fn sample_jwks(kids: &[&str]) -> serde_json::Value {
    let keys: Vec<_> = kids
        .iter()
        .map(|kid| {
            serde_json::json!({
                "kty": "EC",
                "crv": "P-256",
                "kid": kid,
                "use": "sig",
                "alg": "ES256",
                "x": "XWcqKezXMi1StIDnjnMA521iCayRll1CyEzKDJyQ9A8",
                "y": "_uKK_T957d9J6ldQjFN51Uo5c89mZ94xCZdhHirCt34",
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}
