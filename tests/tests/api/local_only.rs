//! What only the local engine has: a process, a data dir, signals, start-up.

use dcr_tests::local::{ChildApp, LocalApp, binary, refused_start_up};
use dcr_tests::{Engine, TestRequest};
use serde_json::{Value, json};

async fn register_many(app: &dyn Engine, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..n {
        let body = json!({"redirect_uris": [format!("https://c{i}.example.com/cb")], "client_name": format!("client {i}")});
        let r = app
            .send(TestRequest::new("POST", "/register").json(&body))
            .await;
        assert_eq!(r.status, 201);
        out.push(r.json());
    }
    out
}

async fn assert_all_readable(app: &dyn Engine, clients: &[Value]) {
    for info in clients {
        let id = info["client_id"].as_str().unwrap();
        let token = info["registration_access_token"].as_str().unwrap();
        let r = app
            .send(TestRequest::new("GET", &format!("/register/{id}")).bearer(token))
            .await;
        assert_eq!(r.status, 200, "client {id} lost");
        let mut read = r.json();
        let mut expected = info.clone();
        // The issuer (port) changes across restarts; everything else must not.
        for v in [&mut read, &mut expected] {
            v.as_object_mut().unwrap().remove("registration_client_uri");
        }
        assert_eq!(read, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_every_client() {
    let app = LocalApp::spawn("").await;
    let clients = register_many(&app, 25).await;
    // One of them deleted before the restart stays deleted.
    let gone = &clients[0];
    let r = app
        .send(
            TestRequest::new(
                "DELETE",
                &format!("/register/{}", gone["client_id"].as_str().unwrap()),
            )
            .bearer(gone["registration_access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status, 204);
    let app = app.restart().await;
    assert_all_readable(&app, &clients[1..]).await;
    let r = app
        .send(
            TestRequest::new(
                "GET",
                &format!("/register/{}", gone["client_id"].as_str().unwrap()),
            )
            .bearer(gone["registration_access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = ChildApp::spawn(dir.path(), &[]).await;
    assert!(
        app.stdout_line
            .starts_with("listening on http://127.0.0.1:")
    );
    let clients = register_many(&app, 30).await;
    app.child.start_kill().unwrap();
    let status = app.child.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited");
    let app = ChildApp::spawn(dir.path(), &[]).await;
    assert_all_readable(&app, &clients).await;
}

/// Rotating `PUT`s on `clients` (each with the token its client last got)
/// until the server dies; returns the tokens each client holds then. The
/// `kill_after`-th successful `PUT` wakes `killed`.
async fn rotate_until_killed(
    base: String,
    clients: Vec<(String, String)>,
    kill_after: usize,
    killed: std::sync::Arc<tokio::sync::Notify>,
) -> Vec<(String, String)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let http = reqwest::Client::new();
    let done = std::sync::Arc::new(AtomicUsize::new(0));
    let tasks = clients.into_iter().map(|(id, mut token)| {
        let (http, done, killed) = (http.clone(), done.clone(), killed.clone());
        let url = format!("{base}/register/{id}");
        tokio::spawn(async move {
            let body = json!({"redirect_uris": ["https://app.example.com/cb"]});
            loop {
                let sent = http.put(&url).bearer_auth(&token).json(&body).send().await;
                let Ok(response) = sent else { break };
                assert_eq!(response.status(), 200, "client {id}");
                let Ok(info) = response.json::<Value>().await else {
                    break;
                };
                token = info["registration_access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                if done.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                    killed.notify_one();
                }
            }
            (id, token)
        })
    });
    let tasks: Vec<_> = tasks.collect();
    let mut held = Vec::new();
    for task in tasks {
        held.push(task.await.unwrap());
    }
    held
}

/// The configuration of the rotation kill -9 test.
const ROTATING: &str = "registration_access_token:\n  rotate_on_update: true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_rotating_puts_leaves_every_client_a_working_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, ROTATING).unwrap();
    let data = dir.path().join("data");
    let args = ["--config", config.to_str().unwrap()];
    let mut app = ChildApp::spawn(&data, &args).await;
    let mut clients: Vec<(String, String)> = register_many(&app, 16)
        .await
        .iter()
        .map(|info| {
            let id = info["client_id"].as_str().unwrap().to_owned();
            (
                id,
                info["registration_access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    for round in 0..3 {
        let killed = std::sync::Arc::new(tokio::sync::Notify::new());
        let puts = tokio::spawn(rotate_until_killed(
            app.base.clone(),
            clients.clone(),
            16 * 4,
            killed.clone(),
        ));
        killed.notified().await;
        app.child.start_kill().unwrap();
        assert!(
            !app.child.wait().await.unwrap().success(),
            "killed, not exited"
        );
        clients = puts.await.unwrap();
        app = ChildApp::spawn(&data, &args).await;
        // Whatever the kill cut short, the token each client holds works: the
        // current one, or the one a committed rotation replaced (its grace).
        for (id, token) in &mut clients {
            let path = format!("/register/{id}");
            let r = app.send(TestRequest::new("GET", &path).bearer(token)).await;
            assert_eq!(
                r.status, 200,
                "round {round}: client {id} has no working token"
            );
            let body = json!({"redirect_uris": ["https://app.example.com/cb"]});
            let r = app
                .send(TestRequest::new("PUT", &path).bearer(token).json(&body))
                .await;
            assert_eq!(r.status, 200, "round {round}: client {id} cannot rotate");
            *token = r.str("registration_access_token");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_gracefully_with_status_0() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut app = ChildApp::spawn(dir.path(), &[]).await;
        let clients = register_many(&app, 3).await;
        let pid = app.child.id().unwrap().to_string();
        let kill = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = tokio::time::timeout(std::time::Duration::from_secs(20), app.child.wait())
            .await
            .expect("dcr-local did not stop within 20 s")
            .unwrap();
        assert_eq!(status.code(), Some(0), "SIG{signal}");
        let app = ChildApp::spawn(dir.path(), &[]).await;
        assert_all_readable(&app, &clients).await;
    }
}

#[tokio::test]
async fn a_config_error_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "registration_access_token:\n  lifetime: soon\n",
            "registration_access_token.lifetime",
        ),
        ("profile: galactic\n", "profile"),
        ("no_such_key: 1\n", "no_such_key"),
        ("policy:\n  grant_types: [a]\n  colours: [b]\n", "colours"),
        // Configurations that cannot work, or would let any token of the issuer through.
        (
            "registration_endpoint_authentication:\n  require_bearer_token: true\nbearer_token:\n  issuer: https://as.example.com\n  jwks_uri: https://as.example.com/jwks\n",
            "bearer_token.scopes",
        ),
        (
            "policy:\n  token_endpoint_auth_methods: [magic]\n",
            "policy.token_endpoint_auth_methods",
        ),
        ("policy:\n  grant_types: [teleport]\n", "policy.grant_types"),
        (
            "policy:\n  response_types: [device]\n",
            "policy.response_types",
        ),
        (
            "policy:\n  redirect_uri_hosts: []\n",
            "policy.redirect_uri_hosts",
        ),
        (
            "policy:\n  grant_types: [authorization_code]\ndefaults:\n  grant_types: [client_credentials]\n",
            "defaults.grant_types",
        ),
        (
            "profile: fapi-advanced\npolicy:\n  token_endpoint_auth_methods: [client_secret_basic, none]\n",
            "policy.token_endpoint_auth_methods",
        ),
        (
            "registration_access_token:\n  generate: false\n  rotate_on_update: true\n",
            "registration_access_token.rotate_on_update",
        ),
    ];
    for (yaml, key) in cases {
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        let stderr = refused_start_up(&dir.path().join("data"), &path).await;
        assert!(
            stderr.contains(key),
            "{yaml}: stderr does not name {key}: {stderr}"
        );
    }
}

#[tokio::test]
async fn environment_equivalents_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "server_metadata:\n  token_endpoint: https://t.example.com/token\n",
    )
    .unwrap();
    let mut child = tokio::process::Command::new(binary())
        .env("DCR_LISTEN", "127.0.0.1:0")
        .env("DCR_DATA_DIR", dir.path().join("envdata"))
        .env("DCR_CONFIG_FILE", &config)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    let base = line.strip_prefix("listening on ").unwrap();
    let doc: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], "https://t.example.com/token");
    assert!(dir.path().join("envdata").is_dir());
    child.start_kill().unwrap();
}
