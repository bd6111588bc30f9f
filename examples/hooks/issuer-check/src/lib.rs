//! An example hook (docs/hooks.md): IBM Verify's mapping rule sample, as a
//! `pre_registration` hook. A request with a software statement whose `iss`
//! is not `http://openbankingdirectory.com` is rejected with
//! `invalid_client_metadata` "Unexpected software statement issuer."; every
//! other request is accepted unchanged. [`decide`] is the whole rule; the
//! binary serves it as a Lambda function or over HTTP ([`serve`]).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The only statement issuer this rule accepts.
pub const EXPECTED_ISSUER: &str = "http://openbankingdirectory.com";

/// Largest request read over HTTP (the service sends at most about 70 KiB).
const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// The hook's answer to one request of the hook contract.
pub fn decide(request: &Value) -> Value {
    match request.get("software_statement_claims") {
        Some(Value::Object(claims))
            if claims.get("iss").and_then(Value::as_str) != Some(EXPECTED_ISSUER) =>
        {
            json!({
                "decision": "reject",
                "error": "invalid_client_metadata",
                "error_description": "Unexpected software statement issuer.",
            })
        }
        _ => json!({"decision": "accept"}),
    }
}

/// Answers one HTTP request: `POST` of a hook request, `200` with the answer.
async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: Value| {
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        Ok(response)
    };
    if request.method() != hyper::Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "POST a hook request"}),
        );
    }
    let body = match Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "unreadable body"})),
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(request) => reply(StatusCode::OK, decide(&request)),
        Err(_) => reply(StatusCode::BAD_REQUEST, json!({"error": "not JSON"})),
    }
}

/// Serves the hook over HTTP on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_decides() {
        let accepted = decide(&json!({"software_statement_claims": {"iss": EXPECTED_ISSUER}}));
        assert_eq!(accepted, json!({"decision": "accept"}));
        let rejected =
            decide(&json!({"software_statement_claims": {"iss": "https://else.example"}}));
        assert_eq!(rejected["decision"], "reject");
        assert_eq!(rejected["error"], "invalid_client_metadata");
        assert_eq!(
            rejected["error_description"],
            "Unexpected software statement issuer."
        );
        let no_iss = decide(&json!({"software_statement_claims": {}}));
        assert_eq!(no_iss["decision"], "reject");
        // No statement: nothing to check, as in IBM's sample.
        let none = decide(&json!({"software_statement_claims": null}));
        assert_eq!(none, json!({"decision": "accept"}));
    }
}
