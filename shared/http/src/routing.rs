//! Which of the service's routes (README, "Use it") a request is for, on either engine.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The operation of one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /register`.
    Register,
    /// `GET /register/{client_id}`.
    Read,
    /// `PUT /register/{client_id}`.
    Update,
    /// `DELETE /register/{client_id}`.
    Delete,
    /// The discovery documents (and CORS preflights).
    Metadata,
}

/// A request's route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Register,
    Client { id: String, op: Operation },
    Discovery,
    Preflight,
    MethodNotAllowed { allow: &'static str },
    NotFound,
}

impl Route {
    /// The operation whose function answers this route, if any.
    pub(crate) fn operation(&self) -> Option<Operation> {
        match self {
            Route::Register => Some(Operation::Register),
            Route::Client { op, .. } => Some(*op),
            Route::Discovery => Some(Operation::Metadata),
            _ => None,
        }
    }

    /// The route template, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Route::Register => "/register",
            Route::Client { .. } => "/register/{client_id}",
            Route::Discovery => "/.well-known",
            Route::Preflight => "preflight",
            Route::MethodNotAllowed { .. } => "method-not-allowed",
            Route::NotFound => "not-found",
        }
    }
}

const DISCOVERY: &[&str] = &[
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

/// The path without an API Gateway stage prefix (`/prod/register` → `/register`).
fn path_of(req: &Request) -> &str {
    let path = req.uri().path();
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(stage) = ctx.stage.as_deref()
        && stage != "$default"
        && let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage))
        && rest.starts_with('/')
    {
        return rest;
    }
    path
}

/// Routes a request by method and path.
pub(crate) fn route(req: &Request) -> Route {
    let method = req.method().as_str();
    let path = path_of(req);
    if path == "/register" {
        return match method {
            "POST" => Route::Register,
            "OPTIONS" => Route::Preflight,
            _ => Route::MethodNotAllowed {
                allow: "POST, OPTIONS",
            },
        };
    }
    if let Some(id) = path.strip_prefix("/register/") {
        if id.is_empty() || id.contains('/') {
            return Route::NotFound;
        }
        let op = match method {
            "GET" => Operation::Read,
            "PUT" => Operation::Update,
            "DELETE" => Operation::Delete,
            "OPTIONS" => return Route::Preflight,
            _ => {
                return Route::MethodNotAllowed {
                    allow: "GET, PUT, DELETE, OPTIONS",
                };
            }
        };
        return Route::Client {
            id: id.to_owned(),
            op,
        };
    }
    if DISCOVERY.contains(&path) {
        return match method {
            "GET" | "HEAD" => Route::Discovery,
            "OPTIONS" => Route::Preflight,
            _ => Route::MethodNotAllowed {
                allow: "GET, OPTIONS",
            },
        };
    }
    Route::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn req(method: &str, path: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn contract_routes() {
        assert_eq!(route(&req("POST", "/register")), Route::Register);
        assert_eq!(
            route(&req("GET", "/register/abc")),
            Route::Client {
                id: "abc".into(),
                op: Operation::Read
            }
        );
        assert_eq!(
            route(&req("PUT", "/register/abc")).operation(),
            Some(Operation::Update)
        );
        assert_eq!(
            route(&req("DELETE", "/register/abc")).operation(),
            Some(Operation::Delete)
        );
        assert_eq!(
            route(&req("GET", "/.well-known/openid-configuration")),
            Route::Discovery
        );
        assert_eq!(
            route(&req("GET", "/.well-known/oauth-authorization-server")),
            Route::Discovery
        );
        assert_eq!(route(&req("OPTIONS", "/register")), Route::Preflight);
    }

    #[test]
    fn other_routes() {
        assert_eq!(route(&req("GET", "/")), Route::NotFound);
        assert_eq!(route(&req("GET", "/register/")), Route::NotFound);
        assert_eq!(route(&req("GET", "/register/a/b")), Route::NotFound);
        assert!(matches!(
            route(&req("GET", "/register")),
            Route::MethodNotAllowed { .. }
        ));
        assert!(matches!(
            route(&req("PATCH", "/register/a")),
            Route::MethodNotAllowed { .. }
        ));
    }
}
