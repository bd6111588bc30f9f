//! Client authentication for an authorization server: is this a live client,
//! and is this its client secret (RFC 6749 §2.3.1), with what its token
//! endpoint needs to know about it.

use anyhow::Context;

use crate::model::ClientRecord;
use crate::tokens::ct_eq;

use super::Service;

/// Why a client was not authenticated. The reason is for the authorization
/// server's log; its client gets `invalid_client` whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No live client has this id (never registered, deleted, expired, or half-written).
    UnknownClient,
    /// A secret was presented but the client has none (a public or key-based client).
    NoSecret,
    /// The presented secret is not the client's.
    WrongSecret,
    /// The presented secret is the client's, but `client_secret_expires_at` has passed.
    SecretExpired,
}

impl Refusal {
    /// The reason as a `snake_case` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownClient => "unknown_client",
            Refusal::NoSecret => "no_secret",
            Refusal::WrongSecret => "wrong_secret",
            Refusal::SecretExpired => "secret_expired",
        }
    }
}

/// Failures of [`Service::authenticate_client`].
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The client is not authenticated (`invalid_client`, RFC 6749 §5.2).
    #[error("client authentication failed: {}", .0.as_str())]
    Refused(Refusal),
    /// A backend failure: logged in full, never shown.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

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
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<AuthenticatedClient, AuthenticateError> {
        let now = self.now();
        let record = self
            .clients
            .get(client_id)
            .await
            .context("reading the client record")?
            .filter(|r| r.is_live(now))
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
        if record.secret_expires_at != 0 && record.secret_expires_at <= now {
            return Err(AuthenticateError::Refused(Refusal::SecretExpired));
        }
        Ok(AuthenticatedClient {
            record,
            secret_verified: true,
        })
    }
}
