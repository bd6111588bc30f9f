//! Who may manage a client: the holder of its registration access token, or an
//! access token (a JWT, or an opaque token checked by introspection) of the
//! client itself or its owner carrying the scopes.

use crate::errors::{AuthError, DeleteError, ReadError, RegisterError, UpdateError};
use crate::model::{ClientRecord, ClientState};
use crate::ports::{AccessToken, StoreError};
use crate::tokens::{ct_eq, hash_token};

use dcr_validation::Profile;

use super::{Caller, Credential, Service};

/// The scope an AU CDR access token needs to manage a registration.
pub const CDR_REGISTRATION_SCOPE: &str = "cdr:registration";

/// How the caller proved its right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Via {
    /// The registration access token (its value, to echo it back).
    RegistrationToken(String),
    /// An access token of the client or its owner.
    AccessToken,
}

/// A management caller and the record it may act on.
pub(super) struct Authorized {
    pub record: ClientRecord,
    pub via: Via,
}

/// An authentication failure or a store failure on the way.
#[derive(Debug)]
pub(super) enum Failure {
    Auth(AuthError),
    CertificateRequired,
    Store(anyhow::Error),
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Auth(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(anyhow::Error::new(e).context("reading the client record"))
    }
}

macro_rules! failure_into {
    ($($t:ty),*) => {$(
        impl From<Failure> for $t {
            fn from(f: Failure) -> Self {
                match f {
                    Failure::Auth(e) => <$t>::Unauthorized(e),
                    Failure::CertificateRequired => <$t>::CertificateRequired,
                    Failure::Store(e) => <$t>::Unknown(e),
                }
            }
        }
    )*};
}
failure_into!(ReadError, UpdateError, DeleteError, RegisterError);

/// Whether `presented` (a token's hash) is the record's current registration
/// access token or its previous one, and that one has not expired. Both are
/// compared, in constant time, whichever matches.
fn registration_token_matches(record: &ClientRecord, presented: &str, now: i64) -> bool {
    let live = |expires_at: i64| expires_at == 0 || expires_at > now;
    let matches = |stored: &Option<String>| stored.as_deref().is_some_and(|h| ct_eq(h, presented));
    let current = matches(&record.token_hash) & live(record.token_expires_at);
    let previous = matches(&record.previous_token_hash) & live(record.previous_token_expires_at);
    current | previous
}

impl Service {
    /// Authenticates a management call on `client_id`. `deleting_ok` lets a
    /// retried delete find a record its first attempt left `Deleting`.
    pub(super) async fn authorize(
        &self,
        client_id: &str,
        caller: &Caller,
        deleting_ok: bool,
    ) -> Result<Authorized, Failure> {
        if self.config.management_endpoint_authentication.require_mtls
            && caller.client_certificate.is_none()
        {
            return Err(Failure::CertificateRequired);
        }
        let Credential::Bearer(token) = &caller.credential else {
            return Err(AuthError::Missing.into());
        };
        let now = self.now();
        let record = self.clients.get(client_id).await?.filter(|r| {
            let state_ok =
                r.state == ClientState::Active || (deleting_ok && r.state == ClientState::Deleting);
            state_ok && (r.expires_at == 0 || r.expires_at > now)
        });
        // Hash before looking at the record so unknown and known clients cost the same.
        let presented = hash_token(token);
        // AU CDR manages clients with access tokens only (scope cdr:registration).
        let token_accepted = self.config.registration_token_accepted();
        if token_accepted
            && let Some(r) = &record
            && registration_token_matches(r, &presented, now)
        {
            return Ok(Authorized {
                record: r.clone(),
                via: Via::RegistrationToken(token.clone()),
            });
        }
        if let Some(verifier) = self.verifier_for(token) {
            let claims = verifier.verify(token).await?;
            self.require_scopes(&claims)?;
            let record = record.ok_or(AuthError::Invalid)?;
            let owns = claims
                .client
                .as_deref()
                .is_some_and(|c| c == record.client_id || record.owner.as_deref() == Some(c));
            if !owns {
                return Err(AuthError::Invalid.into());
            }
            return Ok(Authorized {
                record,
                via: Via::AccessToken,
            });
        }
        Err(AuthError::Invalid.into())
    }

    /// Checks the initial access token of a registration; returns the owner it names.
    pub(super) async fn authorize_registration(
        &self,
        credential: &Credential,
    ) -> Result<Option<String>, AuthError> {
        let required = self
            .config
            .registration_endpoint_authentication
            .require_bearer_token;
        let verifier = match credential {
            Credential::Bearer(token) => self.verifier_for(token),
            Credential::None => None,
        };
        match (credential, verifier) {
            (Credential::None, _) if required => Err(AuthError::Missing),
            (Credential::Bearer(token), Some(verifier)) => {
                let claims = verifier.verify(token).await?;
                self.require_scopes(&claims)?;
                Ok(claims.client)
            }
            (Credential::Bearer(_), None) if required => Err(AuthError::Invalid),
            _ => Ok(None),
        }
    }

    fn require_scopes(&self, claims: &AccessToken) -> Result<(), AuthError> {
        let cdr = (self.config.profile == Profile::AuCdr).then_some(CDR_REGISTRATION_SCOPE);
        let has_all = self
            .config
            .bearer_token
            .scopes
            .iter()
            .map(String::as_str)
            .chain(cdr)
            .all(|s| claims.scopes.iter().any(|c| c == s));
        if has_all {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope)
        }
    }
}
