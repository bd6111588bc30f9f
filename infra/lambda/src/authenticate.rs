//! `authenticate-client`: how an authorization server (any language, any
//! account it is allowed from) authenticates a registered client and reads
//! what its token endpoint needs, by invoking this Lambda function with IAM
//! credentials (`lambda:InvokeFunction`). It is on no public API.
//!
//! Request (the invocation payload):
//!
//! ```json
//! {"client_id": "5tqJ0kQ2yH6Zs1wJmD9uFQ", "client_secret": "optional"}
//! ```
//!
//! With `client_secret`, it is compared in constant time with the stored one
//! (`client_secret_basic` / `client_secret_post`, RFC 6749 §2.3.1); without,
//! the client is only described (`private_key_jwt`, `tls_client_auth`, `none`,
//! and `client_secret_jwt`, whose key the authorization server must get
//! another way). Answers (docs/authorization-server.md has the full shapes):
//!
//! - `{"client": {...}, "secret_verified": true|false}`: a live client. `client`
//!   is its registered metadata with defaults (`token_endpoint_auth_method`,
//!   `grant_types`, `redirect_uris`, `jwks` or `jwks_uri`, ...) plus
//!   `client_id`, `client_id_issued_at`, `client_secret_expires_at` (0 =
//!   never), `client_expires_at` (0 = never) and `has_secret`. Never a secret,
//!   a token, a token hash or a software statement.
//! - `{"error": "invalid_client", "error_description": "...", "reason": "unknown_client" | "no_secret" | "wrong_secret" | "secret_expired"}`.
//! - `{"error": "invalid_request", "error_description": "..."}`: the payload is not such an object.
//! - `{"error": "server_error"}`: a backend failure, logged in full.

use dcr_core::{AuthenticateError, AuthenticatedClient, ClientId, Service};
use serde::Deserialize;
use serde_json::{Value, json};

/// Longest `client_id` looked up (longer ones name no client).
const MAX_CLIENT_ID: usize = 256;

/// Longest `client_secret` compared (chosen secrets are at most 512 characters).
const MAX_CLIENT_SECRET: usize = 1024;

/// The invocation payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

fn invalid_request(description: &str) -> Value {
    json!({"error": "invalid_request", "error_description": description})
}

/// The client as an authorization server sees it: metadata and server fields,
/// no credential.
pub fn describe(client: &AuthenticatedClient) -> Value {
    let record = &client.record;
    let mut out = record.metadata.clone();
    out.insert("client_id".into(), record.client_id.as_str().into());
    out.insert(
        "client_id_issued_at".into(),
        record.client_id_issued_at.into(),
    );
    out.insert("has_secret".into(), record.has_secret.into());
    out.insert(
        "client_secret_expires_at".into(),
        record.client_secret_expires_at.into(),
    );
    out.insert("client_expires_at".into(), record.expires_at.into());
    json!({"client": out, "secret_verified": client.secret_verified})
}

/// Answers one invocation payload.
pub async fn handle(service: &Service, payload: Value) -> Value {
    let request: Request = match serde_json::from_value(payload) {
        Ok(r) => r,
        Err(_) => {
            return invalid_request(
                "the payload must be {\"client_id\": string, \"client_secret\"?: string}",
            );
        }
    };
    if request.client_id.is_empty() || request.client_id.len() > MAX_CLIENT_ID {
        return invalid_request("client_id must be 1 to 256 bytes");
    }
    if request
        .client_secret
        .as_ref()
        .is_some_and(|s| s.len() > MAX_CLIENT_SECRET)
    {
        return invalid_request("client_secret is longer than any client secret");
    }
    // An id that cannot be a client's names no client: answered as an unknown one.
    let client_id = ClientId::parse(request.client_id.as_str()).ok();
    match service
        .authenticate_client(client_id.as_ref(), request.client_secret.as_deref())
        .await
    {
        Ok(client) => describe(&client),
        Err(AuthenticateError::Refused(reason)) => json!({
            "error": "invalid_client",
            "error_description": "client authentication failed",
            "reason": reason.as_str(),
        }),
        Err(AuthenticateError::Unknown(e)) => {
            tracing::error!(
                client_id = %request.client_id,
                error = format!("{e:#}"),
                "client authentication failed"
            );
            json!({"error": "server_error"})
        }
    }
}
