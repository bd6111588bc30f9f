//! Logs without secrets. Every log line the test process emits is captured,
//! rendered both as text (dcr-local's format) and as JSON (the Lambda
//! functions' format, `dcr_http::logs::json_layer`, which both engines use), at the production
//! level (`info`) for dependencies and at `trace` for the project's own crates.
//! Every route is driven with known secrets (client secrets, registration
//! access tokens, JWT bearer tokens, software statements, wrong secrets); none
//! of them, nor any 20-character piece of one, may appear, while the access
//! lines must. This file holds only these tests, so the global subscriber is
//! theirs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use dcr_tests::lambda::LambdaApp;
use dcr_tests::local::LocalApp;
use dcr_tests::trust::Trust;
use dcr_tests::{Engine, TestRequest, TestResponse};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

/// Everything logged by this test binary.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once for the whole binary.
fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,dcr=trace");
        let text = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Capture);
        let json = dcr_http::logs::json_layer(|| Capture);
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(text)
            .with(json);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap()).into_owned()
}

/// The secrets (or 20-character pieces of them) found in `logs`.
fn leaks(logs: &str, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        let chars: Vec<char> = secret.chars().collect();
        let pieces: Vec<String> = if chars.len() <= 20 {
            vec![secret.clone()]
        } else {
            chars.windows(20).map(|w| w.iter().collect()).collect()
        };
        if let Some(piece) = pieces.iter().find(|p| logs.contains(p.as_str())) {
            found.push(format!("{secret:?} (piece {piece:?})"));
        }
    }
    found
}

/// What a run must have logged, and the secrets it must not have.
struct Run {
    secrets: Vec<String>,
    request_ids: Vec<String>,
    client_id: String,
}

fn secret_of(r: &TestResponse, key: &str, secrets: &mut Vec<String>) -> String {
    let value = r.str(key);
    secrets.push(value.clone());
    value
}

/// Drives every route with known secrets; `tag` keeps the engines' values apart.
async fn drive(app: &dyn Engine, trust: &Trust, tag: &str) -> Run {
    let mut secrets = Vec::new();
    let mut request_ids = Vec::new();
    let mut n = 0;
    let mut send = async |request: TestRequest| {
        n += 1;
        let id = format!("logs-{tag}-{n}");
        request_ids.push(id.clone());
        app.send(request.header("x-request-id", &id)).await
    };

    // Register: a confidential client with a chosen secret, a public one, one
    // with a server-drawn secret, one with a statement; bad metadata; a
    // statement that fails; a custom secret that is refused.
    let client_id = format!("logs-{tag}-client");
    let chosen_secret = format!("KnownChosenSecret-{tag}-7f3a9c2e5b8d1f4a6c0e");
    secrets.push(chosen_secret.clone());
    let body = json!({
        "client_id": client_id,
        "client_secret": chosen_secret,
        "redirect_uris": ["https://app.example.com/cb"],
    });
    let r = send(TestRequest::new("POST", "/register").json(&body)).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let token = secret_of(&r, "registration_access_token", &mut secrets);

    let public = json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"});
    let r = send(TestRequest::new("POST", "/register").json(&public)).await;
    assert_eq!(r.status, 201);
    let public_id = r.str("client_id");
    let public_token = secret_of(&r, "registration_access_token", &mut secrets);

    let web = json!({"redirect_uris": ["https://app.example.com/cb"]});
    let r = send(TestRequest::new("POST", "/register").json(&web)).await;
    assert_eq!(r.status, 201);
    secret_of(&r, "client_secret", &mut secrets);
    secret_of(&r, "registration_access_token", &mut secrets);

    let statement = trust.statement(json!({"software_id": format!("logs-{tag}")}));
    secrets.push(statement.clone());
    let mut with_statement = web.clone();
    with_statement["software_statement"] = json!(statement);
    let r = send(TestRequest::new("POST", "/register").json(&with_statement)).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    secret_of(&r, "client_secret", &mut secrets);
    secret_of(&r, "registration_access_token", &mut secrets);

    let rogue = trust.statement(json!({"iss": "https://rogue.example.com"}));
    let mut tampered = trust.statement(json!({"software_id": format!("logs-{tag}-t")}));
    tampered.truncate(tampered.len() - 4);
    tampered.push_str("AAAA");
    for statement in [rogue, tampered] {
        secrets.push(statement.clone());
        let mut body = web.clone();
        body["software_statement"] = json!(statement);
        let r = send(TestRequest::new("POST", "/register").json(&body)).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    }
    let signed_request =
        trust.request_object("https://nowhere.example", "not.a.statement", json!({}));
    secrets.push(signed_request.clone());
    let r =
        send(TestRequest::new("POST", "/register").raw("application/jwt", signed_request)).await;
    assert_eq!(r.status, 400);

    let refused_secret = format!("Known refused secret {tag} with spaces 5d0a3f8e2c");
    secrets.push(refused_secret.clone());
    let body = json!({"client_id": format!("logs-{tag}-2"), "client_secret": refused_secret, "redirect_uris": ["https://app.example.com/cb"]});
    let r = send(TestRequest::new("POST", "/register").json(&body)).await;
    assert_eq!(r.status, 400);
    let bad = json!({"redirect_uris": ["https://app.example.com/cb#frag"], "contacts": [1]});
    let r = send(TestRequest::new("POST", "/register").json(&bad)).await;
    assert_eq!(r.status, 400);

    // Read: with the token, with a JWT access token, with a bad bearer token.
    let path = format!("/register/{client_id}");
    let r = send(TestRequest::new("GET", &path).bearer(&token)).await;
    assert_eq!(r.status, 200);
    let access_token = trust.access_token(&client_id, "dcr:register");
    secrets.push(access_token.clone());
    let r = send(TestRequest::new("GET", &path).bearer(&access_token)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let bad_bearer = format!("KnownBadBearerToken-{tag}-c41d8e0b9a7f62e3d5b1");
    secrets.push(bad_bearer.clone());
    let r = send(TestRequest::new("GET", &path).bearer(&bad_bearer)).await;
    assert_eq!(r.status, 401);
    let foreign_jwt = trust.access_token("someone-else", "dcr:register");
    secrets.push(foreign_jwt.clone());
    let r = send(TestRequest::new("DELETE", &path).bearer(&foreign_jwt)).await;
    assert_eq!(r.status, 401);

    // Update: a wrong client_secret in the body, then the right one (rotating the token).
    let wrong_secret = format!("KnownWrongSecret-{tag}-9e2b7a4c1f8d3e6a0b5c");
    secrets.push(wrong_secret.clone());
    let mut body = web.clone();
    body["client_secret"] = json!(wrong_secret);
    let r = send(TestRequest::new("PUT", &path).bearer(&token).json(&body)).await;
    assert_eq!(r.status, 400);
    body["client_secret"] = json!(chosen_secret);
    let r = send(TestRequest::new("PUT", &path).bearer(&token).json(&body)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let rotated = secret_of(&r, "registration_access_token", &mut secrets);
    assert_ne!(rotated, token, "rotate_on_update is configured");
    let r = send(TestRequest::new("PUT", &path).bearer(&token).json(&web)).await;
    assert_eq!(r.status, 401, "the old token died");

    // A public client turned confidential gets a new secret.
    let public_path = format!("/register/{public_id}");
    let r = send(
        TestRequest::new("PUT", &public_path)
            .bearer(&public_token)
            .json(&web),
    )
    .await;
    assert_eq!(r.status, 200);
    secret_of(&r, "client_secret", &mut secrets);
    let public_token = secret_of(&r, "registration_access_token", &mut secrets);

    // Delete, then the deleted client is gone.
    let r = send(TestRequest::new("DELETE", &public_path).bearer(&public_token)).await;
    assert_eq!(r.status, 204);
    let r = send(TestRequest::new("DELETE", &path).bearer(&rotated)).await;
    assert_eq!(r.status, 204);
    let r = send(TestRequest::new("GET", &path).bearer(&rotated)).await;
    assert_eq!(r.status, 401);

    // Discovery, a preflight, an unknown route.
    for p in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        assert_eq!(send(TestRequest::new("GET", p)).await.status, 200);
    }
    let r = send(TestRequest::new("OPTIONS", "/register")).await;
    assert_eq!(r.status, 204);
    let r = send(TestRequest::new("GET", "/nowhere").bearer(&bad_bearer)).await;
    assert_eq!(r.status, 404);

    Run {
        secrets,
        request_ids,
        client_id,
    }
}

fn config(trust: &Trust) -> String {
    trust.config(
        "registration_endpoint_authentication:\n  allow_custom_client_creds: true\n\
         registration_access_token:\n  rotate_on_update: true\n  rotation_grace: 0\n",
    )
}

/// The access lines of a run are there: proof that the capture works.
fn assert_access_lines(logs: &str, run: &Run, request_ids_logged: bool) {
    let access: Vec<&str> = logs.lines().filter(|l| l.contains("dcr::access")).collect();
    for (method, route, status) in [
        ("POST", "/register", 201),
        ("POST", "/register", 400),
        ("GET", "/register/{client_id}", 200),
        ("GET", "/register/{client_id}", 401),
        ("PUT", "/register/{client_id}", 200),
        ("PUT", "/register/{client_id}", 400),
        ("DELETE", "/register/{client_id}", 204),
        ("GET", "/.well-known", 200),
    ] {
        let text = format!("method={method} route=\"{route}\" status={status}");
        let json = format!("\"method\":\"{method}\",\"route\":\"{route}\",\"status\":{status}");
        assert!(
            access.iter().any(|l| l.contains(&text)),
            "no text access line {text}"
        );
        assert!(
            access.iter().any(|l| l.contains(&json)),
            "no JSON access line {json}"
        );
    }
    assert!(
        access
            .iter()
            .any(|l| l.contains(&format!("client_id=\"{}\"", run.client_id))),
        "the client id is logged"
    );
    assert!(access.iter().any(|l| l.contains("latency_ms")));
    if request_ids_logged {
        for id in &run.request_ids {
            assert!(
                access.iter().any(|l| l.contains(id.as_str())),
                "request id {id} not logged"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    capture();
    let trust = Trust::start().await;

    let local = LocalApp::spawn(&config(&trust)).await;
    let run = drive(&local, &trust, "local").await;
    drop(local);
    let captured = logs();
    assert_access_lines(&captured, &run, true);
    let leaked = leaks(&captured, &run.secrets);
    assert!(
        leaked.is_empty(),
        "secrets in the dcr-local logs: {leaked:#?}"
    );

    // The Lambda functions over DynamoDB and Secrets Manager (moto), when available.
    let Some(lambda) = LambdaApp::spawn(&config(&trust)).await else {
        eprintln!("note: moto is not running; the Lambda engine's logs were not checked");
        return;
    };
    let run = drive(&lambda, &trust, "lambda").await;
    let captured = logs();
    // API Gateway's request id (requestContext.requestId) wins over x-request-id.
    assert_access_lines(&captured, &run, false);
    let leaked = leaks(&captured, &run.secrets);
    assert!(leaked.is_empty(), "secrets in the Lambda logs: {leaked:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detector_catches_a_logged_secret() {
    capture();
    let secret = "ZZcanaryZZ-secret-QWERTYUIOPASDFGHJKLzxcv".to_owned();
    let token = "ZZcanaryZZ-token-MNBVCXZLKJHGFDSAPOIUytre".to_owned();
    assert!(leaks(&logs(), &[secret.clone(), token.clone()]).is_empty());
    // Logged on purpose, the way a careless handler would: whole, and cut.
    tracing::info!(target: "dcr::access", client_secret = %secret, "request");
    tracing::warn!(target: "dcr_http::response", "bad token …{}…", &token[5..30]);
    let leaked = leaks(&logs(), &[secret, token]);
    assert_eq!(
        leaked.len(),
        2,
        "the detector missed a logged secret: {leaked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_client_id_in_a_path_is_logged_cut() {
    capture();
    let local = LocalApp::spawn("").await;
    let long = format!("ZZlongidZZ{}", "q".repeat(10_000));
    let r = local
        .send(TestRequest::new("GET", &format!("/register/{long}")).bearer("some-token"))
        .await;
    assert_eq!(r.status, 401);
    let captured = logs();
    let line = captured
        .lines()
        .find(|l| l.contains("dcr::access") && l.contains("ZZlongidZZ"))
        .expect("the access line of the request");
    assert!(line.len() < 600, "an access line of {} bytes", line.len());
    assert!(line.contains("more bytes]"), "the cut is marked: {line}");
    assert!(
        !captured.contains(&"q".repeat(200)),
        "the whole id is logged"
    );
}
