//! The local server: the shared HTTP handlers of `dcr-http`, served by hyper on
//! a durable embedded store. `main.rs` parses the command line; [`Server`] is
//! what it (and the black-box tests) start.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use dcr_core::Config;
use dcr_embedded::EmbeddedStore;
use dcr_http::{App, MAX_BODY_BYTES};
use dcr_keys::{HttpIntrospector, HttpKeySource, KeyFetchConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long in-flight requests may take to finish after a stop signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The environment variable holding the secret this service authenticates
/// with at `bearer_token.introspection_endpoint` (never in the config file).
pub const ENV_INTROSPECTION_CLIENT_SECRET: &str = "DCR_INTROSPECTION_CLIENT_SECRET";

/// What `dcr-local` runs with (contract §2).
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on (`--listen`, `DCR_LISTEN`).
    pub listen: String,
    /// Directory of the embedded store (`--data-dir`, `DCR_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Configuration file (`--config`, `DCR_CONFIG_FILE`); none = open registration.
    pub config_file: Option<PathBuf>,
    /// The introspection client's secret (`DCR_INTROSPECTION_CLIENT_SECRET`).
    pub introspection_client_secret: Option<SecretString>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3000".into(),
            data_dir: PathBuf::from(".dcr-local"),
            config_file: None,
            introspection_client_secret: None,
        }
    }
}

/// Reads and checks the configuration file, if any.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    Config::from_yaml(&text).with_context(|| format!("in {}", path.display()))
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Opens the store, binds the address and starts serving.
    pub async fn start(options: &Options, mut config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&options.listen)
            .await
            .with_context(|| format!("binding {}", options.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        if config.issuer.is_none() {
            config.issuer = Some(format!("http://{addr}"));
        }
        let store = EmbeddedStore::open(&options.data_dir)
            .with_context(|| format!("opening the store in {}", options.data_dir.display()))?;
        let fetch = KeyFetchConfig {
            allow_loopback_http: config.allow_loopback_http,
            ..KeyFetchConfig::default()
        };
        let introspector = introspector(&config, options, &fetch)?;
        let keys = Arc::new(HttpKeySource::new(fetch));
        let mut app = App::new(config, store.clients(), store.secrets(), keys.clone())
            .with_sector_source(keys);
        if let Some(introspector) = introspector {
            app = app.with_introspector(Arc::new(introspector));
        }
        let app = Arc::new(app);
        drop(store);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, stopped));
        Ok(Self { addr, stop, task })
    }

    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish, closes the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("the server task panicked")?
    }

    /// Waits until the server ends on its own (it only does on error).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("the server task panicked")?
    }

    /// A handle that asks the server to stop.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// The introspection client, when the configuration names an endpoint; its
/// secret must come from the environment.
fn introspector(
    config: &Config,
    options: &Options,
    fetch: &KeyFetchConfig,
) -> anyhow::Result<Option<HttpIntrospector>> {
    let bearer = &config.bearer_token;
    let (Some(endpoint), Some(client_id)) = (
        &bearer.introspection_endpoint,
        &bearer.introspection_client_id,
    ) else {
        return Ok(None);
    };
    let secret = options
        .introspection_client_secret
        .as_ref()
        .with_context(|| {
            format!(
                "environment variable {ENV_INTROSPECTION_CLIENT_SECRET} is not set \
             (bearer_token.introspection_endpoint needs the client's secret)"
            )
        })?;
    HttpIntrospector::new(endpoint, client_id, secret, fetch.clone())
        .map(Some)
        .map_err(anyhow::Error::msg)
}

async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(&app, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the drain timeout");
    }
    // The last reference to the app (and its store) goes here, closing the database.
    drop(app);
    Ok(())
}

/// Converts a hyper request into a `lambda_http` request, runs the app, and back.
async fn handle(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = read_capped(body).await;
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes)
    };
    let response = app.handle(http::Request::from_parts(parts, body)).await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(s) => Bytes::from(s),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Reads at most one byte more than the limit: enough for the app to answer 413
/// without buffering an attacker's gigabytes.
async fn read_capped(mut body: Incoming) -> Vec<u8> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > MAX_BODY_BYTES {
                buf.truncate(MAX_BODY_BYTES + 1);
                break;
            }
        }
    }
    buf
}
