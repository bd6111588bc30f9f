//! The SDK clients' HTTP client: HTTP/1.1 over TCP, or TLS for `https`, with the
//! idle connections of each endpoint kept and reused.
//!
//! The SDK's default client (hyper-util's pooled client with HTTP/2 and its own
//! rustls connector) parses the OS root certificates when the SDK client is built
//! and ships an HTTP/2 stack the DynamoDB and Secrets Manager endpoints never use.
//! This one speaks only HTTP/1.1 and sets TLS up on the first `https` connection,
//! with the configuration its [`TlsSetup`] builds (the Lambda wiring passes the
//! key set fetches' own, so both trust the same roots).
//! A function runs one invocation at a time, so the pool is a short list per endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http::header::HOST;
use http::{HeaderValue, Uri};
use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Connect timeout when the SDK gives none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Most idle connections kept per endpoint.
const MAX_IDLE_PER_ENDPOINT: usize = 8;

/// Builds the TLS client configuration, once, on the first `https` connection;
/// an error says why TLS cannot be used (every `https` call then fails with it).
pub type TlsSetup = fn() -> Result<Arc<rustls::ClientConfig>, String>;

/// An [`HttpClient`] for the SDK: HTTP/1.1, pooled, TLS set up on first use.
#[derive(Debug, Clone, Default)]
pub struct SdkHttpClient {
    shared: Arc<Shared>,
}

impl SdkHttpClient {
    /// A client with an empty pool whose TLS configuration `tls` builds on first use.
    pub fn new(tls: TlsSetup) -> Self {
        Self {
            shared: Arc::new(Shared {
                setup: Some(tls),
                ..Shared::default()
            }),
        }
    }

    /// A client whose `https` connections use `config` (a private CA, a test server).
    pub fn with_tls_config(config: Arc<rustls::ClientConfig>) -> Self {
        let shared = Shared::default();
        let _ = shared.tls.set(Ok(TlsConnector::from(config)));
        Self {
            shared: Arc::new(shared),
        }
    }
}

/// What every connector of one client shares.
#[derive(Default)]
struct Shared {
    /// Idle connections by `scheme://authority`.
    idle: Mutex<HashMap<String, Vec<SendRequest<SdkBody>>>>,
    /// The TLS connector, built on the first `https` connection.
    tls: OnceLock<Result<TlsConnector, String>>,
    /// What builds the TLS configuration.
    setup: Option<TlsSetup>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            shared: Arc::clone(&self.shared),
            connect_timeout: settings
                .connect_timeout()
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: settings.read_timeout(),
        })
    }
}

/// The connector of one timeout setting.
#[derive(Debug, Clone)]
struct Connector {
    shared: Arc<Shared>,
    connect_timeout: Duration,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        HttpConnectorFuture::new(async move { this.send(request).await })
    }
}

/// Where a request goes: the pool key and what dialling needs.
struct Endpoint {
    key: String,
    host: String,
    port: u16,
    tls: bool,
}

impl Endpoint {
    fn of(uri: &Uri) -> Result<Self, ConnectorError> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(user("the endpoint URL must be http or https")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| user("the endpoint URL has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Self {
            key: format!("{}://{authority}", if tls { "https" } else { "http" }),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            tls,
        })
    }
}

fn user(message: &'static str) -> ConnectorError {
    ConnectorError::user(message.into())
}

impl Connector {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let mut request = request
            .try_into_http1x()
            .map_err(|e| ConnectorError::user(e.into()))?;
        let endpoint = Endpoint::of(request.uri())?;
        if !request.headers().contains_key(HOST)
            && let Some(authority) = request.uri().authority()
        {
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|e| ConnectorError::user(e.into()))?;
            request.headers_mut().insert(HOST, host);
        }
        // HTTP/1.1 to an origin server: the request target is the path and query.
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse::<Uri>()
            .map_err(|e| ConnectorError::user(e.into()))?;
        *request.uri_mut() = target;

        let mut sender = match self.idle(&endpoint.key).await {
            Some(sender) => sender,
            None => self.dial(&endpoint).await?,
        };
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            let (parts, body) = response.into_parts();
            // The bodies of these APIs are small: read them whole, then the
            // connection is free for the next request.
            let body = body
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .to_bytes();
            Ok::<_, ConnectorError>(http::Response::from_parts(parts, SdkBody::from(body)))
        };
        let response = match self.read_timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|e| ConnectorError::timeout(e.into()))??,
            None => exchange.await?,
        };
        self.release(endpoint.key, sender);
        HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
    }

    /// An idle connection to `key` that is still open, if any.
    async fn idle(&self, key: &str) -> Option<SendRequest<SdkBody>> {
        loop {
            let mut sender = {
                let mut idle = self.shared.idle.lock().ok()?;
                idle.get_mut(key)?.pop()?
            };
            // Pooled connections finished their exchange: `ready` resolves at
            // once, or fails if the server closed the connection meanwhile.
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// Returns a connection to the pool once its exchange is complete.
    fn release(&self, key: String, sender: SendRequest<SdkBody>) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.shared.idle.lock() {
            let list = idle.entry(key).or_default();
            if list.len() < MAX_IDLE_PER_ENDPOINT {
                list.push(sender);
            }
        }
    }

    /// A new connection to `endpoint`, TLS included for `https`.
    async fn dial(&self, endpoint: &Endpoint) -> Result<SendRequest<SdkBody>, ConnectorError> {
        let connect = TcpStream::connect((endpoint.host.as_str(), endpoint.port));
        let tcp = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|e| ConnectorError::timeout(e.into()))?
            .map_err(|e| ConnectorError::io(e.into()))?;
        // Small request/response exchanges: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        if !endpoint.tls {
            return handshake(tcp).await;
        }
        let tls = self
            .shared
            .tls
            .get_or_init(|| match self.shared.setup {
                Some(setup) => setup().map(TlsConnector::from),
                None => Err("no TLS configuration was given".to_owned()),
            })
            .clone()
            .map_err(|e| ConnectorError::other(e.into(), None))?;
        let name = ServerName::try_from(endpoint.host.clone())
            .map_err(|e| ConnectorError::user(e.into()))?;
        let stream = tokio::time::timeout(self.connect_timeout, tls.connect(name, tcp))
            .await
            .map_err(|e| ConnectorError::timeout(e.into()))?
            .map_err(|e| match e.kind() {
                // A certificate or protocol failure: retrying would fail the same way.
                std::io::ErrorKind::InvalidData => ConnectorError::other(e.into(), None),
                _ => ConnectorError::io(e.into()),
            })?;
        handshake(stream).await
    }
}

/// The HTTP/1.1 handshake over `io`; the connection is driven by a task of its own.
async fn handshake<T>(io: T) -> Result<SendRequest<SdkBody>, ConnectorError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| ConnectorError::io(e.into()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "SDK connection closed with an error");
        }
    });
    Ok(sender)
}
