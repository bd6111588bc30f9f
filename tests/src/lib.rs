//! Test support for the black-box suite: start the service on an engine, send
//! it requests, read the answers. The same cases run on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod hooks;
pub mod introspection;
pub mod lambda;
pub mod local;
pub mod trust;

use serde_json::Value;

/// The secret both engines give the introspection client in tests (from the
/// environment on `dcr-local`, from Secrets Manager on the Lambda functions).
pub const INTROSPECTION_CLIENT_SECRET: &str = "introspection-test-secret";

/// A request as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The subject DN of a client certificate API Gateway verified (Lambda engine only).
    pub client_cert: Option<String>,
}

impl TestRequest {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        let mut r = self.header("content-type", "application/json");
        r.body = serde_json::to_vec(body).unwrap();
        r
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self = self.header("content-type", content_type);
        self.body = body.into();
        self
    }

    pub fn client_cert(mut self, subject_dn: &str) -> Self {
        self.client_cert = Some(subject_dn.into());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }
}

/// A response as a client sees it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn str(&self, key: &str) -> String {
        self.json()
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string {key} in {}", String::from_utf8_lossy(&self.body)))
            .to_owned()
    }

    /// Asserts an RFC error response.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["error"], code, "body: {body}");
        assert!(body["error_description"].is_string(), "body: {body}");
    }
}

/// Something that answers requests: a running `dcr-local`, or the Lambda
/// functions behind a simulated API Gateway.
#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// Sends one request.
    async fn send(&self, request: TestRequest) -> TestResponse;
    /// The issuer the engine's responses use.
    fn issuer(&self) -> String;
    /// Whether requests can carry a verified client certificate (API Gateway mTLS).
    fn has_mtls(&self) -> bool {
        false
    }
}

/// Starts engines of one kind with a given configuration.
#[async_trait::async_trait]
pub trait Spawner: Sync {
    /// A fresh engine (fresh store) with this YAML configuration; `None` when the
    /// engine is not available here (and the run is not CI).
    async fn spawn(&self, config_yaml: &str) -> Option<Box<dyn Engine>>;
}

/// The local engine.
pub struct Local;

#[async_trait::async_trait]
impl Spawner for Local {
    async fn spawn(&self, config_yaml: &str) -> Option<Box<dyn Engine>> {
        Some(Box::new(local::LocalApp::spawn(config_yaml).await))
    }
}

/// `POST /register` of a JSON body, with `Authorization: Bearer token` when given.
pub async fn post_json(app: &dyn Engine, body: &Value, token: Option<&str>) -> TestResponse {
    let mut req = TestRequest::new("POST", "/register").json(body);
    if let Some(t) = token {
        req = req.bearer(t);
    }
    app.send(req).await
}

/// Asserts a `201 Created` and returns the client information.
pub fn created(r: &TestResponse) -> Value {
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}
