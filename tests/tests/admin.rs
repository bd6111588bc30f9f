//! `dcr-admin`, the real binary, against a running `dcr-local` (through its
//! admin socket, then on the store file once the server stopped) and against
//! the emulated DynamoDB table under a role holding exactly the documented
//! operator policy (`infra/operator-policy.json`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials as _;
use dcr_aws::testing::MotoAws;
use dcr_core::testing::contract::{bare_record, cid};
use dcr_core::testing::memory::{NoKeySets, NoSectors};
use dcr_core::{
    Body, Caller, ClientState, ClientStore as _, Config, Credential, Ports, RegisterRequest,
    SecretStore as _, Service, SystemClock,
};
use dcr_tests::local::ChildApp;
use dcr_tests::{Engine as _, TestRequest};
use serde_json::{Value, json};

/// What one run of `dcr-admin` did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lines()
            .iter()
            .map(|v| v["client_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "dcr-admin failed: {}", self.stderr);
        self
    }
}

fn admin_binary() -> PathBuf {
    let bin = dcr_tests::local::binary().with_file_name("dcr-admin");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p dcr-admin` (the test command does)",
        bin.display()
    );
    bin
}

/// Runs `dcr-admin` with `args` and only the environment given (plus `PATH`).
async fn admin(args: &[&str], env: &[(&str, &str)]) -> Run {
    let run = tokio::process::Command::new(admin_binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("dcr-admin did not finish in 60 s")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

async fn local(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--data-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    admin(&all, &[]).await
}

/// Nothing an export or a show prints may hold a credential or a hash of one.
fn assert_no_credentials(text: &str, credentials: &[&str]) {
    for credential in credentials {
        assert!(!text.contains(credential), "a credential leaked: {text}");
    }
    assert!(!text.contains("token_hash"), "{text}");
    assert!(!text.contains("client_secret\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcr_admin_drives_a_running_dcr_local_and_its_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut app = ChildApp::spawn(&data, &[]).await;
    let mut clients = Vec::new();
    for name in ["A", "B"] {
        let response = app
            .send(TestRequest::new("POST", "/register").json(&json!({
                "redirect_uris": ["https://app.example.com/cb"], "client_name": name
            })))
            .await;
        assert_eq!(response.status, 201);
        clients.push(response.json());
    }
    let id = |c: &Value| c["client_id"].as_str().unwrap().to_owned();
    let rat = |c: &Value| c["registration_access_token"].as_str().unwrap().to_owned();
    let (a, b) = (id(&clients[0]), id(&clients[1]));

    // The server's socket is the way in, owner-only.
    let socket = data.join("admin.sock");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(local(&data, &["list"]).await.ok().ids(), both);

    // Disabled: management answers exactly as for an unknown client.
    let shown = local(&data, &["disable", &a]).await.ok();
    let view: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(view["state"], "disabled");
    assert_eq!(view["disabled"], true);
    let get = |id: String, token: String| {
        let app = &app;
        async move {
            app.send(TestRequest::new("GET", &format!("/register/{id}")).bearer(&token))
                .await
        }
    };
    let refused = get(a.clone(), rat(&clients[0])).await;
    let unknown = get("no-such-client".into(), rat(&clients[0])).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        unknown.header("www-authenticate")
    );
    assert_eq!(refused.body, unknown.body);
    let put = app
        .send(
            TestRequest::new("PUT", &format!("/register/{a}"))
                .bearer(&rat(&clients[0]))
                .json(&json!({"client_id": a, "redirect_uris": ["https://app.example.com/x"]})),
        )
        .await;
    assert_eq!(put.status, 401);
    let delete = app
        .send(TestRequest::new("DELETE", &format!("/register/{a}")).bearer(&rat(&clients[0])))
        .await;
    assert_eq!(delete.status, 401);
    let disabled = local(&data, &["list", "--state", "disabled"]).await.ok();
    assert_eq!(disabled.ids(), std::slice::from_ref(&a));
    let active = local(&data, &["list", "--state", "active"]).await.ok();
    assert_eq!(active.ids(), std::slice::from_ref(&b));

    local(&data, &["enable", &a]).await.ok();
    assert_eq!(get(a.clone(), rat(&clients[0])).await.status, 200);

    // Pages of one, followed by their cursor.
    let first = local(&data, &["list", "--limit", "1"]).await.ok();
    assert_eq!(first.lines().len(), 1);
    let next = first
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .expect("a cursor")
        .to_owned();
    let second = local(&data, &["list", "--limit", "1", "--after", &next])
        .await
        .ok();
    let mut paged = first.ids();
    paged.extend(second.ids());
    paged.sort();
    assert_eq!(paged, both);

    let export = local(&data, &["export"]).await.ok();
    assert_eq!(export.ids(), both);
    let secrets: Vec<String> = clients
        .iter()
        .flat_map(|c| [rat(c), c["client_secret"].as_str().unwrap().to_owned()])
        .collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_credentials(&export.stdout, &secrets);
    assert_eq!(
        export.lines()[0]["metadata"]["redirect_uris"][0],
        "https://app.example.com/cb"
    );

    local(&data, &["delete", &b]).await.ok();
    assert_eq!(get(b.clone(), rat(&clients[1])).await.status, 401);
    let gone = local(&data, &["show", &b]).await;
    assert_eq!(gone.code, 3, "{}", gone.stderr);
    let bad = local(&data, &["list", "--limit", "0"]).await;
    assert_eq!(bad.code, 2);

    // No server: dcr-admin opens the store itself, and lets it go.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(app.child.id().unwrap() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(app.child.wait().await.unwrap().success());
    assert!(!socket.exists(), "the socket goes with the server");
    local(&data, &["disable", &a]).await.ok();
    let shown = local(&data, &["show", &a]).await.ok();
    assert_no_credentials(&shown.stdout, &secrets);
    assert_eq!(local(&data, &["list"]).await.ok().ids(), [a.to_string()]);
    let app = ChildApp::spawn(&data, &[]).await;
    let refused = app
        .send(TestRequest::new("GET", &format!("/register/{a}")).bearer(&rat(&clients[0])))
        .await;
    assert_eq!(refused.status, 401, "the flag set on the file holds");

    // A data dir that holds no store is not made one.
    let empty = dir.path().join("empty");
    let none = local(&empty, &["list"]).await;
    assert_eq!(none.code, 1);
    assert!(!empty.exists());
}

/// `infra/operator-policy.json` for this test's table and secret prefix.
fn operator_policy(aws: &MotoAws) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/operator-policy.json"),
    )
    .unwrap();
    let names = aws.names();
    let text = text
        .replace("${AWS::Partition}", &names.partition)
        .replace("${AWS::Region}", &names.region)
        .replace("${AWS::AccountId}", &names.account)
        .replace("${ClientsTable}", &names.table)
        .replace("${SecretPrefix}", &names.secret_prefix);
    assert!(!text.contains("${"), "every placeholder resolved: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcr_admin_drives_the_emulated_table_under_the_operator_policy() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = Arc::new(aws.client_store());
    let secrets = Arc::new(aws.secret_store());
    let service = Service::new(
        Arc::new(Config::default()),
        Ports {
            clients: store.clone(),
            secrets: secrets.clone(),
            clock: Arc::new(SystemClock),
            keys: Arc::new(NoKeySets),
            sectors: Arc::new(NoSectors),
        },
    );
    let mut clients = Vec::new();
    for name in ["A", "B"] {
        let metadata =
            json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": name});
        let info = service
            .register(RegisterRequest {
                body: Body::Json(metadata.as_object().unwrap().clone()),
                caller: Caller::from(Credential::None),
                issuer: "https://dcr.example.com".into(),
            })
            .await
            .unwrap();
        clients.push(info.0);
    }
    let id = |c: &serde_json::Map<String, Value>| cid(c["client_id"].as_str().unwrap());
    let (a, b) = (id(&clients[0]), id(&clients[1]));
    // A client of an owner, as an initial access token would have made it.
    let mut owned = bare_record(&format!("owned-{a}"), ClientState::Active, 1_000);
    owned.owner = Some("the-owner".into());
    store.insert(&owned).await.unwrap();

    let sdk = aws
        .assume_role("operator", &[operator_policy(&aws)])
        .await
        .unwrap();
    let credentials = sdk
        .credentials_provider()
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    let session = credentials.session_token().unwrap_or_default().to_owned();
    let env = [
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key()),
        ("AWS_SESSION_TOKEN", session.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", aws.endpoint.as_str()),
        ("DCR_CLIENTS_TABLE", aws.table.as_str()),
        ("DCR_SECRET_PREFIX", aws.secret_prefix.as_str()),
    ];
    let run = |args: &'static [&'static str]| admin(args, &env);
    let run_on = |command: &'static str, id: String| {
        let env = &env;
        async move { admin(&[command, &id], env).await }
    };

    let mut all = vec![a.to_string(), b.to_string(), owned.client_id.to_string()];
    all.sort();
    assert_eq!(run(&["list"]).await.ok().ids(), all);
    assert_eq!(
        run(&["list", "--owner", "the-owner"]).await.ok().ids(),
        [owned.client_id.to_string()]
    );
    let view: Value =
        serde_json::from_str(&run_on("disable", a.to_string()).await.ok().stdout).unwrap();
    assert_eq!(view["state"], "disabled");
    let record = store.get(&a).await.unwrap().unwrap();
    assert!(record.disabled, "the flag is in the stored record");
    let token = clients[0]["registration_access_token"].as_str().unwrap();
    let read = service
        .read(
            Some(&a),
            &Caller::from(Credential::Bearer(token.into())),
            "https://dcr.example.com",
        )
        .await;
    assert!(read.is_err(), "management refuses a disabled client");
    assert_eq!(
        run(&["list", "--state", "disabled"]).await.ok().ids(),
        [a.to_string()]
    );
    run_on("enable", a.to_string()).await.ok();
    assert!(!store.get(&a).await.unwrap().unwrap().disabled);

    let export = run(&["export"]).await.ok();
    assert_eq!(export.ids(), all);
    let secret_a = clients[0]["client_secret"].as_str().unwrap();
    assert_no_credentials(&export.stdout, &[token, secret_a]);

    let deleted = run_on("delete", b.to_string()).await.ok();
    assert_eq!(deleted.stdout.trim(), format!("deleted {b}"));
    assert!(store.get(&b).await.unwrap().is_none());
    assert!(
        secrets.get(&b).await.unwrap().is_none(),
        "the secret went too"
    );
    assert_eq!(run_on("show", b.to_string()).await.code, 3);

    // The operator policy is all it takes, and all it gets: no secret values.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("{}{a}", aws.secret_prefix);
    assert!(sm.get_secret_value().secret_id(name).send().await.is_err());
    aws.delete_table().await.unwrap();
}
