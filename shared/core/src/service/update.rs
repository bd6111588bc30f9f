//! `GET`, `PUT` and `DELETE /register/{client_id}` (RFC 7592 §2).

use anyhow::Context;
use dcr_validation::validate;

use crate::errors::{DeleteError, ReadError, UpdateError};
use crate::model::{ClientRecord, ClientState};
use crate::ports::{ClientSecret, StoreError};
use crate::tokens::{SECRET_BYTES, ct_eq, hash_token, random_token};

use super::auth::Via;
use super::register::take_server_owned;
use super::{Body, Caller, ClientInfo, Credential, SWEEP_GRACE, Service, deadline};

/// A full-replacement update (RFC 7592 §2.2).
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The client named by the path.
    pub client_id: String,
    /// The `Authorization` header.
    pub credential: Credential,
    /// The new metadata (every field the client wants to keep), or a signed
    /// request object carrying it.
    pub body: Body,
    /// The issuer the response's URIs are built from.
    pub issuer: String,
    /// The subject DN of a verified TLS client certificate, if the request had one.
    pub client_certificate: Option<String>,
}

impl Service {
    /// Reads a client's current registration (RFC 7592 §2.1).
    pub async fn read(
        &self,
        client_id: &str,
        caller: &Caller,
        issuer: &str,
    ) -> Result<ClientInfo, ReadError> {
        let auth = self.authorize(client_id, caller, false).await?;
        let secret = self.load_secret(&auth.record).await?;
        let token = match &auth.via {
            Via::RegistrationToken(t) => Some(t.as_str()),
            Via::AccessToken => None,
        };
        Ok(ClientInfo::build(
            &auth.record,
            secret.as_ref(),
            token,
            issuer,
        ))
    }

    /// Replaces a client's metadata: omitted fields are reset to their defaults.
    pub async fn update(&self, request: UpdateRequest) -> Result<ClientInfo, UpdateError> {
        let caller = Caller {
            credential: request.credential,
            client_certificate: request.client_certificate,
        };
        let auth = self.authorize(&request.client_id, &caller, false).await?;
        let old = auth.record;
        let statement_required = self
            .config
            .management_endpoint_authentication
            .require_software_statement;
        let admitted = self
            .admit(request.body, &request.issuer, statement_required)
            .await?;
        let mut raw = admitted.metadata;
        let (body_id, body_secret) = take_server_owned(&mut raw)?;
        if body_id.as_deref().is_some_and(|id| id != old.client_id) {
            return Err(UpdateError::InvalidRequest(
                "client_id in the body must equal the client being updated".into(),
            ));
        }
        let current_secret = self.load_secret(&old).await?;
        if let Some(given) = &body_secret {
            let matches = current_secret
                .as_ref()
                .is_some_and(|s| ct_eq(s.expose(), given));
            if !matches {
                return Err(UpdateError::InvalidRequest(
                    "client_secret does not match the current client secret".into(),
                ));
            }
        }
        let metadata = validate(&raw, &self.rules)?;
        self.check_sector(&metadata).await?;
        if old.software_id.is_some() && metadata.software_id() != old.software_id.as_deref() {
            return Err(UpdateError::InvalidMetadata(super::register::invalid(
                "software_id cannot change".into(),
            )));
        }

        let now = self.now();
        let needs_secret = metadata.needs_secret();
        let secret_expired =
            old.client_secret_expires_at != 0 && old.client_secret_expires_at <= now;
        // A secret is (re)issued when the new method needs one and the old one is
        // missing or expired; otherwise the current one stays.
        let new_secret = if needs_secret && (current_secret.is_none() || secret_expired) {
            Some(self.new_client_secret()?)
        } else {
            None
        };
        let rotate = matches!(auth.via, Via::RegistrationToken(_))
            && self.config.registration_access_token.rotate_on_update;
        let mut record = old.clone();
        let token = match &auth.via {
            Via::RegistrationToken(_) if rotate => {
                let t =
                    random_token(SECRET_BYTES).context("drawing a registration access token")?;
                self.rotate_token(&mut record, &t, now);
                Some(t)
            }
            Via::RegistrationToken(t) => Some(t.clone()),
            Via::AccessToken => None,
        };
        let record = ClientRecord {
            metadata: metadata.to_json(),
            has_secret: needs_secret,
            client_secret_expires_at: match (&new_secret, needs_secret) {
                (Some(_), _) => deadline(now, self.config.client_secret_lifetime),
                (None, true) => old.client_secret_expires_at,
                (None, false) => 0,
            },
            software_statement: admitted
                .statement
                .or_else(|| old.software_statement.clone()),
            version: old.version + 1,
            updated_at: now,
            // A client written by a PUT is no longer its registration's retry.
            retry_until: 0,
            ..record
        };

        // A new secret is stored before the record that needs it; a secret no
        // longer needed is deleted after the record stopped needing it.
        if let Some(secret) = &new_secret {
            self.secrets
                .put(&record.client_id, secret)
                .await
                .context("storing the new client secret")?;
        }
        match self.clients.replace(&record, old.version).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(UpdateError::Conflict),
            Err(e) => return Err(anyhow::Error::new(e).context("replacing the record").into()),
        }
        // Always, not only when the old record had one: a retry must also clean up
        // after an earlier attempt that died between these two steps.
        if !needs_secret {
            self.secrets
                .delete(&record.client_id)
                .await
                .context("deleting the unneeded client secret")?;
        }
        let secret = new_secret.or(if needs_secret { current_secret } else { None });
        Ok(ClientInfo::build(
            &record,
            secret.as_ref(),
            token.as_deref(),
            &request.issuer,
        ))
    }

    /// Makes `token` the record's registration access token. The one it
    /// replaces stays accepted for `rotation_grace` seconds (never past its own
    /// expiry), so a client whose answer was lost can retry with it; whatever
    /// was in the previous slot is gone.
    fn rotate_token(&self, record: &mut ClientRecord, token: &str, now: i64) {
        let settings = &self.config.registration_access_token;
        let grace_end = deadline(now, settings.rotation_grace);
        let own_end = record.token_expires_at;
        let previous_end = match own_end {
            0 => grace_end,
            end => end.min(grace_end),
        };
        let keep_previous = settings.rotation_grace > 0 && previous_end > now;
        record.previous_token_hash = record.token_hash.take().filter(|_| keep_previous);
        record.previous_token_expires_at = if record.previous_token_hash.is_some() {
            previous_end
        } else {
            0
        };
        record.token_hash = Some(hash_token(token));
        record.token_expires_at = deadline(now, settings.lifetime);
    }

    /// Deletes a client and its secret (RFC 7592 §2.3); a retry resumes a delete
    /// that failed half-way.
    pub async fn delete(&self, client_id: &str, caller: &Caller) -> Result<(), DeleteError> {
        let auth = self.authorize(client_id, caller, true).await?;
        let mut record = auth.record;
        if record.state != ClientState::Deleting {
            let version = record.version;
            let now = self.now();
            record.state = ClientState::Deleting;
            record.version += 1;
            record.updated_at = now;
            record.sweep_at = now + SWEEP_GRACE;
            match self.clients.replace(&record, version).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => return Err(DeleteError::Conflict),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("marking the record deleting")
                        .into());
                }
            }
        }
        self.finish_delete(&record).await?;
        Ok(())
    }

    /// Deletes the secret, then the record: the last two steps of every delete.
    pub(super) async fn finish_delete(&self, record: &ClientRecord) -> anyhow::Result<()> {
        self.secrets
            .delete(&record.client_id)
            .await
            .context("deleting the client secret")?;
        match self.clients.delete(&record.client_id, record.version).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context("deleting the client record")),
        }
    }

    /// The secret of a record that has one; its absence is a broken invariant.
    async fn load_secret(&self, record: &ClientRecord) -> anyhow::Result<Option<ClientSecret>> {
        if !record.has_secret {
            return Ok(None);
        }
        let secret = self
            .secrets
            .get(&record.client_id)
            .await
            .context("reading the client secret")?;
        match secret {
            Some(s) => Ok(Some(s)),
            None => anyhow::bail!("client {} is active but has no secret", record.client_id),
        }
    }
}
