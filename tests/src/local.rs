//! The local engine: `dcr-local` served in-process on port 0 with a fresh data dir,
//! or the real binary as a child process (for kill -9 and signal tests).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use dcr_embedded::{EmbeddedStore, Faults};
use dcr_local::limits::Limits;
use dcr_local::{Options, Server, load_config};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{Engine, TestRequest, TestResponse};

/// `dcr-local` running inside the test process.
pub struct LocalApp {
    pub server: Option<Server>,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    pub config_yaml: String,
    http: reqwest::Client,
}

impl LocalApp {
    /// Starts a server on port 0 with a fresh data dir and the given config.
    pub async fn spawn(config_yaml: &str) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        Self::spawn_in(data_dir, config_yaml).await
    }

    /// Starts a server with the given limits, its store over `faults` if any.
    pub async fn spawn_with(
        config_yaml: &str,
        limits: Limits,
        faults: Option<Arc<Faults>>,
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let server = start(data_dir.path(), config_yaml, limits, faults).await;
        Self::serving(server, data_dir, config_yaml)
    }

    async fn spawn_in(data_dir: tempfile::TempDir, config_yaml: &str) -> Self {
        let server = start(data_dir.path(), config_yaml, Limits::default(), None).await;
        Self::serving(server, data_dir, config_yaml)
    }

    fn serving(server: Server, data_dir: tempfile::TempDir, config_yaml: &str) -> Self {
        let base = format!("http://{}", server.addr());
        Self {
            server: Some(server),
            base,
            data_dir,
            config_yaml: config_yaml.into(),
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server gracefully and starts a new one on the same data dir
    /// with another configuration.
    pub async fn restart_with(mut self, config_yaml: &str) -> Self {
        self.config_yaml = config_yaml.to_owned();
        self.restart().await
    }

    /// Stops the server gracefully and starts a new one on the same data dir.
    pub async fn restart(mut self) -> Self {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap();
        }
        let config = std::mem::take(&mut self.config_yaml);
        Self::spawn_in(self.data_dir, &config).await
    }
}

async fn start(
    data_dir: &Path,
    config_yaml: &str,
    limits: Limits,
    faults: Option<Arc<Faults>>,
) -> Server {
    let config_path = data_dir.join("config.yaml");
    std::fs::write(&config_path, config_yaml).unwrap();
    let options = Options {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.join("store"),
        config_file: Some(config_path.clone()),
        introspection_client_secret: Some(crate::INTROSPECTION_CLIENT_SECRET.into()),
        limits,
    };
    let config = load_config(Some(&config_path)).unwrap();
    match faults {
        None => Server::start(&options, config).await.unwrap(),
        Some(faults) => {
            let store = EmbeddedStore::open_with_faults(&options.data_dir, faults).unwrap();
            Server::start_with_store(&options, config, store)
                .await
                .unwrap()
        }
    }
}

/// Sends a request over HTTP to `base`.
pub async fn send_http(http: &reqwest::Client, base: &str, request: TestRequest) -> TestResponse {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut builder = http.request(method, format!("{base}{}", request.path));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.body(request.body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.bytes().await.unwrap().to_vec();
    TestResponse {
        status,
        headers,
        body,
    }
}

#[async_trait::async_trait]
impl Engine for LocalApp {
    async fn send(&self, request: TestRequest) -> TestResponse {
        send_http(&self.http, &self.base, request).await
    }

    fn issuer(&self) -> String {
        self.base.clone()
    }
}

/// The `dcr-local` binary built next to the test executable.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("dcr-local");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p dcr-local` (the test command does)",
        bin.display()
    );
    bin
}

/// The real `dcr-local` binary as a child process.
pub struct ChildApp {
    pub child: tokio::process::Child,
    pub base: String,
    pub stdout_line: String,
    http: reqwest::Client,
}

/// Why the binary did not start: its exit status and what it said on stderr.
#[derive(Debug)]
pub struct Refused {
    pub status: std::process::ExitStatus,
    pub stderr: String,
}

impl ChildApp {
    /// Starts the binary on port 0 and waits for its `listening on` line.
    pub async fn spawn(data_dir: &Path, extra_args: &[&str]) -> Self {
        Self::start(data_dir, extra_args, &[])
            .await
            .unwrap_or_else(|r| panic!("dcr-local exited before listening: {r:?}"))
    }

    /// Starts the binary on port 0 with extra arguments and environment (no
    /// configuration from the test's own environment); `Err` if it exits
    /// before printing its `listening on` line.
    pub async fn start(
        data_dir: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, Refused> {
        let mut child = tokio::process::Command::new(binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .env_remove("DCR_CONFIG")
            .env_remove("DCR_CONFIG_FILE")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Drained all along, so the child never blocks on a full pipe.
        let mut stderr = child.stderr.take().unwrap();
        let said = tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
            eprint!("{text}");
            text
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("dcr-local neither listened nor exited in 30 s")
            .unwrap();
        let Some(line) = first else {
            let status = child.wait().await.unwrap();
            let stderr = said.await.unwrap();
            return Err(Refused { status, stderr });
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Ok(Self {
            child,
            base,
            stdout_line: line,
            http: reqwest::Client::new(),
        })
    }
}

#[async_trait::async_trait]
impl Engine for ChildApp {
    async fn send(&self, request: TestRequest) -> TestResponse {
        send_http(&self.http, &self.base, request).await
    }

    fn issuer(&self) -> String {
        self.base.clone()
    }
}

/// A request id unique within the test process.
pub fn unique_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs the real `dcr-local` with `config` and asserts it refuses to start:
/// a failure status and no `listening on` line. Returns its stderr.
pub async fn refused_start_up(data_dir: &Path, config: &Path) -> String {
    let run = tokio::process::Command::new(binary())
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--config")
        .arg(config)
        .kill_on_drop(true)
        .output();
    // A server that accepted the configuration would never exit.
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .unwrap_or_else(|_| panic!("{} started and kept running", config.display()))
        .unwrap();
    assert!(!out.status.success(), "{} accepted", config.display());
    assert!(out.stdout.is_empty(), "no listening line on a config error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
