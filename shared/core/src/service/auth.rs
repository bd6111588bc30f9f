//! Who may manage a client: the holder of its registration access token, or an
//! access token (a JWT, or an opaque token checked by introspection) of the
//! client itself or its owner carrying the scopes.

use crate::errors::{AccessError, AccessFailure, AuthError};
use crate::model::{ClientId, ClientRecord, ClientState};
use crate::ports::AccessToken;
use crate::tokens::{ct_eq, hash_token};

use super::{Caller, Credential, Service};

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

/// A refused token, as the error of any operation that checks the caller.
fn refused<E: AccessFailure>(e: AuthError) -> E {
    AccessError::Token(e).into()
}

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
    /// A `client_id` of `None` (a path that cannot name a client) is answered
    /// exactly as an unknown client.
    pub(super) async fn authorize<E: AccessFailure>(
        &self,
        client_id: Option<&ClientId>,
        caller: &Caller,
        deleting_ok: bool,
    ) -> Result<Authorized, E> {
        if self.config.management_endpoint_authentication.require_mtls
            && caller.client_certificate.is_none()
        {
            return Err(AccessError::CertificateRequired.into());
        }
        let Credential::Bearer(token) = &caller.credential else {
            return Err(refused(AuthError::Missing));
        };
        let now = self.now();
        let record = self.record_of(client_id).await?;
        // A disabled client is refused exactly like an unknown one.
        let record = record.filter(|r| {
            let state_ok =
                r.state == ClientState::Active || (deleting_ok && r.state == ClientState::Deleting);
            state_ok
                && !r.disabled
                && (r.expires_at == 0 || r.expires_at > now)
                && self.template_present(r)
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
            let claims = verifier.verify(token).await.map_err(refused::<E>)?;
            self.require_scopes(&claims).map_err(refused::<E>)?;
            let Some(record) = record else {
                return Err(refused(AuthError::Invalid));
            };
            let owns = claims
                .client
                .as_deref()
                .is_some_and(|c| record.client_id == c || record.owner.as_deref() == Some(c));
            if !owns {
                return Err(refused(AuthError::Invalid));
            }
            return Ok(Authorized {
                record,
                via: Via::AccessToken,
            });
        }
        Err(refused(AuthError::Invalid))
    }

    /// Checks who is registering: a verified client certificate where
    /// `require_mtls` says so, then the initial access token; returns the owner
    /// the token names.
    pub(super) async fn admit_registrant(
        &self,
        caller: &Caller,
    ) -> Result<Option<String>, AccessError> {
        let settings = &self.config.registration_endpoint_authentication;
        if settings.require_mtls && caller.client_certificate.is_none() {
            return Err(AccessError::CertificateRequired);
        }
        let required = settings.require_bearer_token;
        let credential = &caller.credential;
        let verifier = match credential {
            Credential::Bearer(token) => self.verifier_for(token),
            Credential::None => None,
        };
        match (credential, verifier) {
            (Credential::None, _) if required => Err(AuthError::Missing.into()),
            (Credential::Bearer(token), Some(verifier)) => {
                let claims = verifier.verify(token).await?;
                self.require_scopes(&claims)?;
                Ok(claims.client)
            }
            (Credential::Bearer(_), None) if required => Err(AuthError::Invalid.into()),
            _ => Ok(None),
        }
    }

    fn require_scopes(&self, claims: &AccessToken) -> Result<(), AuthError> {
        let profile_scope = self.config.profile.rules().management.required_scope;
        let has_all = self
            .config
            .bearer_token
            .scopes
            .iter()
            .map(String::as_str)
            .chain(profile_scope)
            .all(|s| claims.scopes.iter().any(|c| c == s));
        if has_all {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope)
        }
    }
}
