//! The Lambda engine: each function's real `App` (built by `dcr_lambda`
//! over DynamoDB and Secrets Manager on moto), fed API Gateway HTTP API (v2)
//! events parsed by `lambda_http` itself, routed the way the template routes.
//!
//! Each function runs as Lambda runs it: with the credentials of a role it
//! assumed, holding exactly its policy from template.yaml (intrinsics resolved
//! to this test's table and secret prefix). moto enforces those policies
//! (`scripts/moto_server.py`), so an action the code makes and the template
//! does not allow is an `AccessDenied`, and the function answers 500.

use std::collections::HashMap;

use base64::Engine as _;
use dcr_aws::permissions::{Function, Storage};
use dcr_aws::template::Template;
use dcr_aws::testing::MotoAws;
use dcr_http::{App, Operation};
use lambda_http::Body;
use serde_json::{Value, json};

use crate::{Engine, Spawner, TestRequest, TestResponse};

/// The host API Gateway would put in `Host`.
pub const API_HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";

/// One `App` per function, as in a deployment (each function its own container).
pub struct LambdaApp {
    functions: HashMap<&'static str, App>,
    _aws: MotoAws,
    /// Where hook functions are invoked (a stand-in of the Invoke API), if anywhere.
    lambda_endpoint: Option<String>,
}

/// The template's routes: (method, path template) → function.
const ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/register", "register"),
    ("GET", "/register/{client_id}", "get"),
    ("PUT", "/register/{client_id}", "update"),
    ("DELETE", "/register/{client_id}", "delete"),
    ("GET", "/.well-known/oauth-authorization-server", "metadata"),
    ("GET", "/.well-known/openid-configuration", "metadata"),
    ("OPTIONS", "/register", "metadata"),
    ("OPTIONS", "/register/{client_id}", "metadata"),
];

/// The operation each function was built for.
fn operation(function: &str) -> Operation {
    match function {
        "register" => Operation::Register,
        "get" => Operation::Read,
        "update" => Operation::Update,
        "delete" => Operation::Delete,
        _ => Operation::Metadata,
    }
}

/// The template's function behind each of the engine's functions.
fn template_function(function: &str) -> Function {
    match function {
        "register" => Function::Register,
        "get" => Function::Get,
        "update" => Function::Update,
        "delete" => Function::Delete,
        "authenticate" => Function::Authenticate,
        _ => Function::Metadata,
    }
}

/// Changes a function's policy documents before its role gets them (a test
/// removes a grant to see what the code does without it).
pub type PolicyEdit = dyn Fn(Function, &mut Vec<Value>) + Send + Sync;

/// Matches like API Gateway: exact route, else `$default` (the metadata function).
fn match_route(method: &str, path: &str) -> (String, &'static str, Option<String>) {
    for (m, template, function) in ROUTES {
        if *m != method {
            continue;
        }
        if let Some(prefix) = template.strip_suffix("{client_id}") {
            if let Some(id) = path.strip_prefix(prefix)
                && !id.is_empty()
                && !id.contains('/')
            {
                return (format!("{m} {template}"), function, Some(id.to_owned()));
            }
        } else if path == *template {
            return (format!("{m} {template}"), function, None);
        }
    }
    ("$default".into(), "metadata", None)
}

impl LambdaApp {
    /// Fresh table and secret prefix on moto, each function under a role with
    /// exactly its template policy; `None` when moto is not running.
    pub async fn spawn(config_yaml: &str) -> Option<Self> {
        Self::spawn_with(config_yaml, &|_, _| {}).await
    }

    /// As [`LambdaApp::spawn`], with `edit` applied to each function's policies.
    pub async fn spawn_with(config_yaml: &str, edit: &PolicyEdit) -> Option<Self> {
        Self::spawn_in(Storage::SecretsManager, config_yaml, edit).await
    }

    /// As [`LambdaApp::spawn_with`], with client secrets stored as `storage`
    /// says (the template's `ClientSecretStorage`; `sealed` makes a key ring).
    pub async fn spawn_in(storage: Storage, config_yaml: &str, edit: &PolicyEdit) -> Option<Self> {
        Self::spawn_inner(storage, config_yaml, edit, None).await
    }

    /// As [`LambdaApp::spawn`], with hook functions invoked at `lambda_endpoint`
    /// (`dcr_tests::hooks::HookServer`'s stand-in of Lambda's Invoke API), as
    /// the role the template gives each function allows.
    pub async fn spawn_with_hooks(config_yaml: &str, lambda_endpoint: &str) -> Option<Self> {
        Self::spawn_inner(
            Storage::SecretsManager,
            config_yaml,
            &|_, _| {},
            Some(lambda_endpoint.to_owned()),
        )
        .await
    }

    /// A redeployment with another configuration: new functions, same table
    /// and secrets (a configuration change goes out this way on AWS).
    pub async fn redeploy(&mut self, config_yaml: &str) {
        let endpoint = self.lambda_endpoint.clone();
        let fresh = Self::functions(&self._aws, config_yaml, &|_, _| {}, endpoint.as_deref()).await;
        self.functions = fresh;
    }

    async fn spawn_inner(
        storage: Storage,
        config_yaml: &str,
        edit: &PolicyEdit,
        lambda_endpoint: Option<String>,
    ) -> Option<Self> {
        let aws = MotoAws::from_env().await?;
        let aws = match storage {
            Storage::SecretsManager => aws,
            Storage::Sealed => aws.sealed().await.unwrap(),
        };
        let functions = Self::functions(&aws, config_yaml, edit, lambda_endpoint.as_deref()).await;
        Some(Self {
            functions,
            _aws: aws,
            lambda_endpoint,
        })
    }

    /// Each function's app on `aws`, under its template role.
    async fn functions(
        aws: &MotoAws,
        config_yaml: &str,
        edit: &PolicyEdit,
        lambda_endpoint: Option<&str>,
    ) -> HashMap<&'static str, App> {
        let template = Template::load().unwrap();
        let mut deployment = aws.deployment();
        let config = dcr_core::Config::from_yaml(config_yaml).unwrap();
        // A hook function, granted through its template parameter as an operator would.
        for (parameter, hook) in [
            ("PreRegistrationHookArn", &config.hooks.pre_registration),
            ("PreUpdateHookArn", &config.hooks.pre_update),
        ] {
            if let Some(function) = &hook.function {
                let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
                deployment = deployment.with(parameter, &arn);
            }
        }
        // The introspection client's secret, when the configuration needs one,
        // stored as an operator would and granted through the template parameter.
        let needs_secret = dcr_core::Config::from_yaml(config_yaml)
            .unwrap()
            .bearer_token
            .introspection_endpoint
            .is_some();
        let introspection = if needs_secret {
            let arn = aws
                .store_introspection_secret(crate::INTROSPECTION_CLIENT_SECRET)
                .await
                .unwrap();
            deployment = deployment.with("IntrospectionSecretArn", &arn);
            Some(arn)
        } else {
            None
        };
        let mut functions = HashMap::new();
        for name in [
            "register",
            "get",
            "update",
            "delete",
            "metadata",
            "authenticate",
        ] {
            let config = dcr_core::Config::from_yaml(config_yaml).unwrap();
            let function = template_function(name);
            let mut policies = template.policies(function, &deployment).unwrap();
            edit(function, &mut policies);
            // As `run` starts them: only the API's management functions check tokens.
            let secret_id = introspection
                .as_deref()
                .filter(|_| function.authenticates_tokens());
            let app = match lambda_endpoint {
                Some(endpoint) => {
                    dcr_lambda::testing::app_as_with_lambda(aws, name, &policies, config, endpoint)
                        .await
                }
                None => dcr_lambda::testing::app_as(aws, name, &policies, config, secret_id).await,
            }
            .unwrap_or_else(|e| panic!("{name}'s role on moto: {e:#}"));
            functions.insert(name, app);
        }
        functions
    }

    /// The API Gateway v2 event for a request.
    fn event(request: &TestRequest) -> (Value, &'static str) {
        let (path, query) = match request.path.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (request.path.clone(), String::new()),
        };
        let (route_key, function, client_id) = match_route(&request.method, &path);
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!(API_HOST));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        headers.insert("x-forwarded-for".into(), json!("127.0.0.1"));
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            let joined = match headers.get(&name).and_then(Value::as_str) {
                Some(old) => format!("{old},{value}"),
                None => value.clone(),
            };
            headers.insert(name, json!(joined));
        }
        let content_type = headers
            .get("content-type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let textual =
            content_type.starts_with("application/json") || content_type.starts_with("text/");
        let (body, encoded) = if request.body.is_empty() {
            (Value::Null, false)
        } else if textual && std::str::from_utf8(&request.body).is_ok() {
            (json!(String::from_utf8_lossy(&request.body)), false)
        } else {
            (
                json!(base64::engine::general_purpose::STANDARD.encode(&request.body)),
                true,
            )
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": API_HOST,
                "domainPrefix": "abc123",
                "http": {
                    "method": request.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "dcr-tests"
                },
                "requestId": crate::local::unique_request_id(),
                "routeKey": route_key,
                "stage": "$default",
                "time": "23/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1_795_392_000_000i64
            },
            "isBase64Encoded": encoded,
        });
        if !body.is_null() {
            event["body"] = body;
        }
        if let Some(id) = client_id {
            event["pathParameters"] = json!({"client_id": id});
        }
        if let Some(subject) = &request.client_cert {
            event["requestContext"]["authentication"] = json!({"clientCert": {
                "clientCertPem": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----",
                "subjectDN": subject,
                "issuerDN": "CN=Test CA",
                "serialNumber": "1",
                "validity": {"notBefore": "Jan 1 00:00:00 2026 GMT", "notAfter": "Jan 1 00:00:00 2030 GMT"}
            }});
        }
        (event, function)
    }
}

impl LambdaApp {
    /// This engine's slice of moto: table, prefix, key ring.
    pub fn aws(&self) -> &MotoAws {
        &self._aws
    }

    /// Invokes `authenticate-client` as an authorization server would (its
    /// payload in, its answer out), under the function's own role.
    pub async fn authenticate(&self, payload: Value) -> Value {
        dcr_lambda::authenticate::handle(self.functions["authenticate"].service(), payload).await
    }

    /// Invokes the function API Gateway routes an HTTP API (payload 2.0) event
    /// to (by its `routeKey`), as `sam local invoke` would, and returns its answer.
    pub async fn invoke(&self, event: &str) -> TestResponse {
        let parsed: Value = serde_json::from_str(event).expect("an event is JSON");
        let route_key = parsed["routeKey"]
            .as_str()
            .expect("an event has a routeKey");
        let function = ROUTES
            .iter()
            .find(|(m, path, _)| format!("{m} {path}") == route_key)
            .map_or("metadata", |(_, _, f)| f);
        self.call(function, event).await
    }

    async fn call(&self, function: &'static str, event: &str) -> TestResponse {
        let req = lambda_http::request::from_str(event).expect("a valid API Gateway v2 event");
        let app = &self.functions[function];
        let response = app.handle_for(operation(function), req).await;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = match response.into_body() {
            Body::Text(s) => s.into_bytes(),
            Body::Binary(b) => b,
            _ => Vec::new(),
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

#[async_trait::async_trait]
impl Engine for LambdaApp {
    async fn send(&self, request: TestRequest) -> TestResponse {
        let (event, function) = Self::event(&request);
        self.call(function, &event.to_string()).await
    }

    fn issuer(&self) -> String {
        format!("https://{API_HOST}")
    }

    fn has_mtls(&self) -> bool {
        true
    }
}

/// The Lambda engine (needs moto: `DCR_TEST_MOTO_ENDPOINT`, set by scripts/test.sh).
pub struct Lambda;

#[async_trait::async_trait]
impl Spawner for Lambda {
    async fn spawn(&self, config_yaml: &str) -> Option<Box<dyn Engine>> {
        let app = LambdaApp::spawn(config_yaml).await?;
        Some(Box::new(app))
    }
}

/// The Lambda engine with `ClientSecretStorage: sealed`: client secrets sealed
/// in the table under a key ring, each function under its sealed-mode policy.
pub struct LambdaSealed;

#[async_trait::async_trait]
impl Spawner for LambdaSealed {
    async fn spawn(&self, config_yaml: &str) -> Option<Box<dyn Engine>> {
        let app = LambdaApp::spawn_in(Storage::Sealed, config_yaml, &|_, _| {}).await?;
        Some(Box::new(app))
    }
}
