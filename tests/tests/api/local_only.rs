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
