//! `PUT /register/{client_id}` (RFC 7592 §2.2), step by step: who is calling,
//! what the body carries, the rules the new metadata must pass against the
//! client it replaces, the replacing record and credentials, and storing them
//! in an order that leaves no readable client without its secret.

use anyhow::Context;
use dcr_validation::ClientMetadata;

use crate::errors::{BodyError, UpdateError};
use crate::model::{ClientId, ClientRecord};
use crate::ports::{ClientSecret, StoreError};
use crate::tokens::{SECRET_BYTES, ct_eq, hash_token, random_token};

use super::auth::{Authorized, Via};
use super::hooks::{HookContext, HookPoint, authenticated_by};
use super::steps::{invalid, take_server_owned};
use super::trust::Admitted;
use super::{Body, Caller, ClientInfo, Service, deadline};

/// A full-replacement update (RFC 7592 §2.2).
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The client named by the path; `None` when the path cannot name one
    /// (answered exactly as an unknown client).
    pub client_id: Option<ClientId>,
    /// Who is calling: its bearer token, a verified client certificate.
    pub caller: Caller,
    /// The new metadata (every field the client wants to keep), or a signed
    /// request object carrying it.
    pub body: Body,
    /// The issuer the response's URIs are built from.
    pub issuer: String,
}

/// New metadata that passed every rule against the client it replaces.
struct Replacement {
    metadata: ClientMetadata,
    statement: Option<String>,
    current_secret: Option<ClientSecret>,
}

/// The replacing record, and the credentials the answer shows.
struct Replaced {
    record: ClientRecord,
    /// A secret issued by this update (stored before the record).
    new_secret: Option<ClientSecret>,
    /// The client's secret as this update read it: what a new one replaces.
    read_secret: Option<ClientSecret>,
    /// The secret the answer shows: the new one, else the kept one.
    secret: Option<ClientSecret>,
    /// The registration access token the answer shows.
    token: Option<String>,
}

impl Service {
    /// Replaces a client's metadata: omitted fields are reset to their defaults.
    pub async fn update(&self, request: UpdateRequest) -> Result<ClientInfo, UpdateError> {
        let auth = self
            .authorize::<UpdateError>(request.client_id.as_ref(), &request.caller, false)
            .await?;
        let statement_required = self
            .config
            .management_endpoint_authentication
            .require_software_statement;
        let body = self
            .admit::<UpdateError>(request.body, &request.issuer, statement_required)
            .await?;
        let replacement = self.check_replacement(&auth.record, body).await?;
        let replacement = self
            .pre_update_hook(&auth, replacement, &request.caller)
            .await?;
        let replaced = self.replace(&auth, replacement)?;
        self.store_replacement(&auth.record, &replaced).await?;
        Ok(ClientInfo::build(
            &self.shown(&replaced.record),
            replaced.secret.as_ref(),
            replaced.token.as_deref(),
            &request.issuer,
        ))
    }

    /// A `client_id` in the body must be the client's, a `client_secret` its
    /// current secret (never a new one, RFC 7592 §2.2); then the metadata
    /// rules, and a `software_id` that does not change.
    async fn check_replacement(
        &self,
        old: &ClientRecord,
        body: Admitted,
    ) -> Result<Replacement, UpdateError> {
        let mut raw = body.metadata;
        let chosen = take_server_owned(&mut raw)?;
        if chosen.id.as_deref().is_some_and(|id| old.client_id != id) {
            return Err(BodyError::InvalidRequest(
                "client_id in the body must equal the client being updated".into(),
            )
            .into());
        }
        let current_secret = self.load_secret(old).await?;
        if let Some(given) = &chosen.secret {
            let matches = current_secret
                .as_ref()
                .is_some_and(|s| ct_eq(s.expose(), given));
            if !matches {
                return Err(BodyError::InvalidRequest(
                    "client_secret does not match the current client secret".into(),
                )
                .into());
            }
        }
        if let Some(template) = self.template_named(old.template.as_deref()) {
            template.apply(&mut raw)?;
        }
        let metadata = self.validate_metadata(&raw).await?;
        if old.software_id.is_some() && metadata.software_id() != old.software_id.as_deref() {
            return Err(invalid("software_id cannot change".into()).into());
        }
        Ok(Replacement {
            metadata,
            statement: body.statement,
            current_secret,
        })
    }

    /// The `pre_update` hook, when one is configured: the replacement as
    /// validated, with the client's current metadata, goes to it; it accepts,
    /// changes or rejects (docs/hooks.md).
    async fn pre_update_hook(
        &self,
        auth: &Authorized,
        mut replacement: Replacement,
        caller: &Caller,
    ) -> Result<Replacement, UpdateError> {
        let old = &auth.record;
        let current = self.shown(old);
        let template = self.template_named(old.template.as_deref());
        let protected = template
            .as_ref()
            .map(|t| t.field_names())
            .unwrap_or_default();
        let context = HookContext {
            client_id: Some(&old.client_id),
            current_metadata: Some(&current.metadata),
            statement: replacement
                .statement
                .as_deref()
                .or(old.software_statement.as_deref()),
            owner: old.owner.as_deref(),
            authenticated_by: authenticated_by(
                &caller.credential,
                matches!(auth.via, Via::RegistrationToken(_)),
            ),
            client_certificate: caller.client_certificate.as_deref(),
            template: old.template.as_deref(),
        };
        replacement.metadata = self
            .run_hook(
                HookPoint::PreUpdate,
                replacement.metadata,
                context,
                &protected,
            )
            .await?;
        Ok(replacement)
    }

    /// The replacing record: a secret issued when the new auth method needs one
    /// and the client has none or only an expired one, the registration access
    /// token rotated when `rotate_on_update` says so, the retry window closed.
    fn replace(
        &self,
        auth: &Authorized,
        replacement: Replacement,
    ) -> Result<Replaced, UpdateError> {
        let old = &auth.record;
        let now = self.now();
        let needs_secret = replacement.metadata.needs_secret();
        let secret_expired =
            old.client_secret_expires_at != 0 && old.client_secret_expires_at <= now;
        let new_secret = if needs_secret && (replacement.current_secret.is_none() || secret_expired)
        {
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
        let metadata = match self.template_named(old.template.as_deref()) {
            Some(template) => template.strip(replacement.metadata.to_json()),
            None => replacement.metadata.to_json(),
        };
        let record = ClientRecord {
            metadata,
            has_secret: needs_secret,
            client_secret_expires_at: match (&new_secret, needs_secret) {
                (Some(_), _) => deadline(now, self.config.client_secret_lifetime),
                (None, true) => old.client_secret_expires_at,
                (None, false) => 0,
            },
            software_statement: replacement
                .statement
                .or_else(|| old.software_statement.clone()),
            version: old.version + 1,
            updated_at: now,
            // A client written by a PUT is no longer its registration's retry.
            retry_until: 0,
            ..record
        };
        let read_secret = replacement.current_secret;
        let secret = new_secret.clone().or(if needs_secret {
            read_secret.clone()
        } else {
            None
        });
        Ok(Replaced {
            record,
            new_secret,
            read_secret,
            secret,
            token,
        })
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

    /// A new secret goes with the record in one write where the store keeps
    /// both, so an update that loses the race writes nothing. Elsewhere it is
    /// stored before the record that needs it, and only over the secret this
    /// update read, so that of updates that read the same secret only one
    /// stores its own (the others get the `409` of a lost race). A secret no
    /// longer needed is deleted after the record stopped needing it.
    async fn store_replacement(
        &self,
        old: &ClientRecord,
        replaced: &Replaced,
    ) -> Result<(), UpdateError> {
        let record = &replaced.record;
        if let Some(secret) = &replaced.new_secret {
            match self
                .clients
                .replace_with_secret(record, old.version, secret)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(StoreError::Conflict) => return Err(UpdateError::Conflict),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("replacing the record and its secret")
                        .into());
                }
            }
            // A client without a secret may still have one left over by a
            // failure (see `delete` below): that one is what a put replaces.
            let leftover = match old.has_secret {
                true => None,
                false => self
                    .secrets
                    .get(&record.client_id)
                    .await
                    .context("reading a leftover client secret")?,
            };
            match self
                .secrets
                .put_if(
                    &record.client_id,
                    secret,
                    replaced.read_secret.as_ref().or(leftover.as_ref()),
                )
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict) => return Err(UpdateError::Conflict),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("storing the new client secret")
                        .into());
                }
            }
        }
        match self.clients.replace(record, old.version).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(UpdateError::Conflict),
            Err(e) => return Err(anyhow::Error::new(e).context("replacing the record").into()),
        }
        // Always, not only when the old record had one: a retry must also clean up
        // after an earlier attempt that died between these two steps.
        if !record.has_secret {
            self.secrets
                .delete(&record.client_id)
                .await
                .context("deleting the unneeded client secret")?;
        }
        Ok(())
    }
}
