//! CORS from `cors_allowed_origins`, answered by the application on both engines.

use http::HeaderValue;
use lambda_http::{Body, Request, Response};

use crate::routing::Route;

/// The request's `Origin`, if any.
pub(crate) fn origin(req: &Request) -> Option<String> {
    req.headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Adds the CORS headers an allowed origin gets.
pub(crate) fn decorate(
    allowed: &[String],
    origin: Option<&str>,
    route: &Route,
    response: &mut Response<Body>,
) {
    let headers = response.headers_mut();
    if !allowed.is_empty() {
        headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
    }
    let Some(origin) = origin else { return };
    let value = if allowed.iter().any(|a| a == "*") {
        HeaderValue::from_static("*")
    } else if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        match HeaderValue::from_str(origin) {
            Ok(v) => v,
            Err(_) => return,
        }
    } else {
        return;
    };
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if *route == Route::Preflight {
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    } else {
        headers.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
    }
}
