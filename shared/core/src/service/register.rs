//! `POST /register` (RFC 7591 §3).

use anyhow::Context;
use dcr_validation::{
    ErrorCode, MetadataError, Profile, SERVER_OWNED, validate, validate_custom_client_id,
    validate_custom_client_secret,
};
use serde_json::{Map, Value};

use crate::errors::RegisterError;
use crate::model::{ClientRecord, ClientState};
use crate::ports::{ClientSecret, StoreError};
use crate::tokens::{
    CLIENT_ID_BYTES, SECRET_BYTES, UK_OB_SECRET_BYTES, ct_eq, hash_token, random_token,
};

use super::{Body, ClientInfo, Credential, RETRY_WINDOW, SWEEP_GRACE, Service, deadline};

/// A registration request, as the HTTP layer parsed it.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    /// The body: metadata, or a signed request object.
    pub body: Body,
    /// The `Authorization` header: an initial access token, when required.
    pub credential: Credential,
    /// The issuer the response's URIs are built from.
    pub issuer: String,
    /// The subject DN of a verified TLS client certificate, if the request had one.
    pub client_certificate: Option<String>,
}

/// Removes the server-owned members (RFC 7591 §3.2.1, RFC 7592 §2.2): the
/// `client_id` and `client_secret` a request may choose are returned, the rest
/// are ignored.
pub(super) fn take_server_owned(
    metadata: &mut Map<String, Value>,
) -> Result<(Option<String>, Option<String>), MetadataError> {
    let take = |metadata: &mut Map<String, Value>, key: &str| match metadata.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    };
    let chosen = (
        take(metadata, "client_id")?,
        take(metadata, "client_secret")?,
    );
    for key in SERVER_OWNED {
        metadata.remove(*key);
    }
    Ok(chosen)
}

pub(super) fn invalid(description: String) -> MetadataError {
    MetadataError {
        code: ErrorCode::InvalidClientMetadata,
        description,
    }
}

impl Service {
    /// Registers a client: validates, stores record and secret crash-safely, and
    /// returns the client information with its credentials.
    pub async fn register(&self, request: RegisterRequest) -> Result<ClientInfo, RegisterError> {
        if self
            .config
            .registration_endpoint_authentication
            .require_mtls
            && request.client_certificate.is_none()
        {
            return Err(RegisterError::CertificateRequired);
        }
        let owner = self.authorize_registration(&request.credential).await?;
        let admitted = self
            .admit(
                request.body,
                &request.issuer,
                self.config.require_software_statement(),
            )
            .await?;
        let mut raw = admitted.metadata;
        let (custom_id, custom_secret) = take_server_owned(&mut raw)?;
        if (custom_id.is_some() || custom_secret.is_some())
            && !self
                .config
                .registration_endpoint_authentication
                .allow_custom_client_creds
        {
            return Err(
                invalid("client_id and client_secret are assigned by the server".into()).into(),
            );
        }
        if let Some(id) = &custom_id {
            validate_custom_client_id(id)?;
        }
        if let Some(secret) = &custom_secret {
            validate_custom_client_secret(secret)?;
        }
        let metadata = validate(&raw, &self.rules)?;
        self.check_sector(&metadata).await?;
        if custom_secret.is_some() && !metadata.needs_secret() {
            return Err(invalid(format!(
                "client_secret given but token_endpoint_auth_method {} uses none",
                metadata.token_endpoint_auth_method()
            ))
            .into());
        }
        let software_id = metadata.software_id().map(str::to_owned);
        if let Some(id) = &software_id {
            self.check_software_unique(id).await?;
        }

        let now = self.now();
        let custom_id_chosen = custom_id.is_some();
        let secret = match (metadata.needs_secret(), custom_secret) {
            (false, _) => None,
            (true, Some(s)) => Some(ClientSecret::new(s)),
            (true, None) => Some(self.new_client_secret()?),
        };
        let token = if self.config.issues_registration_token() {
            Some(random_token(SECRET_BYTES).context("drawing a registration access token")?)
        } else {
            None
        };
        let expires_at = deadline(now, self.config.client_lifetime);
        let mut record = ClientRecord {
            client_id: match custom_id {
                Some(id) => id,
                None => random_token(CLIENT_ID_BYTES).context("drawing a client id")?,
            },
            state: ClientState::Pending,
            metadata: metadata.to_json(),
            client_id_issued_at: now,
            has_secret: secret.is_some(),
            client_secret_expires_at: if secret.is_some() {
                deadline(now, self.config.client_secret_lifetime)
            } else {
                0
            },
            token_hash: token.as_deref().map(hash_token),
            token_expires_at: match token {
                Some(_) => deadline(now, self.config.registration_access_token.lifetime),
                None => 0,
            },
            previous_token_hash: None,
            previous_token_expires_at: 0,
            owner,
            software_id,
            software_statement: admitted.statement,
            expires_at,
            retry_until: if custom_id_chosen {
                now + RETRY_WINDOW
            } else {
                0
            },
            version: 1,
            updated_at: now,
            sweep_at: now + SWEEP_GRACE,
        };

        // A store that also keeps the secret registers in one atomic write. A
        // client-chosen id takes the general path, which handles retries.
        if !custom_id_chosen {
            let mut active = record.clone();
            active.state = ClientState::Active;
            active.sweep_at = expires_at;
            let done = self
                .clients
                .insert_with_secret(&active, secret.as_ref())
                .await
                .context("storing the client and its secret")?;
            if done {
                return Ok(ClientInfo::build(
                    &active,
                    secret.as_ref(),
                    token.as_deref(),
                    &request.issuer,
                ));
            }
        }

        // 1. The pending record claims the id; it is invisible until step 3.
        if let Some(done) = self.claim_id(&mut record, secret.as_ref()).await? {
            // A retry of a registration whose response was lost.
            return self.answer_retry(done, &request.issuer).await;
        }
        // 2. The secret, under a record that exists.
        if let Some(secret) = &secret {
            self.secrets
                .put(&record.client_id, secret)
                .await
                .context("storing the client secret")?;
        }
        // 3. Visible only now that the secret is safe.
        let pending_version = record.version;
        record.state = ClientState::Active;
        record.version += 1;
        record.sweep_at = expires_at;
        self.clients
            .replace(&record, pending_version)
            .await
            .context("activating the client record")?;

        Ok(ClientInfo::build(
            &record,
            secret.as_ref(),
            token.as_deref(),
            &request.issuer,
        ))
    }

    /// Inserts the pending record; a client-chosen id may take over the pending
    /// record of its own earlier, failed attempt, never a live client. Returns
    /// the live record when the request repeats a registration that completed
    /// within [`RETRY_WINDOW`] and was not updated since (same id, same
    /// metadata, proven by the same client secret). Outside that, the secret is
    /// not even read: a right and a wrong one get the same answer.
    async fn claim_id(
        &self,
        record: &mut ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<Option<ClientRecord>, RegisterError> {
        match self.clients.insert(record).await {
            Ok(()) => Ok(None),
            Err(StoreError::AlreadyExists) => {
                let existing = self
                    .clients
                    .get(&record.client_id)
                    .await
                    .context("reading the existing record")?;
                let now = self.now();
                match existing {
                    Some(old) if old.state == ClientState::Pending => {
                        record.version = old.version + 1;
                        self.clients
                            .replace(record, old.version)
                            .await
                            .context("taking over a pending record")?;
                        Ok(None)
                    }
                    Some(old)
                        if old.is_live(now)
                            && now <= old.retry_until
                            && old.metadata == record.metadata
                            && self.same_secret(&old, secret).await? =>
                    {
                        Ok(Some(old))
                    }
                    _ => Err(invalid("client_id is already in use".into()).into()),
                }
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context("inserting the pending record")
                .into()),
        }
    }

    /// Whether `secret` is the stored secret of `record` (constant time).
    async fn same_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, RegisterError> {
        let (Some(given), true) = (secret, record.has_secret) else {
            return Ok(false);
        };
        let stored = self
            .secrets
            .get(&record.client_id)
            .await
            .context("reading the client secret")?;
        Ok(stored.is_some_and(|s| ct_eq(s.expose(), given.expose())))
    }

    /// Answers a repeated registration: the same client, with a new registration
    /// access token (only the old one's hash is kept, so it cannot be returned).
    /// The token of the first answer stays valid in the previous-token slot, with
    /// its own expiry: a retry never takes a working token away. A further
    /// retry replaces only the token of the retry before it.
    async fn answer_retry(
        &self,
        mut record: ClientRecord,
        issuer: &str,
    ) -> Result<ClientInfo, RegisterError> {
        let secret = self
            .secrets
            .get(&record.client_id)
            .await
            .context("reading the client secret")?;
        let token = if self.config.issues_registration_token() {
            let now = self.now();
            let token =
                random_token(SECRET_BYTES).context("drawing a registration access token")?;
            let version = record.version;
            if record.previous_token_hash.is_none() {
                record.previous_token_hash = record.token_hash.take();
                record.previous_token_expires_at = record.token_expires_at;
            }
            record.token_hash = Some(hash_token(&token));
            record.token_expires_at = deadline(now, self.config.registration_access_token.lifetime);
            record.version += 1;
            record.updated_at = now;
            self.clients
                .replace(&record, version)
                .await
                .context("renewing the registration access token")?;
            Some(token)
        } else {
            None
        };
        Ok(ClientInfo::build(
            &record,
            secret.as_ref(),
            token.as_deref(),
            issuer,
        ))
    }

    /// A new client secret from the OS CSPRNG: 256 bits, except under uk-ob,
    /// whose DCR 3.3 response limits `client_secret` to 36 characters (216 bits).
    pub(super) fn new_client_secret(&self) -> anyhow::Result<ClientSecret> {
        let bytes = if self.config.profile == Profile::UkOb {
            UK_OB_SECRET_BYTES
        } else {
            SECRET_BYTES
        };
        Ok(ClientSecret::new(
            random_token(bytes).context("drawing a client secret")?,
        ))
    }

    /// One client per `software_id` where the profile says so (AU CDR).
    async fn check_software_unique(&self, software_id: &str) -> Result<(), RegisterError> {
        if self.config.profile != Profile::AuCdr {
            return Ok(());
        }
        let now = self.now();
        for id in self
            .clients
            .find_by_software_id(software_id)
            .await
            .context("looking up the software_id")?
        {
            let live = self
                .clients
                .get(&id)
                .await
                .context("reading a client of the software_id")?
                .is_some_and(|r| r.is_live(now));
            if live {
                return Err(
                    invalid("a client is already registered for this software_id".into()).into(),
                );
            }
        }
        Ok(())
    }
}
