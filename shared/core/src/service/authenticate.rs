//! Client authentication for an authorization server: is this a live client,
//! and is this its client secret (RFC 6749 §2.3.1), with what its token
//! endpoint needs to know about it.

use anyhow::Context;

use crate::errors::{AuthenticateError, Refusal};
use crate::model::{ClientId, ClientRecord};
use crate::tokens::ct_eq;

use super::Service;

/// A live client, and whether a presented secret was checked and matched.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client's record (metadata, state, expiries); it holds no secret.
    pub record: ClientRecord,
    /// `true` when a secret was presented and is the client's current, unexpired one.
    pub secret_verified: bool,
}

impl Service {
    /// Looks up a live client and, when `secret` is given, checks it in
    /// constant time against the stored one. Without a secret it only
    /// describes the client (for `private_key_jwt`, `tls_client_auth`, `none`).
    /// `client_id` is `None` when the id asked for cannot be one: an unknown client.
    pub async fn authenticate_client(
        &self,
        client_id: Option<&ClientId>,
        secret: Option<&str>,
    ) -> Result<AuthenticatedClient, AuthenticateError> {
        let now = self.now();
        let record = self.record_of(client_id).await?;
        // A disabled client (`dcr-admin disable`) or an instance of a template
        // that is gone is refused like an unknown one; an instance is seen with
        // its template's current fields.
        let record = record
            .filter(|r| r.is_usable(now))
            .and_then(|r| self.resolve_template(r))
            .ok_or(AuthenticateError::Refused(Refusal::UnknownClient))?;
        let Some(presented) = secret else {
            return Ok(AuthenticatedClient {
                record,
                secret_verified: false,
            });
        };
        if !record.has_secret {
            return Err(AuthenticateError::Refused(Refusal::NoSecret));
        }
        let stored = self
            .secrets
            .get(&record.client_id)
            .await
            .context("reading the client secret")?;
        let Some(stored) = stored else {
            return Err(
                anyhow::anyhow!("client {} is active but has no secret", record.client_id).into(),
            );
        };
        if !ct_eq(stored.expose(), presented) {
            return Err(AuthenticateError::Refused(Refusal::WrongSecret));
        }
        if record.client_secret_expires_at != 0 && record.client_secret_expires_at <= now {
            return Err(AuthenticateError::Refused(Refusal::SecretExpired));
        }
        Ok(AuthenticatedClient {
            record,
            secret_verified: true,
        })
    }
}
