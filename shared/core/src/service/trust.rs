//! Admitting a registration body: a JSON object (maybe with a software
//! statement) or a signed request object (`application/jwt`), verified against
//! the configured directory and the client's own keys, with replay protection.

use std::sync::Arc;

use async_trait::async_trait;
use dcr_trust::{
    AccessTokenPolicy, JwtError, KeyError, KeySet, RequestPolicy, Statement, StatementError,
    StatementPolicy, merge_statement, peek_claims, verify_access_token, verify_request_object,
    verify_software_statement,
};
use dcr_validation::{ErrorCode, MetadataError, Profile};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::errors::{AuthError, RegisterError, UpdateError};
use crate::ports::{AccessToken, Clock, KeySource, StoreError, TokenVerifier, UrlOrigin};

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

/// Why a body was not admitted.
#[derive(Debug)]
pub(super) enum TrustError {
    InvalidStatement(String),
    UnapprovedStatement(String),
    InvalidRequest(String),
    UnsupportedMediaType(String),
    Metadata(MetadataError),
    Unknown(anyhow::Error),
}

macro_rules! trust_into {
    ($($t:ident),*) => {$(
        impl From<TrustError> for $t {
            fn from(e: TrustError) -> Self {
                match e {
                    TrustError::InvalidStatement(d) => $t::InvalidSoftwareStatement(d),
                    TrustError::UnapprovedStatement(d) => $t::UnapprovedSoftwareStatement(d),
                    TrustError::InvalidRequest(d) => $t::InvalidRequest(d),
                    TrustError::UnsupportedMediaType(d) => $t::UnsupportedMediaType(d),
                    TrustError::Metadata(m) => $t::InvalidMetadata(m),
                    TrustError::Unknown(e) => $t::Unknown(e),
                }
            }
        }
    )*};
}
trust_into!(RegisterError, UpdateError);

impl From<StoreError> for TrustError {
    fn from(e: StoreError) -> Self {
        TrustError::Unknown(anyhow::Error::new(e).context("remembering a jti"))
    }
}

/// The statement policy of a configuration, if statements can be checked at all.
pub(super) fn statement_policy(config: &Config) -> Option<StatementPolicy> {
    let c = &config.software_statement_validation;
    c.jwks_uri.as_ref()?;
    StatementPolicy::new(c.issuer.clone(), &c.signing_algs).ok()
}

/// `invalid_request`, or where the profile allows only RFC 7591 §3.2.2's
/// codes (UK OB, AU CDR), the refusal `instead` makes.
fn invalid_request_or(
    profile: Profile,
    description: String,
    instead: fn(String) -> TrustError,
) -> TrustError {
    if dcr_trust::profiles::rules(profile).rfc7591_codes_only {
        instead(description)
    } else {
        TrustError::InvalidRequest(description)
    }
}

/// A refusal of the request object itself: `invalid_client_metadata` where
/// only RFC 7591's codes may be used (the request object is the metadata).
fn request_error(profile: Profile, description: String) -> TrustError {
    invalid_request_or(profile, description, |description| {
        TrustError::Metadata(MetadataError {
            code: ErrorCode::InvalidClientMetadata,
            description,
        })
    })
}

impl Service {
    /// Verifies what the body carries and returns the metadata to validate.
    pub(super) async fn admit(
        &self,
        body: Body,
        issuer: &str,
        statement_required: bool,
    ) -> Result<Admitted, TrustError> {
        let profile = self.config.profile;
        match body {
            Body::Json(_) if self.config.signed_requests_only() => {
                Err(TrustError::UnsupportedMediaType(
                    "this server takes signed request objects (application/jwt or application/jose) only".into(),
                ))
            }
            Body::Json(mut metadata) => {
                let statement = match metadata.remove("software_statement") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s),
                    Some(_) => {
                        return Err(TrustError::InvalidStatement(
                            "software_statement must be a JWT string".into(),
                        ));
                    }
                };
                match statement {
                    Some(jws) => {
                        let verified = self.verify_statement(&jws).await?;
                        merge(&mut metadata, &verified, profile)?;
                        Ok(Admitted {
                            metadata,
                            statement: Some(jws),
                        })
                    }
                    None if statement_required => Err(TrustError::InvalidStatement(
                        "a software statement is required".into(),
                    )),
                    None => Ok(Admitted {
                        metadata,
                        statement: None,
                    }),
                }
            }
            Body::Jwt(jws) => self.admit_request_object(&jws, issuer).await,
        }
    }

    async fn admit_request_object(&self, jws: &str, issuer: &str) -> Result<Admitted, TrustError> {
        let profile = self.config.profile;
        let refuse = |e: JwtError| request_error(profile, format!("request object: {e}"));
        if self.statement_policy.is_none() {
            return Err(invalid_request_or(
                profile,
                "signed request objects need software_statement_validation to be configured".into(),
                TrustError::UnapprovedStatement,
            ));
        }
        let peeked = peek_claims(jws).map_err(refuse)?;
        let Some(ssa) = peeked.get("software_statement").and_then(Value::as_str) else {
            return Err(invalid_request_or(
                profile,
                "a signed request object must carry a software_statement".into(),
                TrustError::InvalidStatement,
            ));
        };
        let statement = self.verify_statement(ssa).await?;
        let mut policy = RequestPolicy::new(issuer, profile);
        policy.audiences = self.config.request_object.audiences.clone();
        let now = self.now();
        let (keys, from_uri) = self.client_keys(&statement, false).await?;
        let object = match verify_request_object(jws, &keys, &policy, Some(&statement), now) {
            Err(e) if e.is_unknown_key() && from_uri => {
                let (keys, _) = self.client_keys(&statement, true).await?;
                verify_request_object(jws, &keys, &policy, Some(&statement), now)
            }
            other => other,
        }
        .map_err(refuse)?;
        if let Some(replay) = &object.replay
            && !self
                .clients
                .remember_once(&replay.key, replay.expires_at)
                .await?
        {
            return Err(request_error(
                profile,
                "request object: this jti was already used".into(),
            ));
        }
        let mut metadata = object.metadata;
        metadata.remove("software_statement");
        merge(&mut metadata, &statement, self.config.profile)?;
        Ok(Admitted {
            metadata,
            statement: Some(ssa.to_owned()),
        })
    }

    /// Verifies a software statement against the directory's keys, refreshing
    /// them once when it names an unknown `kid`.
    async fn verify_statement(&self, jws: &str) -> Result<Statement, TrustError> {
        let (Some(policy), Some(uri)) = (
            &self.statement_policy,
            self.config
                .software_statement_validation
                .jwks_uri
                .as_deref(),
        ) else {
            return Err(TrustError::UnapprovedStatement(
                "this server trusts no software statement issuer".into(),
            ));
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
        result.map_err(|e| match e {
            StatementError::Invalid(d) => TrustError::InvalidStatement(d),
            other => TrustError::UnapprovedStatement(other.to_string()),
        })
    }

    /// The directory's keys: a failure to fetch them is the server's, not the caller's.
    async fn config_keys(&self, uri: &str, refresh: bool) -> Result<Arc<KeySet>, TrustError> {
        let source = self.key_source()?;
        source
            .key_set(uri, UrlOrigin::Config, refresh)
            .await
            .map_err(|e| {
                TrustError::Unknown(
                    anyhow::Error::new(e).context("fetching the directory's JWK Set"),
                )
            })
    }

    /// The client's keys from its verified statement: inline `jwks`, else its
    /// `jwks_uri` / `software_jwks_endpoint` (a request-named URL). The flag says
    /// whether they were fetched (and so may be refreshed).
    async fn client_keys(
        &self,
        statement: &Statement,
        refresh: bool,
    ) -> Result<(Arc<KeySet>, bool), TrustError> {
        if let Some(jwks) = statement.jwks() {
            let keys = KeySet::from_value(jwks)
                .map_err(|e| TrustError::InvalidStatement(format!("its jwks: {e}")))?;
            return Ok((Arc::new(keys), false));
        }
        let Some(uri) = statement.jwks_uri() else {
            return Err(TrustError::InvalidStatement(
                "it names no keys (jwks, jwks_uri or software_jwks_endpoint) for the request object".into(),
            ));
        };
        let keys = self
            .key_source()?
            .key_set(uri, UrlOrigin::Request, refresh)
            .await
            .map_err(|e| match e {
                KeyError::Forbidden(d) => {
                    TrustError::InvalidStatement(format!("its jwks_uri is not allowed: {d}"))
                }
                KeyError::Unavailable(d) => {
                    TrustError::InvalidStatement(format!("its jwks_uri could not be fetched: {d}"))
                }
                KeyError::Invalid(d) => {
                    TrustError::InvalidStatement(format!("its jwks_uri is not a JWK Set: {d}"))
                }
            })?;
        Ok((keys, true))
    }

    fn key_source(&self) -> Result<&Arc<dyn KeySource>, TrustError> {
        self.keys
            .as_ref()
            .ok_or_else(|| TrustError::Unknown(anyhow::anyhow!("no key source is configured")))
    }
}

fn merge(
    metadata: &mut Map<String, Value>,
    statement: &Statement,
    profile: Profile,
) -> Result<(), TrustError> {
    merge_statement(metadata, &statement.claims, profile).map_err(|e| match e.error_code() {
        "invalid_redirect_uri" => TrustError::Metadata(MetadataError {
            code: ErrorCode::InvalidRedirectUri,
            description: e.to_string(),
        }),
        "invalid_client_metadata" => TrustError::Metadata(MetadataError {
            code: ErrorCode::InvalidClientMetadata,
            description: e.to_string(),
        }),
        _ => TrustError::InvalidStatement(e.to_string()),
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
                tracing::error!(error = %e, "the access token issuer's JWK Set is unavailable");
                AuthError::Invalid
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
