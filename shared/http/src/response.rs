//! Every outcome becomes an HTTP response here, and only here: RFC 7591 §3.2.2
//! error bodies, RFC 6750 challenges, `no-store` on credentials, opaque 5xx.

use dcr_core::{
    AccessError, AuthError, BodyError, ClientInfo, DeleteError, HookError, ReadError,
    RegisterError, UpdateError,
};
use dcr_validation::MetadataError;
use http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::request::{MAX_BODY_BYTES, RequestError};

/// A response before it is serialised.
#[derive(Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(HeaderName, String)>,
    body: Option<Value>,
    no_store: bool,
}

impl Reply {
    fn new(status: u16, body: Option<Value>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            no_store: false,
        }
    }

    fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Client information with credentials: never cached.
    pub(crate) fn client_info(status: u16, info: ClientInfo) -> Self {
        let mut reply = Self::new(status, Some(Value::Object(info.0)));
        reply.no_store = true;
        reply
    }

    /// A JSON document anyone may cache briefly (discovery).
    pub(crate) fn json_public(body: Value) -> Self {
        Self::new(200, Some(body)).header(CACHE_CONTROL, "public, max-age=300")
    }

    /// `204` after a delete.
    pub(crate) fn deleted() -> Self {
        let mut reply = Self::new(204, None);
        reply.no_store = true;
        reply
    }

    /// `204` with no body (preflight).
    pub(crate) fn no_content() -> Self {
        Self::new(204, None)
    }

    /// An RFC-style error body.
    pub(crate) fn error(status: u16, code: &str, description: impl Into<String>) -> Self {
        let mut reply = Self::new(
            status,
            Some(json!({"error": code, "error_description": description.into()})),
        );
        reply.no_store = true;
        reply
    }

    /// `404` for a path that is not one of the service's routes.
    pub(crate) fn not_found() -> Self {
        Self::error(404, "invalid_request", "no such endpoint")
    }

    /// `405` with the methods the path supports.
    pub(crate) fn method_not_allowed(allow: &str) -> Self {
        Self::error(
            405,
            "invalid_request",
            "method not allowed on this endpoint",
        )
        .header(http::header::ALLOW, allow)
    }

    /// An opaque `500`; the cause goes to the log with its whole chain.
    fn internal(cause: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{cause:#}"), "request failed");
        Self::error(
            500,
            "server_error",
            "the server could not complete the request",
        )
    }

    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The `error` member of an error body.
    pub(crate) fn error_code(&self) -> Option<&str> {
        self.body
            .as_ref()
            .and_then(|b| b.get("error"))
            .and_then(Value::as_str)
    }

    /// The `client_id` of a successful registration, for the access log.
    pub(crate) fn client_id(&self) -> Option<String> {
        if self.status != 201 {
            return None;
        }
        self.body
            .as_ref()
            .and_then(|b| b.get("client_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Serialises the reply.
    pub(crate) fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder().status(self.status);
        if let Some(headers) = builder.headers_mut() {
            for (name, value) in self.headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.append(name, value);
                }
            }
            if self.no_store {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
            }
            if self.body.is_some() {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
        }
        let body = match self.body {
            Some(value) => Body::Text(to_json(&value)),
            None => Body::Empty,
        };
        builder.body(body).unwrap_or_else(|_| {
            let mut fallback = Response::new(Body::Empty);
            *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
    }
}

/// `value` as compact JSON, written straight into a buffer the size of a
/// typical client document (its `Display` goes through `fmt::Write` and grows
/// its string step by step: measured, a tenth of a `GET`'s CPU).
fn to_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(1024);
    // Writing a `Value` into a `Vec` cannot fail: its keys are strings and the
    // writer takes every byte; and serde_json writes UTF-8 only.
    match serde_json::to_writer(&mut out, value).map(|()| String::from_utf8(out)) {
        Ok(Ok(text)) => text,
        _ => value.to_string(),
    }
}

impl From<AuthError> for Reply {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => Reply::error(401, "invalid_token", "an access token is required")
                .header(WWW_AUTHENTICATE, "Bearer"),
            AuthError::Invalid => Reply::error(401, "invalid_token", "the access token is invalid")
                .header(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""),
            AuthError::InsufficientScope => Reply::error(
                403,
                "insufficient_scope",
                "the access token lacks the required scope",
            )
            .header(WWW_AUTHENTICATE, "Bearer error=\"insufficient_scope\""),
            AuthError::Unavailable => Reply::error(
                503,
                "temporarily_unavailable",
                "the access token cannot be checked right now; retry later",
            )
            .header(RETRY_AFTER, "5"),
        }
    }
}

impl From<MetadataError> for Reply {
    fn from(e: MetadataError) -> Self {
        Reply::error(400, e.code.as_str(), e.description)
    }
}

impl From<RequestError> for Reply {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::TooLarge => Reply::error(
                413,
                "invalid_request",
                format!("the body exceeds {MAX_BODY_BYTES} bytes"),
            ),
            RequestError::UnsupportedMediaType => Reply::error(
                415,
                "invalid_request",
                "Content-Type must be application/json, application/jwt or application/jose",
            ),
            RequestError::Invalid(d) => Reply::error(400, "invalid_request", d),
        }
    }
}

impl From<AccessError> for Reply {
    fn from(e: AccessError) -> Self {
        match e {
            // RFC 8705 §2: failed TLS client authentication is RFC 6749 §5.2's
            // `invalid_client`; with no authentication scheme to challenge, a `400`.
            AccessError::CertificateRequired => Reply::error(
                400,
                "invalid_client",
                "a verified TLS client certificate is required",
            ),
            AccessError::Token(e) => e.into(),
        }
    }
}

impl From<BodyError> for Reply {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::InvalidStatement(d) => Reply::error(400, "invalid_software_statement", d),
            BodyError::UnapprovedStatement(d) => {
                Reply::error(400, "unapproved_software_statement", d)
            }
            BodyError::InvalidRequest(d) => Reply::error(400, "invalid_request", d),
            BodyError::NotSigned => Reply::error(
                415,
                "invalid_request",
                "this server takes signed request objects (application/jwt or application/jose) only",
            ),
            BodyError::KeysUnavailable(d) => {
                Reply::error(503, "temporarily_unavailable", format!("{d}; retry later"))
                    .header(RETRY_AFTER, "5")
            }
        }
    }
}

impl From<HookError> for Reply {
    fn from(e: HookError) -> Self {
        match e {
            HookError::Rejected { code, description } => Reply::error(400, code, description),
            // Fails closed: the client did not earn a 400; the cause goes to the log.
            HookError::Failed { hook, cause } => {
                tracing::error!(hook, cause = %cause, "hook failed; request refused");
                Reply::error(
                    503,
                    "temporarily_unavailable",
                    "the registration could not be checked right now; retry later",
                )
                .header(RETRY_AFTER, "5")
            }
        }
    }
}

/// Two writes raced: `409`, the loser reads and retries.
fn conflict() -> Reply {
    Reply::error(
        409,
        "invalid_request",
        "the client was modified concurrently; read it and retry",
    )
}

impl From<RegisterError> for Reply {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Access(e) => e.into(),
            RegisterError::Body(e) => e.into(),
            RegisterError::Metadata(e) => e.into(),
            RegisterError::Hook(e) => e.into(),
            RegisterError::Unknown(cause) => Reply::internal(&cause),
        }
    }
}

impl From<ReadError> for Reply {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Access(e) => e.into(),
            ReadError::Unknown(cause) => Reply::internal(&cause),
        }
    }
}

impl From<UpdateError> for Reply {
    fn from(e: UpdateError) -> Self {
        match e {
            UpdateError::Access(e) => e.into(),
            UpdateError::Body(e) => e.into(),
            UpdateError::Metadata(e) => e.into(),
            UpdateError::Hook(e) => e.into(),
            UpdateError::Conflict => conflict(),
            UpdateError::Unknown(cause) => Reply::internal(&cause),
        }
    }
}

impl From<DeleteError> for Reply {
    fn from(e: DeleteError) -> Self {
        match e {
            DeleteError::Access(e) => e.into(),
            DeleteError::Conflict => conflict(),
            DeleteError::Unknown(cause) => Reply::internal(&cause),
        }
    }
}

/// Why a server refused a request before (or instead of) the app answering it:
/// the local server's HTTP framing, its limits, its load, or a panic. The
/// answers are the service's JSON errors, like every other error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line or a header could not be parsed: `400`.
    Malformed,
    /// The request target is too long: `414`.
    UriTooLong,
    /// The header block is too large or has too many fields: `431`.
    HeadersTooLarge,
    /// The body did not arrive in time: `408`.
    BodyTimeout,
    /// The body's framing is broken (bad chunked encoding, cut short): `400`.
    BodyUnreadable,
    /// Every connection slot is busy: `503`, retry after a second.
    Overloaded,
    /// Answering the request panicked: an opaque `500`.
    Panicked,
}

/// The response to a [`Refusal`].
pub fn refusal(refusal: Refusal) -> Response<Body> {
    let reply = match refusal {
        Refusal::Malformed => {
            Reply::error(400, "invalid_request", "the request is not valid HTTP/1.1")
        }
        Refusal::UriTooLong => Reply::error(414, "invalid_request", "the request URI is too long"),
        Refusal::HeadersTooLarge => Reply::error(
            431,
            "invalid_request",
            "the request header block is too large or has too many fields",
        ),
        Refusal::BodyTimeout => Reply::error(
            408,
            "invalid_request",
            "the request body did not arrive in time",
        ),
        Refusal::BodyUnreadable => {
            Reply::error(400, "invalid_request", "the request body could not be read")
        }
        Refusal::Overloaded => Reply::error(
            503,
            "temporarily_unavailable",
            "the server is at its connection limit; retry shortly",
        )
        .header(http::header::RETRY_AFTER, "1"),
        Refusal::Panicked => Reply::internal(&anyhow::anyhow!("answering the request panicked")),
    };
    reply.into_response()
}
