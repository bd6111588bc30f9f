//! The local server: the shared HTTP handlers of `dcr-http`, served by hyper on
//! a durable embedded store. `main.rs` parses the command line; [`Server`] is
//! what it (and the black-box tests) start.
//!
//! Every resource a peer can hold is bounded ([`limits`]): a request head must
//! arrive within a timeout (which also closes idle keep-alive connections) and
//! within a size, a body within a timeout and 64 KiB (a larger declared length
//! is answered `413` at once), a response write may not stall, and the
//! connections are capped (the `connections` module). hyper's own answers to
//! requests it cannot parse are replaced by the service's JSON errors (the
//! `framing` module).

pub mod admin_socket;
mod connections;
mod framing;
mod handler;
pub mod limits;
mod listener;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use dcr_core::config::HookTarget;
use dcr_core::service::admin::Admin;
use dcr_core::{Config, Ports, SystemClock};
use dcr_embedded::EmbeddedStore;
use dcr_http::{App, Refusal};
use dcr_keys::{HttpHookCaller, HttpIntrospector, HttpKeySource, KeyFetchConfig};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use secrecy::SecretString;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use admin_socket::AdminSocket;
use connections::{Admission, Connections, Phase, Ticket};
use framing::{Exchange, Socket};
use limits::{DRAIN_TIMEOUT, EVICTION_GRACE, Limits, MAX_BUFFER_BYTES, MAX_HEAD_BYTES};
use listener::{Backoff, RepeatLog};

/// The environment variable holding the secret this service authenticates
/// with at `bearer_token.introspection_endpoint` (never in the config file).
pub const ENV_INTROSPECTION_CLIENT_SECRET: &str = "DCR_INTROSPECTION_CLIENT_SECRET";

/// What `dcr-local` runs with: its command line and environment, and its limits.
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
    /// Timeouts and the connection cap (production values by default).
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3000".into(),
            data_dir: PathBuf::from(".dcr-local"),
            config_file: None,
            introspection_client_secret: None,
            limits: Limits::default(),
        }
    }
}

/// Reads and checks a configuration document given inline (`DCR_CONFIG`); errors name `source`.
pub fn load_inline_config(text: &str, source: &str) -> anyhow::Result<Config> {
    Config::from_yaml(text).with_context(|| format!("in {source}"))
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
    pub async fn start(options: &Options, config: Config) -> anyhow::Result<Self> {
        let store = EmbeddedStore::open(&options.data_dir)
            .with_context(|| format!("opening the store in {}", options.data_dir.display()))?;
        Self::start_with_store(options, config, store).await
    }

    /// Binds the address and starts serving on an open store (which it closes when it stops).
    pub async fn start_with_store(
        options: &Options,
        mut config: Config,
        store: EmbeddedStore,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&options.listen)
            .await
            .with_context(|| format!("binding {}", options.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        if config.issuer.is_none() {
            config.issuer = Some(format!("http://{addr}"));
        }
        let fetch = KeyFetchConfig {
            allow_loopback_http: config.allow_loopback_http,
            ..KeyFetchConfig::default()
        };
        let introspector = introspector(&config, options, &fetch)?;
        refuse_function_hooks(&config)?;
        let hooks = Arc::new(HttpHookCaller::new(config.allow_loopback_http));
        let keys = Arc::new(HttpKeySource::new(fetch));
        let ports = Ports {
            clients: store.clients(),
            secrets: store.secrets(),
            clock: Arc::new(SystemClock),
            keys: keys.clone(),
            sectors: keys,
        };
        let mut app = App::new(config, ports).with_url_hooks(hooks);
        if let Some(introspector) = introspector {
            app = app.with_introspector(Arc::new(introspector));
        }
        let app = Arc::new(app);
        let cap = limits::connection_cap(options.limits.max_connections);
        tracing::info!(max_connections = cap, "connection limit");
        let (stop, stopped) = watch::channel(false);
        let admin = admin_socket(options, &store, stop.subscribe());
        let serving = Serving {
            app,
            limits: options.limits.clone(),
            connections: Connections::new(cap, EVICTION_GRACE),
            graceful: GracefulShutdown::new(),
        };
        let task = tokio::spawn(serving.run(listener, store, admin, stopped));
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

    /// Waits until the server ends on its own: only on a fatal store failure,
    /// reported as the error (the process should exit non-zero).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("the server task panicked")?
    }

    /// A handle that asks the server to stop.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// The operator's socket in the data dir (`dcr-admin`), on the same store.
/// A socket that cannot be bound (a path too long for one) is logged, and
/// the server runs without it.
fn admin_socket(
    options: &Options,
    store: &EmbeddedStore,
    stopped: watch::Receiver<bool>,
) -> Option<AdminSocket> {
    let admin = Admin::over(
        store.clients(),
        store.secrets(),
        store.catalog(),
        Arc::new(SystemClock),
    );
    match AdminSocket::start(&options.data_dir, admin, stopped) {
        Ok(socket) => Some(socket),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "no admin socket: dcr-admin cannot reach this server's clients while it runs"
            );
            None
        }
    }
}

/// A hook that is a Lambda function runs on AWS only: `dcr-local` refuses to
/// start with one rather than fail every request it guards.
fn refuse_function_hooks(config: &Config) -> anyhow::Result<()> {
    for (key, target) in config.hooks.configured() {
        if let HookTarget::Function(_) = target {
            anyhow::bail!(
                "configuration key `{key}.function`: a Lambda function hook runs on AWS only; \
                 dcr-local calls hooks by `url`"
            );
        }
    }
    Ok(())
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

/// What every connection of a running server shares.
struct Serving {
    app: Arc<App>,
    limits: Limits,
    connections: Arc<Connections>,
    graceful: GracefulShutdown,
}

impl Serving {
    /// The accept loop, until a stop signal or a fatal store failure; then drains.
    async fn run(
        self,
        listener: TcpListener,
        store: EmbeddedStore,
        admin: Option<AdminSocket>,
        mut stopped: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let mut backoff = Backoff::default();
        let mut accept_failures = RepeatLog::new("accept failed");
        let mut refusals = RepeatLog::new("connections refused: every connection is busy");
        let fatal = {
            let failed = store.failed();
            tokio::pin!(failed);
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            backoff.reset();
                            // At the cap this may wait: later peers stay in the backlog.
                            let placed = tokio::select! {
                                placed = self.place() => placed,
                                _ = stopped.changed() => break None,
                                why = &mut failed => break Some(why),
                            };
                            match placed {
                                Some(ticket) => self.serve(stream, ticket),
                                None => {
                                    // Best effort and never waiting: the socket buffer
                                    // of a new connection takes the short answer.
                                    let _ = stream
                                        .try_write(&handler::raw_refusal(Refusal::Overloaded));
                                    refusals.record(&"503");
                                }
                            }
                        }
                        Err(e) if listener::is_per_connection(&e) => {}
                        Err(e) => {
                            // Out of descriptors or memory: the error repeats until
                            // something is freed, so pause instead of spinning.
                            accept_failures.record(&e);
                            let pause = backoff.fail();
                            tokio::select! {
                                _ = tokio::time::sleep(pause) => {}
                                _ = stopped.changed() => break None,
                            }
                        }
                    },
                    _ = stopped.changed() => break None,
                    why = &mut failed => break Some(why),
                }
            }
        };
        drop(listener);
        if let Some(why) = &fatal {
            tracing::error!(error = %why, "stopping: the store cannot go on");
        }
        if tokio::time::timeout(DRAIN_TIMEOUT, self.graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within the drain timeout");
        }
        if let Some(admin) = admin {
            admin.close().await;
        }
        // The last references to the app (and its store) go here, closing the database.
        drop(self.app);
        drop(store);
        match fatal {
            Some(why) => Err(anyhow::anyhow!("the embedded store failed: {why}")),
            None => Ok(()),
        }
    }

    /// A place for a new connection, waiting at the cap until one can be made;
    /// `None` when every connection is inside a request.
    async fn place(&self) -> Option<Ticket> {
        loop {
            match self.connections.admit() {
                Admission::Admitted(ticket) => return Some(ticket),
                Admission::Busy => return None,
                Admission::Wait(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.connections.freed() => {}
                    }
                }
            }
        }
    }

    /// Serves a connection in its place.
    fn serve(&self, stream: TcpStream, ticket: Ticket) {
        let _ = stream.set_nodelay(true);
        let ticket = Arc::new(ticket);
        let exchange = Arc::new(Exchange::default());
        let socket = Socket::new(stream, Arc::clone(&exchange), self.limits.write_timeout);
        let service = hyper::service::service_fn({
            let app = Arc::clone(&self.app);
            let ticket = Arc::clone(&ticket);
            let body_timeout = self.limits.body_timeout;
            move |req: hyper::Request<hyper::body::Incoming>| {
                let app = Arc::clone(&app);
                let ticket = Arc::clone(&ticket);
                let exchange = Arc::clone(&exchange);
                async move {
                    ticket.set(Phase::Body);
                    let method = req.method().clone();
                    let response =
                        handler::answer(&app, req, body_timeout, || ticket.set(Phase::Busy)).await;
                    exchange.expect(&method, response.status(), response_len(&response));
                    ticket.set(Phase::Waiting);
                    Ok::<_, Infallible>(response)
                }
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_header_size(MAX_HEAD_BYTES)
            .max_buf_size(MAX_BUFFER_BYTES)
            .writev(false)
            .serve_connection(TokioIo::new(socket), service);
        let conn = self.graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = ticket.evicted() => {
                    tracing::debug!("connection closed to make room for a new one");
                }
            }
        });
    }
}

/// The body length of a response built by [`handler::answer`].
fn response_len(response: &hyper::Response<http_body_util::Full<bytes::Bytes>>) -> usize {
    use hyper::body::Body as _;
    response
        .body()
        .size_hint()
        .exact()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}
