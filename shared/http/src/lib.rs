//! HTTP layer: turns `lambda_http` requests into use-case calls and every outcome
//! into its RFC response. The Lambda functions and `dcr-local` both call
//! [`App`], so the two engines answer byte for byte alike.

mod cors;
mod discovery;
pub mod logs;
mod request;
mod response;
mod routing;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use dcr_core::{ClientId, Config, Introspector, Ports, RegisterRequest, Service, UpdateRequest};
use lambda_http::{Body, Request, Response};

pub use request::MAX_BODY_BYTES;
pub use response::{Refusal, refusal};
pub use routing::Operation;

use request::{caller_of, issuer_of, read_metadata, single_authorization};
use response::Reply;
use routing::Route;

/// Told of every answered request: the operation, the status and the RFC
/// error code of a refusal. The Lambda wiring turns it into metrics; an app
/// without one (dcr-local) tells no one.
pub trait Observer: Send + Sync {
    /// One request was answered. `operation` is `register`, `read`, `update`,
    /// `delete`, `metadata`, or the route name of an unmatched request;
    /// `error` is the `error` member of an error body.
    fn answered(&self, operation: &str, status: u16, error: Option<&str>);
}

/// Most characters of a `client_id` an access log line carries: a path segment
/// can be as long as the request line, so a longer one (never a real id, which
/// is at most 128 characters) is cut, with a marker giving what was left out.
pub const MAX_LOGGED_ID_CHARS: usize = 128;

/// `id` as the access log records it: whole, or cut after [`MAX_LOGGED_ID_CHARS`].
fn logged_id(id: &str) -> Cow<'_, str> {
    match id.char_indices().nth(MAX_LOGGED_ID_CHARS) {
        None => Cow::Borrowed(id),
        Some((cut, _)) => Cow::Owned(format!("{}...[{} more bytes]", &id[..cut], id.len() - cut)),
    }
}

/// The HTTP application: configuration and service, shared by every request.
pub struct App {
    service: Service,
    config: Arc<Config>,
    observer: Option<Arc<dyn Observer>>,
}

impl App {
    /// An app over the service's ports.
    pub fn new(config: Config, ports: Ports) -> Self {
        let config = Arc::new(config);
        let service = Service::new(config.clone(), ports);
        Self {
            service,
            config,
            observer: None,
        }
    }

    /// The same app, telling `observer` of every answered request.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Adds the RFC 7662 endpoint checking bearer tokens that are not JWTs.
    pub fn with_introspector(mut self, introspector: Arc<dyn Introspector>) -> Self {
        self.service = self.service.with_introspector(introspector);
        self
    }

    /// Adds the caller of hooks configured with a `url` (docs/hooks.md).
    pub fn with_url_hooks(mut self, caller: Arc<dyn dcr_core::HookCaller>) -> Self {
        self.service = self.service.with_url_hooks(caller);
        self
    }

    /// Adds the caller of hooks configured with a Lambda `function` (docs/hooks.md).
    pub fn with_function_hooks(mut self, caller: Arc<dyn dcr_core::HookCaller>) -> Self {
        self.service = self.service.with_function_hooks(caller);
        self
    }

    /// The service behind the app (for the sweep).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Answers any of the service's routes (the local server's entry point).
    pub async fn handle(&self, req: Request) -> Response<Body> {
        self.dispatch(None, req).await
    }

    /// Answers a request that API Gateway routed to the function of `op`; other
    /// routes get `404`, preflights are answered by every function.
    pub async fn handle_for(&self, op: Operation, req: Request) -> Response<Body> {
        self.dispatch(Some(op), req).await
    }

    async fn dispatch(&self, only: Option<Operation>, req: Request) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let route = routing::route(&req);
        let origin = cors::origin(&req);
        let request_id = request::request_id(&req);
        let allowed = match (only, route.operation()) {
            (Some(op), Some(actual)) => op == actual,
            _ => true,
        };
        let (reply, client_id) = if allowed {
            self.answer(&route, req).await
        } else {
            (Reply::not_found(), None)
        };
        if let Some(observer) = &self.observer {
            let operation = match route.operation() {
                Some(Operation::Register) => "register",
                Some(Operation::Read) => "read",
                Some(Operation::Update) => "update",
                Some(Operation::Delete) => "delete",
                Some(Operation::Metadata) => "metadata",
                None => route.name(),
            };
            observer.answered(operation, reply.status(), reply.error_code());
        }
        let mut response = reply.into_response();
        cors::decorate(
            &self.config.cors_allowed_origins,
            origin.as_deref(),
            &route,
            &mut response,
        );
        tracing::info!(
            target: "dcr::access",
            method = %method,
            route = route.name(),
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            request_id = request_id.as_deref().unwrap_or("-"),
            client_id = client_id.as_deref().map_or(Cow::Borrowed("-"), logged_id).as_ref(),
            "request"
        );
        response
    }

    async fn answer(&self, route: &Route, req: Request) -> (Reply, Option<String>) {
        match route {
            Route::Register => {
                let reply = self.register(req).await;
                let id = reply.client_id();
                (reply, id)
            }
            Route::Client { id, .. } => {
                let reply = self.manage(id, req).await;
                (reply, Some(id.clone()))
            }
            Route::Discovery => (
                Reply::json_public(discovery::document(
                    &self.config,
                    &issuer_of(&self.config, &req),
                )),
                None,
            ),
            Route::Preflight => (Reply::no_content(), None),
            Route::MethodNotAllowed { allow } => (Reply::method_not_allowed(allow), None),
            Route::NotFound => (Reply::not_found(), None),
        }
    }

    async fn register(&self, req: Request) -> Reply {
        if let Err(e) = single_authorization(&req) {
            return Reply::from(e);
        }
        let issuer = issuer_of(&self.config, &req);
        let caller = caller_of(&req);
        let body = match read_metadata(req) {
            Ok(body) => body,
            Err(e) => return Reply::from(e),
        };
        let request = RegisterRequest {
            body,
            caller,
            issuer,
        };
        match self.service.register(request).await {
            Ok(info) => Reply::client_info(201, info),
            Err(e) => Reply::from(e),
        }
    }

    async fn manage(&self, client_id: &str, req: Request) -> Reply {
        if let Err(e) = single_authorization(&req) {
            return Reply::from(e);
        }
        let issuer = issuer_of(&self.config, &req);
        let caller = caller_of(&req);
        // A path that cannot be a client id names no client: answered as an unknown one.
        let client_id = ClientId::parse(client_id).ok();
        match req.method().as_str() {
            "GET" => match self
                .service
                .read(client_id.as_ref(), &caller, &issuer)
                .await
            {
                Ok(info) => Reply::client_info(200, info),
                Err(e) => Reply::from(e),
            },
            "PUT" => {
                // Body errors (413, 415, 400) come before authentication: they
                // depend on the request alone, so they reveal nothing about clients.
                let body = match read_metadata(req) {
                    Ok(body) => body,
                    Err(e) => return Reply::from(e),
                };
                let request = UpdateRequest {
                    client_id,
                    caller,
                    body,
                    issuer,
                };
                match self.service.update(request).await {
                    Ok(info) => Reply::client_info(200, info),
                    Err(e) => Reply::from(e),
                }
            }
            "DELETE" => match self.service.delete(client_id.as_ref(), &caller).await {
                Ok(()) => Reply::deleted(),
                Err(e) => Reply::from(e),
            },
            _ => Reply::method_not_allowed("GET, PUT, DELETE, OPTIONS"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcr_core::testing::memory::memory_ports;
    use dcr_core::{ClientRecord, ClientStore, StoreError};

    /// A client store whose backend is down, with a cause that names internals.
    struct Down;

    fn down() -> StoreError {
        StoreError::Unknown(anyhow::anyhow!(
            "DynamoDB table dcr-prod-clients: AccessDeniedException arn:aws:iam::123:role/x"
        ))
    }

    #[async_trait::async_trait]
    impl ClientStore for Down {
        async fn insert(&self, _: &ClientRecord) -> Result<(), StoreError> {
            Err(down())
        }
        async fn get(&self, _: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
            Err(down())
        }
        async fn replace(&self, _: &ClientRecord, _: u64) -> Result<(), StoreError> {
            Err(down())
        }
        async fn delete(&self, _: &ClientId, _: u64) -> Result<(), StoreError> {
            Err(down())
        }
        async fn find_by_software_id(&self, _: &str) -> Result<Vec<ClientId>, StoreError> {
            Err(down())
        }
        async fn list_due(&self, _: i64, _: usize) -> Result<Vec<ClientRecord>, StoreError> {
            Err(down())
        }
        async fn remember_once(&self, _: &str, _: i64) -> Result<bool, StoreError> {
            Err(down())
        }
    }

    fn request(method: &str, path: &str, body: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", "Bearer some-token")
            .body(lambda_http::Body::Text(body.into()))
            .unwrap()
    }

    #[test]
    fn long_client_ids_are_cut_in_the_log() {
        let real = "A".repeat(MAX_LOGGED_ID_CHARS);
        assert_eq!(logged_id(&real), real.as_str());
        let long = format!("{real}é{}", "x".repeat(60_000));
        let logged = logged_id(&long);
        assert_eq!(
            logged,
            format!("{real}...[{} more bytes]", long.len() - real.len())
        );
        assert!(logged.len() < 200);
    }

    /// A path that cannot be a client id is answered exactly as an unknown
    /// client (RFC 7592 §2: 401 `invalid_token`), never as a 4xx of its own
    /// that would tell a prober which ids are well formed.
    #[tokio::test]
    async fn a_path_that_cannot_be_a_client_id_is_an_unknown_client() {
        let app = App::new(Config::default(), memory_ports());
        let body = r#"{"redirect_uris": ["https://app.example.com/cb"]}"#;
        let answer = |response: Response<Body>| {
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
            (response.status(), challenge, text)
        };
        let too_long = "b".repeat(129);
        for method in ["GET", "PUT", "DELETE"] {
            let unknown = answer(
                app.handle(request(method, "/register/unknown-client", body))
                    .await,
            );
            assert_eq!(unknown.0, 401, "{method}: {unknown:?}");
            for id in ["once%23k", "a%20b", "...", too_long.as_str()] {
                let path = format!("/register/{id}");
                let got = answer(app.handle(request(method, &path, body)).await);
                assert_eq!(got, unknown, "{method} {path}");
            }
        }
    }

    #[tokio::test]
    async fn backend_failures_are_opaque_500s() {
        let app = App::new(
            Config::default(),
            Ports {
                clients: Arc::new(Down),
                ..memory_ports()
            },
        );
        let body = r#"{"redirect_uris": ["https://app.example.com/cb"]}"#;
        for (method, path) in [
            ("POST", "/register"),
            ("GET", "/register/abc"),
            ("PUT", "/register/abc"),
            ("DELETE", "/register/abc"),
        ] {
            let response = app.handle(request(method, path, body)).await;
            assert_eq!(response.status(), 500, "{method} {path}");
            let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json["error"], "server_error");
            for leak in [
                "DynamoDB",
                "dcr-prod-clients",
                "arn:aws",
                "AccessDenied",
                "some-token",
            ] {
                assert!(!text.contains(leak), "{method} {path} leaks {leak}: {text}");
            }
        }
    }
}
