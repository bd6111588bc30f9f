//! The client information response (RFC 7591 §3.2.1).

use serde_json::{Map, Value};

use crate::model::ClientRecord;
use crate::ports::ClientSecret;

/// Client information: registered metadata plus the server-provisioned fields.
/// Always carries credentials or their metadata, so it is never cached.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientInfo(pub Map<String, Value>);

impl ClientInfo {
    /// Builds the response for a record, with the secret and the registration
    /// access token when the caller may see them.
    pub(crate) fn build(
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
        token: Option<&str>,
        issuer: &str,
    ) -> Self {
        let mut body = record.metadata.clone();
        body.insert("client_id".into(), record.client_id.as_str().into());
        body.insert(
            "client_id_issued_at".into(),
            record.client_id_issued_at.into(),
        );
        if let Some(secret) = secret {
            body.insert("client_secret".into(), secret.expose().into());
            body.insert(
                "client_secret_expires_at".into(),
                record.client_secret_expires_at.into(),
            );
        }
        if let Some(token) = token {
            body.insert("registration_access_token".into(), token.into());
        }
        body.insert(
            "registration_client_uri".into(),
            registration_client_uri(issuer, &record.client_id).into(),
        );
        if let Some(statement) = &record.software_statement {
            body.insert("software_statement".into(), statement.clone().into());
        }
        ClientInfo(body)
    }

    /// The `client_id` of the response.
    pub fn client_id(&self) -> &str {
        self.0
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// `{issuer}/register/{client_id}`.
fn registration_client_uri(issuer: &str, client_id: &str) -> String {
    format!("{}/register/{client_id}", issuer.trim_end_matches('/'))
}
