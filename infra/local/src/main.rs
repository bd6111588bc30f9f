//! `dcr-local`: the registration service on one machine (see the README).
//!
//! `dcr-local [--listen ADDR] [--data-dir DIR] [--config FILE]`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use dcr_local::{
    ENV_INTROSPECTION_CLIENT_SECRET, Options, Server, load_config, load_inline_config,
};
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const USAGE: &str = "usage: dcr-local [--listen ADDR] [--data-dir DIR] [--config FILE]
  --listen ADDR    address to listen on (env DCR_LISTEN, default 127.0.0.1:3000)
  --data-dir DIR   where clients and secrets are kept (env DCR_DATA_DIR, default .dcr-local)
  --config FILE    YAML configuration (env DCR_CONFIG_FILE, default: open registration)
The secret for bearer_token.introspection_endpoint comes from DCR_INTROSPECTION_CLIENT_SECRET.
The configuration can also be given inline in DCR_CONFIG (not together with a file).
Logs go to stderr: RUST_LOG filters them, DCR_LOG_FORMAT=json makes them JSON lines.";

/// mimalloc instead of the system allocator: a request allocates and frees
/// many small objects (JSON values, header maps), and glibc's malloc and free
/// took ~14 % of a worker's CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The configuration document inline, as the Lambda functions read it.
const ENV_CONFIG: &str = "DCR_CONFIG";

fn parse_args() -> Result<Options, String> {
    let mut options = Options::default();
    if let Ok(v) = std::env::var("DCR_LISTEN") {
        options.listen = v;
    }
    if let Ok(v) = std::env::var("DCR_DATA_DIR") {
        options.data_dir = PathBuf::from(v);
    }
    if let Ok(v) = std::env::var("DCR_CONFIG_FILE") {
        options.config_file = Some(PathBuf::from(v));
    }
    if let Ok(v) = std::env::var(ENV_INTROSPECTION_CLIENT_SECRET)
        && !v.is_empty()
    {
        options.introspection_client_secret = Some(v.into());
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => options.listen = value("--listen")?,
            "--data-dir" => options.data_dir = PathBuf::from(value("--data-dir")?),
            "--config" => options.config_file = Some(PathBuf::from(value("--config")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

/// Logs to stderr (stdout carries only the `listening on` line): text, or JSON
/// lines like the Lambda functions' with `DCR_LOG_FORMAT=json`; filtered by
/// `RUST_LOG` (default `info`).
///
/// Lines are formatted on the thread that logs them and written by a thread
/// of their own through a buffer that is flushed whenever no line is waiting:
/// under load one `write` carries many access log lines instead of one each,
/// and a request never waits for stderr. No line is dropped (a full queue
/// makes the logging thread wait); the returned guard flushes what is left
/// when `main` returns.
fn init_logs() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("dcr-log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let logs = tracing_subscriber::registry().with(filter);
    if std::env::var("DCR_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.with(dcr_http::logs::json_layer(writer)).init();
    } else {
        let text = tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(std::io::stderr().is_terminal());
        logs.with(text).init();
    }
    guard
}

#[tokio::main]
async fn main() -> ExitCode {
    let _logs = init_logs();
    let options = match parse_args() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("dcr-local: {message}");
            return ExitCode::from(2);
        }
    };
    let inline = std::env::var(ENV_CONFIG)
        .ok()
        .filter(|text| !text.trim().is_empty());
    let config = match (inline, &options.config_file) {
        (Some(_), Some(file)) => Err(anyhow::anyhow!(
            "both {ENV_CONFIG} (the configuration inline) and a configuration file ({}, from \
             --config or DCR_CONFIG_FILE) are set: give one",
            file.display()
        )),
        (Some(text), None) => load_inline_config(&text, ENV_CONFIG),
        (None, file) => load_config(file.as_deref()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dcr-local: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut server = match Server::start(&options, config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dcr-local: {e:#}");
            return ExitCode::from(1);
        }
    };
    println!("listening on http://{}", server.addr());
    let stopper = server.stopper();
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        _ => {
            eprintln!("dcr-local: cannot install signal handlers");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        result = server.wait() => {
            if let Err(e) = result {
                eprintln!("dcr-local: {e:#}");
                return ExitCode::from(1);
            }
            return ExitCode::SUCCESS;
        }
    }
    tracing::info!("stopping: finishing in-flight requests");
    let _ = stopper.send(true);
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dcr-local: {e:#}");
            ExitCode::from(1)
        }
    }
}
