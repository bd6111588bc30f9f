//! Sealed client secrets (`ClientSecretStorage: sealed`): each secret encrypted
//! with AES-256-GCM and kept in its client's DynamoDB item, under a key ring
//! that is one Secrets Manager secret with versions.
//!
//! - [`KeyRing`]: the keys, read from Secrets Manager once per container.
//!   `AWSCURRENT` seals; any other version of the secret that still exists
//!   unseals what was sealed under it. A record naming a version the ring does
//!   not know makes it read that version (and `AWSCURRENT` again, which a
//!   rotation may have moved); a version Secrets Manager no longer has is an
//!   error naming it, never "no secret".
//! - [`SealedSecrets`]: the [`SecretStore`] on the item's `secret_sealed` and
//!   `secret_key_version` attributes ([`crate::dynamo`] writes them in one
//!   `PutItem` with a new record, `ClientStore::insert_with_secret`).
//!
//! A key is 32 random bytes in base64 (standard or URL-safe alphabet, padding
//! optional): `openssl rand -base64 32`, or the 43 characters the template
//! generates. A sealed secret is `base64url(nonce || ciphertext || tag)` with a
//! random 96-bit nonce; the associated data binds the client id and the key
//! version, so a sealed value moved to another item or relabelled with another
//! version does not open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose as Engine};
use dcr_core::{ClientId, ClientSecret, SecretStore, StoreError, same_secret};

use crate::dynamo::{
    DynamoClientStore, SECRET_KEY_VERSION, SECRET_MIRRORED, SECRET_SEALED, STATE, condition_failed,
    s,
};

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;

/// How long a version Secrets Manager said it does not have is not asked for again.
const MISSING_VERSION_PAUSE: Duration = Duration::from_secs(60);

/// Versions remembered as missing, at most (the oldest is forgotten first).
const MISSING_VERSIONS_KEPT: usize = 64;

/// A secret sealed under one key version, as the item stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The Secrets Manager version id of the key.
    pub key_version: String,
    /// `base64url(nonce || ciphertext || tag)`.
    pub value: String,
}

/// The associated data of a sealed secret: what it belongs to.
fn aad(client_id: &str, key_version: &str) -> Vec<u8> {
    let mut out = b"dcr client secret v1\0".to_vec();
    out.extend_from_slice(client_id.as_bytes());
    out.push(0);
    out.extend_from_slice(key_version.as_bytes());
    out
}

const fn lenient(alphabet: &base64::alphabet::Alphabet) -> Engine {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Decodes a key version's secret string: 32 bytes of base64, either alphabet.
pub fn parse_key(text: &str) -> anyhow::Result<[u8; KEY_BYTES]> {
    let text = text.trim();
    let bytes = lenient(&base64::alphabet::STANDARD)
        .decode(text)
        .or_else(|_| lenient(&base64::alphabet::URL_SAFE).decode(text))
        .map_err(|_| anyhow!("a key must be 32 random bytes in base64; this is not base64"))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        anyhow!(
            "a key must be 32 random bytes in base64; this decodes to {} bytes",
            b.len()
        )
    })
}

fn aead_key(bytes: &[u8; KEY_BYTES]) -> anyhow::Result<Arc<LessSafeKey>> {
    let unbound =
        UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow!("AES-256-GCM refused the key"))?;
    Ok(Arc::new(LessSafeKey::new(unbound)))
}

/// Seals `secret` for `client_id` under `key` (whose version is `key_version`).
fn seal_with(
    key: &LessSafeKey,
    key_version: &str,
    client_id: &str,
    secret: &ClientSecret,
) -> anyhow::Result<Sealed> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| anyhow!("drawing a nonce: {e}"))?;
    let mut data = secret.expose().as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(client_id, key_version)),
        &mut data,
    )
    .map_err(|_| anyhow!("sealing the client secret failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(Sealed {
        key_version: key_version.to_owned(),
        value: URL_SAFE_NO_PAD.encode(out),
    })
}

/// Opens a sealed secret of `client_id` with `key`.
fn open_with(key: &LessSafeKey, client_id: &str, sealed: &Sealed) -> anyhow::Result<ClientSecret> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&sealed.value)
        .map_err(|_| anyhow!("the sealed secret of client {client_id} is not base64url"))?;
    if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        bail!("the sealed secret of client {client_id} is too short");
    }
    let (nonce, sealed_bytes) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| anyhow!("the sealed secret of client {client_id} has a bad nonce"))?;
    let mut data = sealed_bytes.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad(client_id, &sealed.key_version)), &mut data)
        .map_err(|_| {
            anyhow!(
                "the sealed secret of client {client_id} does not open under key version {} (damaged, or not this client's)",
                sealed.key_version
            )
        })?;
    let text = String::from_utf8(plain.to_vec())
        .map_err(|_| anyhow!("the sealed secret of client {client_id} is not UTF-8"))?;
    Ok(ClientSecret::new(text))
}

#[derive(Default)]
struct Keys {
    /// The version `AWSCURRENT` named when last read.
    current: Option<String>,
    /// Every version read so far.
    by_version: HashMap<String, Arc<LessSafeKey>>,
}

/// The key ring: one Secrets Manager secret whose versions are the keys.
pub struct KeyRing {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    keys: tokio::sync::RwLock<Keys>,
    /// Versions Secrets Manager did not have, and when it said so.
    missing: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

/// What reading one version of the ring found.
enum Read {
    Key(String, Arc<LessSafeKey>),
    Missing,
}

impl KeyRing {
    /// The ring in the secret `secret_id` (name or ARN); nothing is read until first use.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            keys: tokio::sync::RwLock::new(Keys::default()),
            missing: Mutex::new(HashMap::new()),
        }
    }

    /// The secret holding the ring.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Reads one version (`None`: `AWSCURRENT`).
    async fn read(&self, version: Option<&str>) -> anyhow::Result<Read> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e)
                if version.is_some()
                    && e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(Read::Missing);
            }
            Err(e) => {
                return Err(anyhow!(
                    "{}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
                .context("Secrets Manager GetSecretValue of the key ring failed");
            }
        };
        let id = out
            .version_id()
            .ok_or_else(|| anyhow!("the key ring's GetSecretValue answer has no VersionId"))?
            .to_owned();
        let text = out
            .secret_string()
            .ok_or_else(|| anyhow!("key ring version {id} has no string value"))?;
        let key = parse_key(text).with_context(|| format!("key ring version {id}"))?;
        Ok(Read::Key(id.clone(), aead_key(&key)?))
    }

    /// Reads `AWSCURRENT` into the ring and makes it the sealing key.
    async fn refresh_current(&self) -> anyhow::Result<(String, Arc<LessSafeKey>)> {
        let Read::Key(id, key) = self.read(None).await? else {
            bail!("the key ring has no AWSCURRENT version");
        };
        let mut keys = self.keys.write().await;
        keys.current = Some(id.clone());
        keys.by_version.insert(id.clone(), key.clone());
        Ok((id, key))
    }

    /// The sealing key and its version, read on first use.
    pub async fn current(&self) -> anyhow::Result<(String, Arc<LessSafeKey>)> {
        {
            let keys = self.keys.read().await;
            if let Some(id) = &keys.current
                && let Some(key) = keys.by_version.get(id)
            {
                return Ok((id.clone(), key.clone()));
            }
        }
        self.refresh_current().await
    }

    /// The key of `version`: from the ring, else read from Secrets Manager
    /// together with `AWSCURRENT` (a version this container has not seen means
    /// the ring changed since it read it).
    async fn key(&self, version: &str) -> anyhow::Result<Arc<LessSafeKey>> {
        if let Some(key) = self.keys.read().await.by_version.get(version) {
            return Ok(key.clone());
        }
        let unknown = || {
            anyhow!(
                "sealed under key version {version}, which the key ring {} no longer has: \
                 the version was deleted, so this client secret cannot be opened",
                self.secret_id
            )
        };
        {
            let mut missing = self.missing.lock().map_err(|_| anyhow!("poisoned"))?;
            if missing
                .get(version)
                .is_some_and(|at| at.elapsed() < MISSING_VERSION_PAUSE)
            {
                return Err(unknown());
            }
            missing.remove(version);
        }
        let found = self.read(Some(version)).await?;
        self.refresh_current().await?;
        match found {
            Read::Key(id, key) => {
                self.keys.write().await.by_version.insert(id, key.clone());
                Ok(key)
            }
            Read::Missing => {
                let mut missing = self.missing.lock().map_err(|_| anyhow!("poisoned"))?;
                if missing.len() >= MISSING_VERSIONS_KEPT
                    && let Some(oldest) = missing
                        .iter()
                        .min_by_key(|(_, at)| **at)
                        .map(|(v, _)| v.clone())
                {
                    missing.remove(&oldest);
                }
                missing.insert(version.to_owned(), Instant::now());
                Err(unknown())
            }
        }
    }

    /// Seals `secret` for `client_id` under the current key.
    pub async fn seal(&self, client_id: &str, secret: &ClientSecret) -> anyhow::Result<Sealed> {
        let (version, key) = self.current().await?;
        seal_with(&key, &version, client_id, secret)
    }

    /// Opens a sealed secret of `client_id`, with whichever version sealed it.
    pub async fn open(&self, client_id: &str, sealed: &Sealed) -> anyhow::Result<ClientSecret> {
        let key = self.key(&sealed.key_version).await?;
        open_with(&key, client_id, sealed)
    }

    /// The version the ring seals under now, if this container has read it.
    pub async fn loaded_version(&self) -> Option<String> {
        self.keys.read().await.current.clone()
    }
}

/// The [`SecretStore`] of the sealed mode: the secret in its client's item.
///
/// A secret stored for an id that has no record yet makes an item holding only
/// the secret; `ClientStore` calls treat such an item as no record (a new
/// record replaces it, `delete` removes it).
#[derive(Debug, Clone)]
pub struct SealedSecrets {
    store: DynamoClientStore,
    ring: Arc<KeyRing>,
}

impl SealedSecrets {
    /// Secrets in the items of `store`'s table, sealed under `ring`.
    pub fn new(store: DynamoClientStore, ring: Arc<KeyRing>) -> Self {
        Self { store, ring }
    }
}

fn sdk_error<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>, what: &'static str) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unknown(anyhow!("{}", DisplayErrorContext(&err)).context(what))
}

/// The sealed secret of an item, if it has one; half of one is damage.
pub fn sealed_of(
    client_id: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<Option<Sealed>, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        None => Ok(None),
        Some(_) => Err(StoreError::Unknown(anyhow!(
            "attribute {name} of client {client_id} is not a string"
        ))),
    };
    match (text(SECRET_SEALED)?, text(SECRET_KEY_VERSION)?) {
        (Some(value), Some(key_version)) => Ok(Some(Sealed { key_version, value })),
        (None, None) => Ok(None),
        _ => Err(StoreError::Unknown(anyhow!(
            "client {client_id} has half a sealed secret ({SECRET_SEALED} and {SECRET_KEY_VERSION} go together)"
        ))),
    }
}

impl SealedSecrets {
    /// The item's sealed secret, as stored (a consistent read).
    async fn sealed(&self, client_id: &ClientId) -> Result<Option<Sealed>, StoreError> {
        let out = self
            .store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("client_id", s(client_id.as_str()))
            .consistent_read(true)
            .projection_expression("#ss, #sk")
            .expression_attribute_names("#ss", SECRET_SEALED)
            .expression_attribute_names("#sk", SECRET_KEY_VERSION)
            .send()
            .await
            .map_err(|e| sdk_error(e, "DynamoDB GetItem (sealed secret) failed"))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        sealed_of(client_id, &item)
    }
}

impl SealedSecrets {
    /// The `UpdateItem` that sets `sealed` as the secret of `client_id` (on
    /// the record, or on an item of its own) and drops the mark of a mirrored
    /// value, which a new value no longer is.
    fn seal_update(
        &self,
        client_id: &ClientId,
        sealed: Sealed,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key("client_id", s(client_id.as_str()))
            .update_expression("SET #ss = :ss, #sk = :sk REMOVE #sm")
            .expression_attribute_names("#ss", SECRET_SEALED)
            .expression_attribute_names("#sk", SECRET_KEY_VERSION)
            .expression_attribute_names("#sm", SECRET_MIRRORED)
            .expression_attribute_values(":ss", s(sealed.value))
            .expression_attribute_values(":sk", s(sealed.key_version))
    }
}

#[async_trait]
impl SecretStore for SealedSecrets {
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError> {
        let sealed = self.ring.seal(client_id, secret).await?;
        self.seal_update(client_id, sealed)
            .send()
            .await
            .map_err(|e| sdk_error(e, "DynamoDB UpdateItem (seal secret) failed"))?;
        Ok(())
    }

    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError> {
        let old = self.sealed(client_id).await?;
        let stored = match &old {
            Some(sealed) => Some(self.ring.open(client_id, sealed).await?),
            None => None,
        };
        if !same_secret(stored.as_ref(), expected) {
            return Err(StoreError::Conflict);
        }
        let sealed = self.ring.seal(client_id, secret).await?;
        let update = self.seal_update(client_id, sealed);
        // Conditional on the ciphertext read: a concurrent put, or a re-seal, changes it.
        let update = match old {
            Some(old) => update
                .condition_expression("#ss = :old")
                .expression_attribute_values(":old", s(old.value)),
            None => update.condition_expression("attribute_not_exists(#ss)"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::Conflict),
            Err(e) => Err(sdk_error(e, "DynamoDB UpdateItem (seal secret if) failed")),
        }
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        match self.sealed(client_id).await? {
            Some(sealed) => Ok(Some(self.ring.open(client_id, &sealed).await?)),
            None => Ok(None),
        }
    }

    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError> {
        let removed = self
            .store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key("client_id", s(client_id.as_str()))
            .update_expression("REMOVE #ss, #sk, #sm")
            .condition_expression("attribute_exists(#state)")
            .expression_attribute_names("#ss", SECRET_SEALED)
            .expression_attribute_names("#sk", SECRET_KEY_VERSION)
            .expression_attribute_names("#sm", SECRET_MIRRORED)
            .expression_attribute_names("#state", STATE)
            .send()
            .await;
        match removed {
            Ok(_) => Ok(()),
            // No record: an item holding only a secret (or nothing) goes whole.
            Err(e) if condition_failed(&e) => {
                let gone = self
                    .store
                    .client()
                    .delete_item()
                    .table_name(self.store.table())
                    .key("client_id", s(client_id.as_str()))
                    .condition_expression("attribute_not_exists(#state)")
                    .expression_attribute_names("#state", STATE)
                    .send()
                    .await;
                match gone {
                    Ok(_) => Ok(()),
                    // A record appeared meanwhile: it carries no secret of ours.
                    Err(e) if condition_failed(&e) => Ok(()),
                    Err(e) => Err(sdk_error(e, "DynamoDB DeleteItem (secret only) failed")),
                }
            }
            Err(e) => Err(sdk_error(
                e,
                "DynamoDB UpdateItem (remove sealed secret) failed",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Arc<LessSafeKey> {
        aead_key(&[byte; KEY_BYTES]).unwrap()
    }

    #[test]
    fn keys_are_32_bytes_of_base64_in_either_alphabet() {
        let bytes = [0xfbu8; KEY_BYTES];
        let standard = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(standard.len(), 44);
        assert_eq!(parse_key(&standard).unwrap(), bytes);
        assert_eq!(parse_key(&format!("{standard}\n")).unwrap(), bytes);
        assert_eq!(parse_key(&URL_SAFE_NO_PAD.encode(bytes)).unwrap(), bytes);
        // The template's generated key: 43 characters of the standard alphabet.
        let generated = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdE";
        assert_eq!(generated.len(), 43);
        assert!(parse_key(generated).is_ok());
        for bad in ["", "short", &"A".repeat(64), "not base64 at all!!"] {
            let e = parse_key(bad).unwrap_err().to_string();
            assert!(e.contains("32 random bytes"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_client_key_and_version() {
        let secret = ClientSecret::new("s3cr3t-value".into());
        let sealed = seal_with(&key(1), "v1", "client-a", &secret).unwrap();
        assert!(!sealed.value.contains("s3cr3t"));
        assert_eq!(
            open_with(&key(1), "client-a", &sealed).unwrap().expose(),
            "s3cr3t-value"
        );
        assert!(
            open_with(&key(1), "client-b", &sealed).is_err(),
            "another client"
        );
        assert!(
            open_with(&key(2), "client-a", &sealed).is_err(),
            "another key"
        );
        let relabelled = Sealed {
            key_version: "v2".into(),
            ..sealed.clone()
        };
        assert!(
            open_with(&key(1), "client-a", &relabelled).is_err(),
            "another version"
        );
        let again = seal_with(&key(1), "v1", "client-a", &secret).unwrap();
        assert_ne!(again.value, sealed.value, "a fresh nonce every time");
        let e = open_with(&key(2), "client-a", &sealed)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
