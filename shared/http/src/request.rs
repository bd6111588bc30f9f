//! Reading a request: body, media type, bearer token, issuer, request id.

use dcr_core::{Body, Config, Credential};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::response::MAX_BODY_BYTES;

/// Why a request body was refused before any use case ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestError {
    /// Over [`MAX_BODY_BYTES`]: `413`.
    TooLarge,
    /// Neither `application/json` nor `application/jwt` / `application/jose`: `415`.
    UnsupportedMediaType,
    /// Not a JSON object (or not a compact JWT): `400 invalid_request`.
    Invalid(String),
}

fn media_type(req: &Request) -> Option<String> {
    let value = req
        .headers()
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn body_bytes(body: &lambda_http::Body) -> &[u8] {
    body.as_ref()
}

/// The subject DN of the client certificate API Gateway verified (mutual TLS on
/// a custom domain with a truststore). Only the gateway's request context counts:
/// no header can claim a certificate.
pub(crate) fn client_certificate(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let cert = ctx.authentication.as_ref()?.client_cert.as_ref()?;
            Some(cert.subject_dn.clone().unwrap_or_default())
        }
        _ => None,
    }
}

/// Parses the body of `POST /register` or `PUT /register/{id}`.
pub(crate) fn read_metadata(req: Request) -> Result<Body, RequestError> {
    let media = media_type(&req);
    let bytes = body_bytes(req.body());
    if bytes.len() > MAX_BODY_BYTES {
        return Err(RequestError::TooLarge);
    }
    match media.as_deref() {
        Some("application/json") => {
            let value: Value = serde_json::from_slice(bytes).map_err(|e| {
                RequestError::Invalid(format!("the body is not valid JSON ({})", e.classify_str()))
            })?;
            match value {
                Value::Object(map) => Ok(Body::Json(map)),
                _ => Err(RequestError::Invalid(
                    "the body must be a JSON object".into(),
                )),
            }
        }
        // UK OB's DCR API declares `application/jose`; AU CDR sends `application/jwt`.
        Some("application/jwt" | "application/jose") => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| RequestError::Invalid("the body is not a compact JWT".into()))?
                .trim();
            let parts = text.split('.').count();
            if parts != 3 || text.is_empty() {
                return Err(RequestError::Invalid(
                    "the body is not a compact JWT".into(),
                ));
            }
            Ok(Body::Jwt(text.to_owned()))
        }
        _ => Err(RequestError::UnsupportedMediaType),
    }
}

trait Classify {
    fn classify_str(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// The `Authorization: Bearer` credential (RFC 6750 §2.1); other schemes count as none.
pub(crate) fn bearer(req: &Request) -> Credential {
    let Some(value) = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Credential::None;
    };
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Credential::Bearer(token.trim().to_owned())
        }
        None if value.eq_ignore_ascii_case("bearer") => Credential::Bearer(String::new()),
        _ => Credential::None,
    }
}

/// Refuses a request with more than one `Authorization` credential (RFC 6750
/// §2: a client MUST NOT use more than one method, and which of two tokens
/// counts would be a guess): two header fields (as `dcr-local` receives them),
/// or one field whose comma-separated parts hold two credentials
/// (`scheme credentials`), one of them `Bearer` (as API Gateway joins repeated
/// headers). A part that is not a credential of its own (`Bearer a,b`: a
/// malformed token, RFC 6750 §2.1 has no comma) does not count.
pub(crate) fn single_authorization(req: &Request) -> Result<(), RequestError> {
    let fields = req.headers().get_all(http::header::AUTHORIZATION);
    let joined = fields.iter().any(|v| {
        let credentials: Vec<&str> = v
            .to_str()
            .unwrap_or("")
            .split(',')
            .filter_map(credential_scheme)
            .collect();
        credentials.len() > 1 && credentials.iter().any(|s| s.eq_ignore_ascii_case("bearer"))
    });
    if fields.iter().count() > 1 || joined {
        return Err(RequestError::Invalid(
            "more than one Authorization header; send one bearer token".into(),
        ));
    }
    Ok(())
}

/// The scheme of `scheme SP credentials` (the scheme an RFC 9110 §11.1 token),
/// or `None` when `part` is not a credential of its own.
fn credential_scheme(part: &str) -> Option<&str> {
    let (scheme, rest) = part.trim().split_once(' ')?;
    let token = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    (token && !rest.trim().is_empty()).then_some(scheme)
}

/// The issuer: the configured one, else derived from the request (`Host`,
/// `X-Forwarded-Proto`, the API Gateway stage).
pub(crate) fn issuer_of(config: &Config, req: &Request) -> String {
    if let Some(issuer) = &config.issuer {
        return issuer.trim_end_matches('/').to_owned();
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
    };
    let context = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => Some(ctx),
        _ => None,
    };
    let scheme = match header("x-forwarded-proto").as_deref() {
        Some("http") => "http",
        Some("https") => "https",
        _ if context.is_some() => "https",
        _ => "http",
    };
    let host = header("host")
        .filter(|h| is_authority(h))
        .or_else(|| context.and_then(|c| c.domain_name.clone()))
        .unwrap_or_else(|| "localhost".to_owned());
    let stage = context
        .and_then(|c| c.stage.as_deref())
        .filter(|s| {
            *s != "$default"
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|s| format!("/{s}"))
        .unwrap_or_default();
    format!("{scheme}://{host}{stage}")
}

/// A host[:port] with nothing that could smuggle a path or userinfo into an issuer.
fn is_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The request id for logs: API Gateway's, else the caller's `x-request-id`.
pub(crate) fn request_id(req: &Request) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = &ctx.request_id
    {
        return Some(id.clone());
    }
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(name: &str, value: &str) -> Request {
        http::Request::builder()
            .uri("/register")
            .header(name, value)
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            bearer(&with_header("authorization", "Bearer abc")),
            Credential::Bearer("abc".into())
        );
        assert_eq!(
            bearer(&with_header("authorization", "bearer  abc ")),
            Credential::Bearer("abc".into())
        );
        assert_eq!(
            bearer(&with_header("authorization", "Basic abc")),
            Credential::None
        );
        assert_eq!(
            bearer(&with_header("authorization", "Bearer")),
            Credential::Bearer(String::new())
        );
        assert_eq!(bearer(&with_header("x", "y")), Credential::None);
    }

    #[test]
    fn one_authorization_only() {
        let two = http::Request::builder()
            .uri("/register")
            .header("authorization", "Bearer victim")
            .header("authorization", "Bearer attacker")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert!(matches!(
            single_authorization(&two),
            Err(RequestError::Invalid(_))
        ));
        for joined in [
            "Bearer a,Bearer b",
            "Bearer a, Basic Yjpj",
            "Basic Yjpj,bearer b",
        ] {
            let req = with_header("authorization", joined);
            assert!(single_authorization(&req).is_err(), "{joined}");
        }
        for one in [
            "Bearer abc",
            "bearer  a.b.c ",
            "Basic Yjpj",
            "Digest a=1, b=2",
            "Bearerx,y",
            "Bearer x,y",
        ] {
            assert_eq!(
                single_authorization(&with_header("authorization", one)),
                Ok(()),
                "{one}"
            );
        }
        assert_eq!(single_authorization(&with_header("x", "y")), Ok(()));
    }

    #[test]
    fn issuer_from_config_or_host() {
        let mut config = Config::default();
        let req = with_header("host", "api.example.com");
        assert_eq!(issuer_of(&config, &req), "http://api.example.com");
        let req = http::Request::builder()
            .header("host", "api.example.com")
            .header("x-forwarded-proto", "https")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(issuer_of(&config, &req), "https://api.example.com");
        let req = with_header("host", "evil.example/path");
        assert_eq!(issuer_of(&config, &req), "http://localhost");
        config.issuer = Some("https://as.example.com/".into());
        assert_eq!(issuer_of(&config, &req), "https://as.example.com");
    }

    fn body(ct: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/register");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(lambda_http::Body::Text(body.into())).unwrap()
    }

    #[test]
    fn body_rules() {
        assert!(matches!(
            read_metadata(body(Some("application/json"), "{}")),
            Ok(Body::Json(_))
        ));
        assert!(matches!(
            read_metadata(body(Some("Application/JSON; charset=utf-8"), "{\"a\":1}")),
            Ok(Body::Json(_))
        ));
        assert!(matches!(
            read_metadata(body(Some("application/json"), "[]")),
            Err(RequestError::Invalid(_))
        ));
        assert!(matches!(
            read_metadata(body(Some("application/json"), "{")),
            Err(RequestError::Invalid(_))
        ));
        assert!(matches!(
            read_metadata(body(Some("application/json"), "")),
            Err(RequestError::Invalid(_))
        ));
        assert_eq!(
            read_metadata(body(Some("text/plain"), "{}")).err(),
            Some(RequestError::UnsupportedMediaType)
        );
        assert_eq!(
            read_metadata(body(None, "{}")).err(),
            Some(RequestError::UnsupportedMediaType)
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(
            read_metadata(body(Some("application/json"), &big)).err(),
            Some(RequestError::TooLarge)
        );
        assert!(matches!(
            read_metadata(body(Some("application/jwt"), "a.b.c")),
            Ok(Body::Jwt(t)) if t == "a.b.c"
        ));
        assert!(matches!(
            read_metadata(body(Some("application/jwt"), "a.b")),
            Err(RequestError::Invalid(_))
        ));
    }

    #[test]
    fn jose_is_a_signed_request_like_jwt() {
        for ct in [
            "application/jose",
            "Application/JOSE",
            "application/jose; charset=utf-8",
            "APPLICATION/JWT ; q=1",
        ] {
            assert!(
                matches!(read_metadata(body(Some(ct), "a.b.c")), Ok(Body::Jwt(t)) if t == "a.b.c"),
                "{ct}"
            );
        }
        assert!(matches!(
            read_metadata(body(Some("application/jose"), "{}")),
            Err(RequestError::Invalid(_))
        ));
        assert_eq!(
            read_metadata(body(Some("application/jose+json"), "{}")).err(),
            Some(RequestError::UnsupportedMediaType)
        );
    }
}
