//! Admitting a registration body: a JSON object (maybe with a software
//! statement) or a signed request object (`application/jwt`), verified against
//! the configured directory and the client's own keys, with replay protection.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use dcr_trust::{
    AccessTokenPolicy, JwtError, KeyError, KeySet, RequestPolicy, Statement, StatementError,
    StatementPolicy, merge_statement, peek_claims, verify_access_token, verify_request_object,
    verify_software_statement,
};
use dcr_validation::{ErrorCode, MetadataError, Profile};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::errors::{AuthError, BodyError, BodyFailure};
use crate::ports::{AccessToken, Clock, KeySource, TokenVerifier, UrlOrigin};

use super::Service;

/// A registration or update body, as the HTTP layer parsed it.
#[derive(Debug, Clone)]
pub enum Body {
    /// `application/json`: the metadata object, maybe with a `software_statement`.
    Json(Map<String, Value>),
    /// `application/jwt`: a signed request object whose payload is the metadata.
    Jwt(String),
}

/// Metadata ready for validation, and the statement it came with.
pub(super) struct Admitted {
    pub metadata: Map<String, Value>,
    pub statement: Option<String>,
}

/// The statement policy of a configuration, if statements can be checked at all.
pub(super) fn statement_policy(config: &Config) -> Option<StatementPolicy> {
    let c = &config.software_statement_validation;
    c.jwks_uri.as_ref()?;
    StatementPolicy::new(c.issuer.clone(), &c.signing_algs).ok()
}

/// `invalid_request`, or where the profile allows only RFC 7591 §3.2.2's
/// codes (UK OB, AU CDR), the refusal `instead` makes.
fn invalid_request_or<E: BodyFailure>(
    profile: Profile,
    description: String,
    instead: impl FnOnce(String) -> E,
) -> E {
    if profile.rules().rfc7591_codes_only {
        instead(description)
    } else {
        BodyError::InvalidRequest(description).into()
    }
}

/// A refusal of the request object itself: `invalid_client_metadata` where
/// only RFC 7591's codes may be used (the request object is the metadata).
fn request_error<E: BodyFailure>(profile: Profile, description: String) -> E {
    invalid_request_or(profile, description, |description| {
        MetadataError {
            code: ErrorCode::InvalidClientMetadata,
            description,
        }
        .into()
    })
}

impl Service {
    /// Verifies what the body carries and returns the metadata to validate.
    pub(super) async fn admit<E: BodyFailure>(
        &self,
        body: Body,
        issuer: &str,
        statement_required: bool,
    ) -> Result<Admitted, E> {
        let profile = self.config.profile;
        match body {
            Body::Json(_) if self.config.signed_requests_only() => Err(BodyError::NotSigned.into()),
            Body::Json(mut metadata) => {
                let statement = match metadata.remove("software_statement") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s),
                    Some(_) => {
                        return Err(BodyError::InvalidStatement(
                            "software_statement must be a JWT string".into(),
                        )
                        .into());
                    }
                };
                match statement {
                    Some(jws) => {
                        let verified = self.verify_statement::<E>(&jws).await?;
                        merge::<E>(&mut metadata, &verified, profile)?;
                        Ok(Admitted {
                            metadata,
                            statement: Some(jws),
                        })
                    }
                    None if statement_required => Err(BodyError::InvalidStatement(
                        "a software statement is required".into(),
                    )
                    .into()),
                    None => Ok(Admitted {
                        metadata,
                        statement: None,
                    }),
                }
            }
            Body::Jwt(jws) => self.admit_request_object(&jws, issuer).await,
        }
    }

    async fn admit_request_object<E: BodyFailure>(
        &self,
        jws: &str,
        issuer: &str,
    ) -> Result<Admitted, E> {
        let profile = self.config.profile;
        let refuse = |e: JwtError| request_error::<E>(profile, format!("request object: {e}"));
        if self.statement_policy.is_none() {
            return Err(invalid_request_or(
                profile,
                "signed request objects need software_statement_validation to be configured".into(),
                |d| BodyError::UnapprovedStatement(d).into(),
            ));
        }
        let peeked = peek_claims(jws).map_err(refuse)?;
        let Some(ssa) = peeked.get("software_statement").and_then(Value::as_str) else {
            return Err(invalid_request_or(
                profile,
                "a signed request object must carry a software_statement".into(),
                |d| BodyError::InvalidStatement(d).into(),
            ));
        };
        let statement = self.verify_statement::<E>(ssa).await?;
        let mut policy = RequestPolicy::new(issuer, profile);
        policy.audiences = self.config.request_object.audiences.clone();
        let now = self.now();
        let (keys, from_uri) = self.client_keys::<E>(&statement, false).await?;
        let object = match verify_request_object(jws, &keys, &policy, Some(&statement), now) {
            Err(e) if e.is_unknown_key() && from_uri => {
                let (keys, _) = self.client_keys::<E>(&statement, true).await?;
                verify_request_object(jws, &keys, &policy, Some(&statement), now)
            }
            other => other,
        }
        .map_err(refuse)?;
        if let Some(replay) = &object.replay
            && !self
                .clients
                .remember_once(&replay.key, replay.expires_at)
                .await
                .context("remembering a jti")?
        {
            return Err(request_error(
                profile,
                "request object: this jti was already used".into(),
            ));
        }
        let mut metadata = object.metadata;
        metadata.remove("software_statement");
        merge::<E>(&mut metadata, &statement, self.config.profile)?;
        Ok(Admitted {
            metadata,
            statement: Some(ssa.to_owned()),
        })
    }

    /// Verifies a software statement against the directory's keys, refreshing
    /// them once when it names an unknown `kid`.
    async fn verify_statement<E: BodyFailure>(&self, jws: &str) -> Result<Statement, E> {
        let (Some(policy), Some(uri)) = (
            &self.statement_policy,
            self.config
                .software_statement_validation
                .jwks_uri
                .as_deref(),
        ) else {
            return Err(BodyError::UnapprovedStatement(
                "this server trusts no software statement issuer".into(),
            )
            .into());
        };
        let profile = self.config.profile;
        let now = self.now();
        let keys = self.config_keys(uri, false).await?;
        let result = match verify_software_statement(jws, &keys, policy, profile, now) {
            Err(StatementError::UnknownKey) => {
                let keys = self.config_keys(uri, true).await?;
                verify_software_statement(jws, &keys, policy, profile, now)
            }
            other => other,
        };
        result.map_err(|e| {
            match e {
                StatementError::Invalid(d) => BodyError::InvalidStatement(d),
                other => BodyError::UnapprovedStatement(other.to_string()),
            }
            .into()
        })
    }

    /// The directory's keys: a failure to fetch them, whatever it is, is the
    /// server's or the directory's, not the caller's: the statement was not judged.
    async fn config_keys(&self, uri: &str, refresh: bool) -> Result<Arc<KeySet>, BodyError> {
        self.keys
            .key_set(uri, UrlOrigin::Config, refresh)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the software statement issuer's JWK Set is unavailable");
                BodyError::KeysUnavailable(
                    "the software statement issuer's keys could not be fetched".into(),
                )
            })
    }

    /// The client's keys from its verified statement: inline `jwks`, else its
    /// `jwks_uri` / `software_jwks_endpoint` (a request-named URL). The flag says
    /// whether they were fetched (and so may be refreshed).
    async fn client_keys<E: BodyFailure>(
        &self,
        statement: &Statement,
        refresh: bool,
    ) -> Result<(Arc<KeySet>, bool), E> {
        if let Some(jwks) = statement.jwks() {
            let keys = KeySet::from_value(jwks)
                .map_err(|e| BodyError::InvalidStatement(format!("its jwks: {e}")))?;
            return Ok((Arc::new(keys), false));
        }
        let Some(uri) = statement.jwks_uri() else {
            return Err(BodyError::InvalidStatement(
                "it names no keys (jwks, jwks_uri or software_jwks_endpoint) for the request object".into(),
            )
            .into());
        };
        let keys = self
            .keys
            .key_set(uri, UrlOrigin::Request, refresh)
            .await
            .map_err(|e| match e {
                KeyError::Forbidden(d) => {
                    BodyError::InvalidStatement(format!("its jwks_uri is not allowed: {d}"))
                }
                // The key host did not answer: the request object was not judged.
                KeyError::Unavailable(d) => {
                    tracing::warn!(error = %d, "a software statement's jwks_uri is unavailable");
                    BodyError::KeysUnavailable(
                        "the keys of the software statement's jwks_uri could not be fetched".into(),
                    )
                }
                KeyError::Invalid(d) => {
                    BodyError::InvalidStatement(format!("its jwks_uri is not a JWK Set: {d}"))
                }
            })?;
        Ok((keys, true))
    }
}

/// Merges a verified statement's claims into the metadata (they take
/// precedence, RFC 7591 §2.3); a conflict is refused with the code of the rule.
fn merge<E: BodyFailure>(
    metadata: &mut Map<String, Value>,
    statement: &Statement,
    profile: Profile,
) -> Result<(), E> {
    merge_statement(metadata, &statement.claims, profile).map_err(|e| {
        let metadata_error = |code| MetadataError {
            code,
            description: e.to_string(),
        };
        match e.error_code() {
            "invalid_redirect_uri" => metadata_error(ErrorCode::InvalidRedirectUri).into(),
            "invalid_client_metadata" => metadata_error(ErrorCode::InvalidClientMetadata).into(),
            _ => BodyError::InvalidStatement(e.to_string()).into(),
        }
    })
}

/// Verifies JWT access tokens (initial access tokens, client and owner tokens)
/// from `bearer_token.issuer` against its JWK Set.
pub struct JwtVerifier {
    keys: Arc<dyn KeySource>,
    jwks_uri: String,
    policy: AccessTokenPolicy,
    clock: Arc<dyn Clock>,
}

impl JwtVerifier {
    /// A verifier for the configuration's `bearer_token`, if it names an issuer and keys.
    pub fn from_config(
        config: &Config,
        keys: Arc<dyn KeySource>,
        clock: Arc<dyn Clock>,
    ) -> Option<Self> {
        let issuer = config.bearer_token.issuer.clone()?;
        let jwks_uri = config.bearer_token.jwks_uri.clone()?;
        let mut policy = AccessTokenPolicy::new(issuer, config.bearer_token.audience.clone());
        policy.allow_plain_jwt = config.bearer_token.allow_plain_jwt;
        Some(Self {
            keys,
            jwks_uri,
            policy,
            clock,
        })
    }

    async fn keys(&self, refresh: bool) -> Result<Arc<KeySet>, AuthError> {
        self.keys
            .key_set(&self.jwks_uri, UrlOrigin::Config, refresh)
            .await
            .map_err(|e| {
                // Not the token's fault: it was not judged (as when introspection is down).
                tracing::error!(error = %e, "the access token issuer's JWK Set is unavailable");
                AuthError::Unavailable
            })
    }
}

#[async_trait]
impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        let now = self.clock.now();
        let keys = self.keys(false).await?;
        let claims = match verify_access_token(token, &keys, &self.policy, now) {
            Err(e) if e.is_unknown_key() => {
                let keys = self.keys(true).await?;
                verify_access_token(token, &keys, &self.policy, now)
            }
            other => other,
        }
        .map_err(|_| AuthError::Invalid)?;
        Ok(AccessToken {
            client: claims.client,
            scopes: claims.scopes,
        })
    }
}
