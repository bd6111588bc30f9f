//! Hooks and templatized clients on both engines: every hook outcome
//! (accept, change, an invalid change, reject, time out, fail, nonsense) on
//! registration and update, the example issuer-check hook, and a template
//! change showing in an existing instance's next read. On `dcr-local` hooks
//! are URLs; on the Lambda engine they are functions, invoked by the SDK's
//! Lambda client at a stand-in of the Invoke API (`dcr_tests::hooks`).

use dcr_tests::hooks::HookServer;
use dcr_tests::lambda::LambdaApp;
use dcr_tests::local::LocalApp;
use dcr_tests::trust::{DIRECTORY_ISS, Trust, unique};
use dcr_tests::{Engine, TestRequest, TestResponse, created, post_json};
use serde_json::{Value, json};

/// Which engine a case runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Local,
    Lambda,
}

/// A running deployment whose configuration can change.
enum Deployed {
    Local(LocalApp),
    Lambda(Box<LambdaApp>),
}

impl Deployed {
    /// `None`: the Lambda engine is not available here.
    async fn start(kind: Kind, config: &str, hooks: &HookServer) -> Option<Self> {
        match kind {
            Kind::Local => Some(Deployed::Local(LocalApp::spawn(config).await)),
            Kind::Lambda => LambdaApp::spawn_with_hooks(config, &hooks.lambda_endpoint())
                .await
                .map(|app| Deployed::Lambda(Box::new(app))),
        }
    }

    /// The same data under another configuration: a restart, a redeployment.
    async fn reconfigure(self, config: &str) -> Self {
        match self {
            Deployed::Local(app) => Deployed::Local(app.restart_with(config).await),
            Deployed::Lambda(mut app) => {
                app.redeploy(config).await;
                Deployed::Lambda(app)
            }
        }
    }

    fn engine(&self) -> &dyn Engine {
        match self {
            Deployed::Local(app) => app,
            Deployed::Lambda(app) => app.as_ref(),
        }
    }
}

/// `hooks.{point}` running hook `name`: a URL locally, a function on Lambda.
fn hook(kind: Kind, hooks: &HookServer, point: &str, name: &str) -> String {
    let at = match kind {
        Kind::Local => format!("url: {}", hooks.url(name)),
        Kind::Lambda => format!("function: {name}"),
    };
    format!("allow_loopback_http: true\nhooks:\n  {point}:\n    {at}\n    timeout_ms: 500\n")
}

fn client(name: &str) -> Value {
    json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "client_name": name,
        "logo_uri": "https://app.example.com/logo.png",
    })
}

fn get(id: &str, token: &str) -> TestRequest {
    TestRequest::new("GET", &format!("/register/{id}")).bearer(token)
}

async fn put(app: &dyn Engine, info: &Value, changes: Value) -> TestResponse {
    let mut body = info.clone();
    for key in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret",
    ] {
        body.as_object_mut().unwrap().remove(key);
    }
    dcr_tests::trust::merge(&mut body, changes);
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    app.send(
        TestRequest::new("PUT", &format!("/register/{id}"))
            .bearer(token)
            .json(&body),
    )
    .await
}

/// A failed hook is a 503 with a JSON error, never a 400 or a 500.
fn assert_unavailable(r: &TestResponse) {
    r.assert_error(503, "temporarily_unavailable");
}

pub async fn hooks_decide_registrations(kind: Kind) {
    let hooks = HookServer::start().await;
    let config = hook(kind, &hooks, "pre_registration", "by-client-name");
    let Some(deployed) = Deployed::start(kind, &config, &hooks).await else {
        return;
    };
    let app = deployed.engine();
    // Accept: registered as asked; the hook saw the request as validated.
    let info = created(&post_json(app, &client("accept"), None).await);
    assert_eq!(info["client_name"], "accept");
    let (name, seen) = hooks.received().pop().unwrap();
    assert!(name == "by-client-name", "{name}");
    assert_eq!(seen["version"], 1);
    assert_eq!(seen["operation"], "register");
    assert_eq!(seen["client_id"], Value::Null);
    assert_eq!(
        seen["metadata"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(seen["caller"]["authenticated_by"], "none");
    assert!(!seen.to_string().contains("client_secret\""), "{seen}");
    // Change: set and remove, and what was stored is what reads return.
    let info = created(&post_json(app, &client("change"), None).await);
    assert_eq!(info["client_name"], "Set By Hook");
    assert!(info.get("logo_uri").is_none(), "{info}");
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let read = app.send(get(id, token)).await.json();
    assert_eq!(read["client_name"], "Set By Hook");
    // A change that breaks a rule: validated again, refused.
    post_json(app, &client("invalid"), None)
        .await
        .assert_error(400, "invalid_client_metadata");
    // Reject: the hook's code and description reach the client.
    let r = post_json(app, &client("reject"), None).await;
    r.assert_error(400, "invalid_redirect_uri");
    assert_eq!(
        r.json()["error_description"],
        "redirect URIs must be on the partner's domain"
    );
    // Time out, fail, nonsense: fail closed.
    for outcome in ["hang", "fail", "nonsense"] {
        assert_unavailable(&post_json(app, &client(outcome), None).await);
    }
}

pub async fn hooks_decide_updates(kind: Kind) {
    let hooks = HookServer::start().await;
    let config = hook(kind, &hooks, "pre_update", "by-client-name");
    let Some(deployed) = Deployed::start(kind, &config, &hooks).await else {
        return;
    };
    let app = deployed.engine();
    let info = created(&post_json(app, &client("before"), None).await);
    assert!(
        hooks.received().is_empty(),
        "no pre_registration hook is configured"
    );
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let unchanged = |r: Value| assert_eq!(r["client_name"], "before", "{r}");
    // Reject, time out, fail: nothing changed.
    put(app, &info, json!({"client_name": "reject"}))
        .await
        .assert_error(400, "invalid_redirect_uri");
    unchanged(app.send(get(id, token)).await.json());
    for outcome in ["hang", "fail", "nonsense"] {
        assert_unavailable(&put(app, &info, json!({"client_name": outcome})).await);
        unchanged(app.send(get(id, token)).await.json());
    }
    put(app, &info, json!({"client_name": "invalid"}))
        .await
        .assert_error(400, "invalid_client_metadata");
    // The hook is told which client, its current metadata and the caller.
    let (_, seen) = hooks.received().pop().unwrap();
    assert_eq!(seen["operation"], "update");
    assert_eq!(seen["client_id"], id);
    assert_eq!(seen["current_metadata"]["client_name"], "before");
    assert_eq!(
        seen["caller"]["authenticated_by"],
        "registration_access_token"
    );
    // Change and accept.
    let r = put(app, &info, json!({"client_name": "change"})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["client_name"], "Set By Hook");
    let r = put(app, &info, json!({"client_name": "accept"})).await;
    assert_eq!(r.json()["client_name"], "accept");
    assert_eq!(
        app.send(get(id, token)).await.json()["client_name"],
        "accept"
    );
}

pub async fn example_issuer_check_hook(kind: Kind) {
    let trust = Trust::start().await;
    let hooks = HookServer::start().await;
    // The statement issuer is the hook's to check, as in IBM's sample.
    let base = trust
        .config("")
        .replace(&format!("  issuer: {DIRECTORY_ISS}\n"), "");
    // Locally the example's own HTTP server; on Lambda its rule, invoked through the SDK.
    let example = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let example_url = format!("http://{}/", example.local_addr().unwrap());
    let serving = tokio::spawn(dcr_hook_issuer_check::serve(example));
    let at = match kind {
        Kind::Local => format!("url: {example_url}"),
        Kind::Lambda => "function: issuer-check".to_owned(),
    };
    let config = format!("{base}hooks:\n  pre_registration:\n    {at}\n");
    let Some(deployed) = Deployed::start(kind, &config, &hooks).await else {
        serving.abort();
        return;
    };
    let app = deployed.engine();
    let statement = |iss: &str| json!({"software_statement": trust.statement(json!({"iss": iss, "software_id": unique("sw")}))});
    created(&post_json(app, &statement("http://openbankingdirectory.com"), None).await);
    let r = post_json(app, &statement(DIRECTORY_ISS), None).await;
    r.assert_error(400, "invalid_client_metadata");
    assert_eq!(
        r.json()["error_description"],
        "Unexpected software statement issuer."
    );
    // No statement: nothing to check.
    created(&post_json(app, &client("no statement"), None).await);
    serving.abort();
}

pub async fn template_change_shows_in_the_next_read(kind: Kind) {
    let trust = Trust::start().await;
    let hooks = HookServer::start().await;
    let template = |scope: &str| {
        trust.config(&format!(
            "templates:\n  mobile-app:\n    redirect_uris: [\"com.example.app:/callback\"]\n    application_type: native\n    scope: {scope}\n"
        ))
    };
    let Some(deployed) = Deployed::start(kind, &template("openid profile"), &hooks).await else {
        return;
    };
    let app = deployed.engine();
    let request = json!({"software_id": "mobile-app"});
    // An initial access token is required (RFC 6750 §3.1: a bare challenge without one).
    let r = post_json(app, &request, None).await;
    r.assert_error(401, "invalid_token");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let iat = trust.access_token("device-onboarding", "dcr:register");
    let info = created(&post_json(app, &request, Some(&iat)).await);
    assert_eq!(info["scope"], "openid profile");
    assert_eq!(info["redirect_uris"], json!(["com.example.app:/callback"]));
    assert!(info["client_secret"].is_string());
    let other = created(&post_json(app, &request, Some(&iat)).await);
    assert_ne!(other["client_id"], info["client_id"]);
    // An instance may not change a templated field; sending it back unchanged is fine.
    put(app, &info, json!({"scope": "openid admin"}))
        .await
        .assert_error(400, "invalid_client_metadata");
    let r = put(app, &info, json!({"client_name": "Device 1"})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // The template changes: the next read of an existing instance shows it.
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let deployed = deployed
        .reconfigure(&template("openid profile email"))
        .await;
    let app = deployed.engine();
    let read = app.send(get(id, token)).await.json();
    assert_eq!(read["scope"], "openid profile email", "{read}");
    assert_eq!(read["client_name"], "Device 1");
    // The template is gone: its instances are disabled, as unknown as any.
    let deployed = deployed.reconfigure(&trust.config("")).await;
    let app = deployed.engine();
    app.send(get(id, token))
        .await
        .assert_error(401, "invalid_token");
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod local_hooks {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::Local).await;
                }
            )*
        }
        mod lambda_hooks {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::Lambda).await;
                }
            )*
        }
    };
}

on_both!(
    hooks_decide_registrations,
    hooks_decide_updates,
    example_issuer_check_hook,
    template_change_shows_in_the_next_read,
);
