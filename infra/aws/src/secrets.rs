//! The Secrets Manager [`SecretStore`]: one secret per client, named
//! `{prefix}{client_id}`, tagged `dcr:client_id`.
//!
//! The IAM actions each call needs are listed once, in [`crate::permissions`].

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::types::Tag;
use dcr_core::{ClientId, ClientSecret, SecretStore, StoreError, same_secret};

/// Tag key carrying the client id on every secret the store creates.
pub const CLIENT_ID_TAG: &str = "dcr:client_id";

/// How often `put` starts over when a secret vanishes under it (AWS finishes a
/// forced deletion asynchronously, so a name can be briefly neither usable nor free).
const PUT_ATTEMPTS: u32 = 4;

/// A [`SecretStore`] on AWS Secrets Manager.
#[derive(Clone)]
pub struct SecretsManagerStore {
    client: Client,
    prefix: String,
    kms_key_id: Option<String>,
    recovery_days: Option<i64>,
}

impl std::fmt::Debug for SecretsManagerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerStore")
            .field("prefix", &self.prefix)
            .field("kms_key_id", &self.kms_key_id)
            .field("recovery_days", &self.recovery_days)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerStore {
    /// A store naming secrets `{prefix}{client_id}`, encrypted with the account's default key,
    /// deleted at once (no recovery window).
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
            kms_key_id: None,
            recovery_days: None,
        }
    }

    /// Encrypts new secrets with this KMS key (id, ARN or alias) instead of the default.
    pub fn with_kms_key_id(mut self, kms_key_id: Option<String>) -> Self {
        self.kms_key_id = kms_key_id;
        self
    }

    /// Schedules deletions with this recovery window (7..=30 days) instead of deleting at once.
    pub fn with_recovery_days(mut self, days: Option<i64>) -> Self {
        self.recovery_days = days;
        self
    }

    /// The secret name for a client.
    pub fn secret_name(&self, client_id: &str) -> String {
        format!("{}{}", self.prefix, client_id)
    }

    async fn create(
        &self,
        name: &str,
        client_id: &str,
        secret: &ClientSecret,
    ) -> Result<Created, StoreError> {
        let result = self
            .client
            .create_secret()
            .name(name)
            .secret_string(secret.expose())
            .set_kms_key_id(self.kms_key_id.clone())
            .tags(Tag::builder().key(CLIENT_ID_TAG).value(client_id).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::Yes),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_exists_exception() => Ok(Created::Exists),
                // AWS: "a secret with this name is already scheduled for deletion".
                Some(se) if se.is_invalid_request_exception() => Ok(Created::ScheduledForDeletion),
                _ => Err(sdk_error(e, "Secrets Manager CreateSecret failed")),
            },
        }
    }

    /// Whether the secret is scheduled for deletion; `None` if it does not exist.
    async fn scheduled_for_deletion(&self, name: &str) -> Result<Option<bool>, StoreError> {
        match self.client.describe_secret().secret_id(name).send().await {
            Ok(out) => Ok(Some(out.deleted_date().is_some())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(e, "Secrets Manager DescribeSecret failed")),
        }
    }

    /// Cancels a scheduled deletion; `false` if the secret no longer exists.
    async fn restore(&self, name: &str) -> Result<bool, StoreError> {
        match self.client.restore_secret().secret_id(name).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e, "Secrets Manager RestoreSecret failed")),
        }
    }

    async fn put_value(&self, name: &str, secret: &ClientSecret) -> Result<PutValue, StoreError> {
        let result = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(secret.expose())
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutValue::Done),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => Ok(PutValue::Gone),
                // AWS: "marked for deletion".
                Some(se) if se.is_invalid_request_exception() => Ok(PutValue::ScheduledForDeletion),
                _ => Err(sdk_error(e, "Secrets Manager PutSecretValue failed")),
            },
        }
    }

    /// Overwrites an existing secret, restoring it first if it is scheduled for deletion.
    /// `false` if the secret vanished meanwhile (the caller starts over).
    async fn overwrite(&self, name: &str, secret: &ClientSecret) -> Result<bool, StoreError> {
        // Describe first: an emulator may accept a new value on a deleted secret
        // and leave it deleted, so the error path alone is not enough.
        match self.scheduled_for_deletion(name).await? {
            None => return Ok(false),
            Some(true) => {
                if !self.restore(name).await? {
                    return Ok(false);
                }
            }
            Some(false) => {}
        }
        match self.put_value(name, secret).await? {
            PutValue::Done => Ok(true),
            PutValue::Gone => Ok(false),
            // Deleted between the describe and the put: restore and try once more.
            PutValue::ScheduledForDeletion => {
                if !self.restore(name).await? {
                    return Ok(false);
                }
                match self.put_value(name, secret).await? {
                    PutValue::Done => Ok(true),
                    PutValue::Gone => Ok(false),
                    PutValue::ScheduledForDeletion => Err(StoreError::Unknown(anyhow::anyhow!(
                        "Secrets Manager: the secret was scheduled for deletion again while being restored"
                    ))),
                }
            }
        }
    }
}

impl SecretsManagerStore {
    /// The secret's current value and version (`AWSCURRENT`); scheduled for
    /// deletion or missing is no value (deleted, as far as the service is concerned).
    async fn current(&self, name: &str) -> Result<Current, StoreError> {
        match self
            .client
            .get_secret_value()
            .secret_id(name)
            // The default, named: put_if moves this label (and moto reads a
            // default version of its own otherwise).
            .version_stage("AWSCURRENT")
            .send()
            .await
        {
            Ok(out) => match (out.secret_string, out.version_id) {
                (Some(value), Some(version)) => {
                    Ok(Current::Value(ClientSecret::new(value), version))
                }
                _ => Err(StoreError::Unknown(anyhow::anyhow!(
                    "Secrets Manager: the secret has no string value or no version"
                ))),
            },
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => Ok(Current::None),
                Some(se) if se.is_invalid_request_exception() => Ok(Current::None),
                _ => Err(sdk_error(e, "Secrets Manager GetSecretValue failed")),
            },
        }
    }

    /// Puts `secret` as a new version without a stage, then moves `AWSCURRENT`
    /// to it from `from` only: the move fails if another version took the
    /// label meanwhile (a concurrent swap won), which is `Conflict`. A version
    /// left without a stage is never read, and Secrets Manager drops it.
    async fn swap_current(
        &self,
        name: &str,
        secret: &ClientSecret,
        from: &str,
    ) -> Result<(), StoreError> {
        let staged = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(secret.expose())
            .version_stages(STAGED)
            .send()
            .await;
        let version = match staged {
            Ok(out) => out.version_id.ok_or_else(|| {
                StoreError::Unknown(anyhow::anyhow!(
                    "Secrets Manager: PutSecretValue returned no version"
                ))
            })?,
            Err(e) => match e.as_service_error() {
                // Deleted or scheduled for deletion meanwhile: not the secret read.
                Some(se)
                    if se.is_resource_not_found_exception()
                        || se.is_invalid_request_exception() =>
                {
                    return Err(StoreError::Conflict);
                }
                _ => return Err(sdk_error(e, "Secrets Manager PutSecretValue failed")),
            },
        };
        let moved = self
            .client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage("AWSCURRENT")
            .move_to_version_id(version)
            .remove_from_version_id(from)
            .send()
            .await;
        match moved {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                // `from` no longer holds AWSCURRENT (or the secret is gone).
                Some(se)
                    if se.is_invalid_parameter_exception()
                        || se.is_resource_not_found_exception()
                        || se.is_invalid_request_exception() =>
                {
                    Err(StoreError::Conflict)
                }
                _ => Err(sdk_error(
                    e,
                    "Secrets Manager UpdateSecretVersionStage failed",
                )),
            },
        }
    }

    /// `put_if` over a secret scheduled for deletion (no secret, as `get` says):
    /// the version current when it was deleted is noted first, the secret
    /// restored, and the new value swapped in from that version only, so of
    /// two concurrent revivals one wins.
    async fn revive_and_swap(&self, name: &str, secret: &ClientSecret) -> Result<(), StoreError> {
        let described = match self.client.describe_secret().secret_id(name).send().await {
            Ok(out) => out,
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => {
                    return Err(StoreError::Conflict);
                }
                _ => return Err(sdk_error(e, "Secrets Manager DescribeSecret failed")),
            },
        };
        if described.deleted_date().is_none() {
            // Restored (and maybe given a value) by someone else meanwhile.
            return Err(StoreError::Conflict);
        }
        let from = described
            .version_ids_to_stages()
            .and_then(|versions| {
                versions
                    .iter()
                    .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
            })
            .map(|(version, _)| version.clone())
            .ok_or_else(|| {
                StoreError::Unknown(anyhow::anyhow!(
                    "Secrets Manager: a secret scheduled for deletion has no current version"
                ))
            })?;
        if !self.restore(name).await? {
            return Err(StoreError::Conflict);
        }
        self.swap_current(name, secret, &from).await
    }
}

/// The stage of a value `put_if` wrote and has not yet made current.
const STAGED: &str = "DCRSTAGED";

enum Current {
    Value(ClientSecret, String),
    None,
}

enum Created {
    Yes,
    Exists,
    ScheduledForDeletion,
}

enum PutValue {
    Done,
    Gone,
    ScheduledForDeletion,
}

/// Turns any SDK failure into `Unknown`, with the full error context for the log.
fn sdk_error<E, R>(err: SdkError<E, R>, what: &'static str) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unknown(anyhow::anyhow!("{}", DisplayErrorContext(&err)).context(what))
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError> {
        let name = self.secret_name(client_id);
        for attempt in 0..PUT_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let done = match self.create(&name, client_id, secret).await? {
                Created::Yes => true,
                Created::Exists => self.overwrite(&name, secret).await?,
                Created::ScheduledForDeletion => self.overwrite(&name, secret).await?,
            };
            if done {
                return Ok(());
            }
        }
        Err(StoreError::Unknown(anyhow::anyhow!(
            "Secrets Manager: the secret kept vanishing while being written ({PUT_ATTEMPTS} attempts)"
        )))
    }

    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError> {
        let name = self.secret_name(client_id);
        match (self.current(&name).await?, expected) {
            (Current::Value(stored, version), Some(expected))
                if same_secret(Some(&stored), Some(expected)) =>
            {
                self.swap_current(&name, secret, &version).await
            }
            (Current::None, None) => match self.create(&name, client_id, secret).await? {
                Created::Yes => Ok(()),
                // Scheduled for deletion (an emulator may call that "exists"),
                // or created by someone else since the read: the revival tells.
                Created::Exists | Created::ScheduledForDeletion => {
                    self.revive_and_swap(&name, secret).await
                }
            },
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        match self.current(&self.secret_name(client_id)).await? {
            Current::Value(secret, _) => Ok(Some(secret)),
            Current::None => Ok(None),
        }
    }

    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError> {
        let name = self.secret_name(client_id);
        let request = self.client.delete_secret().secret_id(name);
        let request = match self.recovery_days {
            Some(days) => request.recovery_window_in_days(days),
            None => request.force_delete_without_recovery(true),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => Ok(()),
                // Already scheduled for deletion: inaccessible, and gone when the window ends.
                Some(se) if se.is_invalid_request_exception() => Ok(()),
                _ => Err(sdk_error(e, "Secrets Manager DeleteSecret failed")),
            },
        }
    }
}
