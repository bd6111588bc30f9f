//! `dcr-admin`: the operator tool, with the same commands on both engines
//! (docs/operations.md, "dcr-admin").
//!
//! - On a `dcr-local` data dir: through the admin socket of the server that
//!   runs on it, or, when none runs, on the store file directly.
//! - On a deployed table (`--table`): with the operator's own AWS credentials
//!   from the standard environment variables; IAM is the authorisation
//!   (`infra/operator-policy.json`), no route of the service is involved.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use dcr_core::SystemClock;
use dcr_core::service::admin::{
    Admin, AdminCommand, AdminOutcome, AdminReply, AdminState, ClientView, ListFilter, MAX_PAGE,
};

const USAGE: &str = "usage: dcr-admin [ENGINE] COMMAND [ARGS]
ENGINE (default: the dcr-local data dir .dcr-local):
  --data-dir DIR          a dcr-local data dir (env DCR_DATA_DIR), whether or not its server runs
  --table TABLE           a deployed clients table (env DCR_CLIENTS_TABLE), with the operator's
                          AWS credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                          AWS_SESSION_TOKEN, AWS_REGION (and AWS_ENDPOINT_URL, if set)
  --secret-prefix PREFIX  the deployment's secret name prefix (env DCR_SECRET_PREFIX,
                          default dcr/clients/), for delete
COMMAND:
  list [FILTERS] [--limit N] [--after CURSOR]
                          one page of clients as JSON lines (N from 1 to 1000, default 50);
                          when more follow, stderr says `next: CURSOR`
  export [FILTERS]        every client passing the filters, as JSON lines (no secrets, no token hashes)
  show CLIENT_ID          one client, as JSON
  disable CLIENT_ID       management then refuses it like an unknown client; so must the AS
  enable CLIENT_ID        undoes disable
  delete CLIENT_ID        deletes the client and its secret
FILTERS:
  --state active|disabled|expired|pending|deleting   --software-id ID   --owner CLIENT_ID
  --template SOFTWARE_ID  --registered-before TIME   --registered-after TIME
  TIME is seconds since the epoch, YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ (UTC).";

/// The default secret name prefix of the template (`SecretPrefix`).
const DEFAULT_SECRET_PREFIX: &str = "dcr/clients/";

/// Where the commands run.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// A `dcr-local` data dir.
    Local(PathBuf),
    /// A deployed table and secret prefix.
    Aws {
        table: String,
        secret_prefix: String,
    },
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// One command, printed as it answers.
    One(AdminCommand),
    /// Every page of a listing, as JSON lines.
    Export(ListFilter),
}

/// Whether `command` names a client (`show`, `disable`, `enable`, `delete`).
fn takes_client_id(command: &Option<String>) -> bool {
    matches!(
        command.as_deref(),
        Some("show" | "disable" | "enable" | "delete")
    )
}

fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Target, Request), String> {
    let env = |key: &str| env(key).filter(|v| !v.is_empty());
    let mut data_dir = None;
    let mut table = None;
    let mut secret_prefix = None;
    let mut command: Option<String> = None;
    let mut client_id = None;
    let mut filter = ListFilter::default();
    let mut limit = 50;
    let mut after = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--table" => table = Some(value()?),
            "--secret-prefix" => secret_prefix = Some(value()?),
            "--state" => filter.state = Some(parse_state(&value()?)?),
            "--software-id" => filter.software_id = Some(value()?),
            "--owner" => filter.owner = Some(value()?),
            "--template" => filter.template = Some(value()?),
            "--registered-before" => filter.registered_before = Some(parse_time(&value()?)?),
            "--registered-after" => filter.registered_after = Some(parse_time(&value()?)?),
            "--limit" => {
                let v = value()?;
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("--limit {v}: a number from 1 to {MAX_PAGE}"))?;
            }
            "--after" => after = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            // A client id may begin with `-` (base64url): after a command that
            // takes one, an argument that is no option is the id.
            other
                if other.starts_with('-')
                    && !(takes_client_id(&command) && client_id.is_none()) =>
            {
                return Err(format!("unknown option `{other}`"));
            }
            _ if command.is_none() => command = Some(arg),
            _ if client_id.is_none() => client_id = Some(arg),
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    let table = table.or_else(|| env("DCR_CLIENTS_TABLE"));
    let target = match (table, data_dir) {
        (Some(_), Some(_)) => return Err("give --table or --data-dir, not both".into()),
        (Some(table), None) => Target::Aws {
            table,
            secret_prefix: secret_prefix
                .or_else(|| env("DCR_SECRET_PREFIX"))
                .unwrap_or_else(|| DEFAULT_SECRET_PREFIX.to_owned()),
        },
        (None, dir) => Target::Local(
            dir.or_else(|| env("DCR_DATA_DIR").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(".dcr-local")),
        ),
    };
    let command = command.ok_or("no command")?;
    let id = || {
        client_id
            .clone()
            .ok_or(format!("{command} needs a CLIENT_ID"))
    };
    let listing = command == "list" || command == "export";
    if !listing && (filter != ListFilter::default() || after.is_some()) {
        return Err(format!("{command} takes no filters"));
    }
    if listing && client_id.is_some() {
        return Err(format!("{command} takes no CLIENT_ID"));
    }
    let request = match command.as_str() {
        "list" => Request::One(AdminCommand::List {
            filter,
            after,
            limit,
        }),
        "export" => Request::Export(filter),
        "show" => Request::One(AdminCommand::Show { client_id: id()? }),
        "disable" => Request::One(AdminCommand::Disable { client_id: id()? }),
        "enable" => Request::One(AdminCommand::Enable { client_id: id()? }),
        "delete" => Request::One(AdminCommand::Delete { client_id: id()? }),
        other => return Err(format!("unknown command `{other}`")),
    };
    Ok((target, request))
}

fn parse_state(text: &str) -> Result<AdminState, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("--state {text}: one of active, disabled, expired, pending, deleting"))
}

/// Seconds since the epoch, from a number of them, `YYYY-MM-DD` (midnight
/// UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}`: seconds since the epoch, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (text, None),
    };
    let number = |s: &str, len: usize| -> Result<i64, String> {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    let (y, m, d) = (number(y, 4)?, number(m, 2)?, number(d, 2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let seconds = match time {
        None => 0,
        Some(t) => {
            let parts: Vec<&str> = t.split(':').collect();
            let [h, min, s] = parts[..] else {
                return Err(bad());
            };
            let (h, min, s) = (number(h, 2)?, number(min, 2)?, number(s, 2)?);
            if h > 23 || min > 59 || s > 60 {
                return Err(bad());
            }
            h * 3_600 + min * 60 + s
        }
    };
    Ok(days_from_civil(y, m, d) * 86_400 + seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Runs commands on one target.
enum Engine {
    /// A running `dcr-local`, through its admin socket.
    Socket(PathBuf),
    /// The stores themselves.
    Direct(Box<Admin>),
}

impl Engine {
    async fn open(target: &Target) -> anyhow::Result<Self> {
        match target {
            Target::Local(dir) => local_engine(dir).await,
            Target::Aws {
                table,
                secret_prefix,
            } => {
                let access = dcr_lambda::settings::aws_access(|key| std::env::var(key).ok())
                    .context("the operator's AWS credentials")?;
                let sdk =
                    access.sdk_config(|| dcr_keys::tls_client_config().map_err(|e| e.to_string()));
                let clients = Arc::new(dcr_aws::DynamoClientStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    table,
                ));
                let secrets = Arc::new(dcr_aws::SecretsManagerStore::new(
                    aws_sdk_secretsmanager::Client::new(&sdk),
                    secret_prefix,
                ));
                Ok(Engine::Direct(Box::new(admin(
                    clients.clone(),
                    secrets,
                    clients,
                ))))
            }
        }
    }

    async fn run(&self, command: AdminCommand) -> anyhow::Result<AdminReply> {
        match self {
            Engine::Socket(path) => dcr_local::admin_socket::send(path, &command).await,
            Engine::Direct(admin) => Ok(AdminReply::from_result(admin.run(command).await)),
        }
    }
}

fn admin(
    clients: Arc<dyn dcr_core::ClientStore>,
    secrets: Arc<dyn dcr_core::SecretStore>,
    catalog: Arc<dyn dcr_core::ClientCatalog>,
) -> Admin {
    Admin::over(clients, secrets, catalog, Arc::new(SystemClock))
}

/// The running server's socket, else the store file itself (never a new store).
async fn local_engine(dir: &Path) -> anyhow::Result<Engine> {
    let socket = dcr_local::admin_socket::socket_path(dir);
    if tokio::net::UnixStream::connect(&socket).await.is_ok() {
        return Ok(Engine::Socket(socket));
    }
    let file = dir.join(dcr_embedded::DB_FILE_NAME);
    if !file.exists() {
        anyhow::bail!(
            "{} holds no dcr-local store (no {})",
            dir.display(),
            dcr_embedded::DB_FILE_NAME
        );
    }
    let store = dcr_embedded::EmbeddedStore::open(dir).with_context(|| {
        format!(
            "opening {} (no server answers on {}; is one starting?)",
            file.display(),
            socket.display()
        )
    })?;
    Ok(Engine::Direct(Box::new(admin(
        store.clients(),
        store.secrets(),
        store.catalog(),
    ))))
}

/// Prints an answer; the exit status says how it went.
fn print(reply: AdminReply) -> Result<Option<String>, ExitCode> {
    match reply {
        AdminReply::Ok(AdminOutcome::Page(page)) => {
            for client in &page.clients {
                println!("{}", line(client));
            }
            Ok(page.next)
        }
        AdminReply::Ok(AdminOutcome::Client(view)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&view).unwrap_or_default()
            );
            Ok(None)
        }
        AdminReply::Ok(AdminOutcome::Deleted(id)) => {
            println!("deleted {id}");
            Ok(None)
        }
        AdminReply::Error { kind, message } => {
            eprintln!("dcr-admin: {message}");
            Err(match kind.as_str() {
                "not_found" => ExitCode::from(3),
                "refused" | "conflict" => ExitCode::from(4),
                _ => ExitCode::from(1),
            })
        }
    }
}

fn line(view: &ClientView) -> String {
    serde_json::to_string(view).unwrap_or_default()
}

async fn execute(target: Target, request: Request) -> Result<(), ExitCode> {
    let engine = Engine::open(&target).await.map_err(|e| {
        eprintln!("dcr-admin: {e:#}");
        ExitCode::from(1)
    })?;
    let ask = |command| async {
        engine.run(command).await.map_err(|e| {
            eprintln!("dcr-admin: {e:#}");
            ExitCode::from(1)
        })
    };
    match request {
        Request::One(command) => {
            if let Some(next) = print(ask(command).await?)? {
                eprintln!("next: {next}");
            }
        }
        Request::Export(filter) => {
            let mut after = None;
            loop {
                let command = AdminCommand::List {
                    filter: filter.clone(),
                    after,
                    limit: MAX_PAGE,
                };
                match print(ask(command).await?)? {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let (target, request) = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(parsed) => parsed,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("dcr-admin: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match execute(target, request).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<(Target, Request), String> {
        parse_args(args.iter().map(|s| (*s).to_owned()), |_| None)
    }

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("1970-01-01"), Ok(0));
        assert_eq!(parse_time("2024-02-29"), Ok(1_709_164_800));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        for bad in [
            "2024-13-01",
            "2024-1-01",
            "yesterday",
            "2024-01-01T00:00:00",
            "",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_and_targets() {
        let (target, request) = parse(&[
            "--table",
            "t",
            "list",
            "--state",
            "disabled",
            "--owner=o",
            "--limit",
            "5",
        ])
        .unwrap();
        assert_eq!(
            target,
            Target::Aws {
                table: "t".into(),
                secret_prefix: DEFAULT_SECRET_PREFIX.into()
            }
        );
        assert_eq!(
            request,
            Request::One(AdminCommand::List {
                filter: ListFilter {
                    state: Some(AdminState::Disabled),
                    owner: Some("o".into()),
                    ..Default::default()
                },
                after: None,
                limit: 5
            })
        );
        let (target, request) = parse(&["disable", "abc"]).unwrap();
        assert_eq!(target, Target::Local(PathBuf::from(".dcr-local")));
        assert_eq!(
            request,
            Request::One(AdminCommand::Disable {
                client_id: "abc".into()
            })
        );
        // A client id may begin with `-`.
        let (_, request) = parse(&["--table", "t", "delete", "-m3CMwK2QK4U8llEyjMKOg"]).unwrap();
        assert_eq!(
            request,
            Request::One(AdminCommand::Delete {
                client_id: "-m3CMwK2QK4U8llEyjMKOg".into()
            })
        );
        for bad in [
            &["show"][..],
            &["list", "abc"],
            &["list", "-x"],
            &["show", "abc", "-x"],
            &["show", "abc", "--state", "active"],
            &["list", "--limit", "0"],
            &["list", "--state", "gone"],
            &["--table", "t", "--data-dir", "d", "list"],
            &["frobnicate"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
