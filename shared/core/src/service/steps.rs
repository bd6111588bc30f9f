//! Steps that registration and update (and, for the secret, read) share: the
//! members of a body only the server sets, the metadata rules with the
//! sector check, a new client secret, and the stored secret of a client.

use anyhow::Context;
use dcr_validation::{ClientMetadata, ErrorCode, MetadataError, SERVER_OWNED, validate};
use serde_json::{Map, Value};

use crate::model::ClientRecord;
use crate::ports::ClientSecret;
use crate::tokens::random_token;

use super::Service;

/// The `client_id` and `client_secret` a body names, if any.
pub(super) struct Chosen {
    /// The body's `client_id`.
    pub id: Option<String>,
    /// The body's `client_secret`.
    pub secret: Option<String>,
}

/// Removes the server-owned members (RFC 7591 §3.2.1, RFC 7592 §2.2): the
/// `client_id` and `client_secret` a request may choose are returned, the rest
/// are ignored.
pub(super) fn take_server_owned(
    metadata: &mut Map<String, Value>,
) -> Result<Chosen, MetadataError> {
    let take = |metadata: &mut Map<String, Value>, key: &str| match metadata.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    };
    let chosen = Chosen {
        id: take(metadata, "client_id")?,
        secret: take(metadata, "client_secret")?,
    };
    for key in SERVER_OWNED {
        metadata.remove(*key);
    }
    Ok(chosen)
}

/// An `invalid_client_metadata` refusal (RFC 7591 §3.2.2).
pub(super) fn invalid(description: String) -> MetadataError {
    MetadataError {
        code: ErrorCode::InvalidClientMetadata,
        description,
    }
}

impl Service {
    /// The metadata rules (shared/validation) with the configured defaults,
    /// policy and profile, then the sector identifier document, if one is named.
    pub(super) async fn validate_metadata(
        &self,
        raw: &Map<String, Value>,
    ) -> Result<ClientMetadata, MetadataError> {
        let metadata = validate(raw, &self.rules)?;
        self.check_sector(&metadata).await?;
        Ok(metadata)
    }

    /// A new client secret from the OS CSPRNG, of the profile's size (256
    /// bits; uk-ob 216, as OB DCR 3.3 limits `client_secret` to 36 characters).
    pub(super) fn new_client_secret(&self) -> anyhow::Result<ClientSecret> {
        let bytes = self.config.profile.rules().registration.client_secret_bytes;
        Ok(ClientSecret::new(
            random_token(bytes).context("drawing a client secret")?,
        ))
    }

    /// The secret of a record that has one; its absence is a broken invariant.
    pub(super) async fn load_secret(
        &self,
        record: &ClientRecord,
    ) -> anyhow::Result<Option<ClientSecret>> {
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
