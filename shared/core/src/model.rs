//! The stored shape of a registered client, and its identifier.

use std::fmt;
use std::ops::Deref;

use dcr_validation::{MetadataError, validate_custom_client_id};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tokens::{CLIENT_ID_BYTES, random_token};

/// A client identifier, made once (from a request path, a client's choice, a
/// random draw or the store) and never checked again: 1 to 128 characters of
/// `A-Z a-z 0-9 . _ -`, not only dots, the form every `client_id` this
/// service issues or accepts has. So it is never empty and never holds a `#`
/// (the DynamoDB store's one-time keys are `once#...` items beside the clients).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// The identifier `id`, if it has the form of one.
    pub fn parse(id: impl Into<String>) -> Result<Self, MetadataError> {
        let id = id.into();
        validate_custom_client_id(&id)?;
        Ok(Self(id))
    }

    /// A new identifier: 128 bits from the OS CSPRNG, base64url (22 characters).
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(random_token(CLIENT_ID_BYTES)?))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for ClientId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ClientId {
    type Error = MetadataError;

    fn try_from(id: String) -> Result<Self, MetadataError> {
        Self::parse(id)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
    }
}

impl PartialEq<str> for ClientId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClientId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Where a record is in its life; only `Active` records are visible to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientState {
    /// Written before the secret; becomes `Active` once the secret is stored.
    Pending,
    /// Registered and visible.
    Active,
    /// Being deleted: invisible, its secret may still exist.
    Deleting,
}

/// A registered client as the [`crate::ClientStore`] keeps it. Holds no secret in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The client identifier (partition key).
    pub client_id: ClientId,
    /// Life-cycle state.
    pub state: ClientState,
    /// Validated metadata with defaults applied, as echoed to the client.
    pub metadata: Map<String, Value>,
    /// `client_id_issued_at` (RFC 7591 §3.2.1), seconds since the epoch. Stored
    /// as `issued_at`, the name records have always had.
    #[serde(rename = "issued_at")]
    pub client_id_issued_at: i64,
    /// Whether a client secret exists in the [`crate::SecretStore`].
    pub has_secret: bool,
    /// `client_secret_expires_at` (RFC 7591 §3.2.1), 0 = never. Stored as
    /// `secret_expires_at`, the name records have always had.
    #[serde(rename = "secret_expires_at")]
    pub client_secret_expires_at: i64,
    /// base64url SHA-256 of the registration access token, if one was issued.
    pub token_hash: Option<String>,
    /// When the registration access token expires, 0 = never.
    pub token_expires_at: i64,
    /// base64url SHA-256 of the previous registration access token, still
    /// accepted until `previous_token_expires_at`: the token a rotating `PUT`
    /// replaced (for its grace), or the token of a registration's first answer
    /// after a retry of it. Replaced by the next rotation, never extended.
    #[serde(default)]
    pub previous_token_hash: Option<String>,
    /// When the previous token stops being accepted, 0 = never (only a retried
    /// registration's first token that itself never expires).
    #[serde(default)]
    pub previous_token_expires_at: i64,
    /// The client whose initial access token created this one.
    pub owner: Option<String>,
    /// The `software_id`, for one-client-per-software rules.
    pub software_id: Option<String>,
    /// Whether this client is the one client its `software_id` may have (a
    /// profile's rule): the store refuses to insert a second record claiming
    /// the same `software_id` while this one holds it (see
    /// [`ClientRecord::holds_software_id`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claims_software_id: bool,
    /// The software statement the client registered with, as sent.
    pub software_statement: Option<String>,
    /// When the client itself expires (`client_lifetime`), 0 = never.
    pub expires_at: i64,
    /// Until when the identical registration (same client-chosen `client_id`,
    /// metadata and secret) is answered as a retry of the one that created
    /// this record; 0 = never (server-drawn ids, and any client since written
    /// by a `PUT`).
    #[serde(default)]
    pub retry_until: i64,
    /// Turned off by an operator (`dcr-admin disable`): management refuses it
    /// like an unknown client, and an authorization server must refuse it too
    /// (docs/design.md, "Disabled clients"). Absent in older records: `false`.
    #[serde(default)]
    pub disabled: bool,
    /// The `software_id` of the template this client is an instance of
    /// (`templates` in the configuration): the templated fields are not in
    /// `metadata` but read from the template, so a template change shows in
    /// every instance at once. `None` for every other client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Optimistic-concurrency version, incremented by every write.
    pub version: u64,
    /// Seconds since the epoch of the last write.
    pub updated_at: i64,
    /// When the sweep must look at this record, 0 = never: a half-written
    /// (`Pending`/`Deleting`) record once its grace is over, or an `Active`
    /// client once it has expired.
    pub sweep_at: i64,
}

impl ClientRecord {
    /// Whether callers may see this record at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.state == ClientState::Active && (self.expires_at == 0 || self.expires_at > now)
    }

    /// Whether the client may be used at `now`: live and not disabled by an
    /// operator. What an authorization server must check before accepting it.
    pub fn is_usable(&self, now: i64) -> bool {
        self.is_live(now) && !self.disabled
    }

    /// Whether this record still keeps its claimed `software_id` from another
    /// client at `now`: a live client, or a registration in progress (`Pending`
    /// within its grace). A deleted, deleting, expired or abandoned one does not.
    pub fn holds_software_id(&self, now: i64) -> bool {
        self.claims_software_id
            && self.software_id.is_some()
            && (self.is_live(now) || (self.state == ClientState::Pending && self.sweep_at > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_has_the_form_of_one_or_is_refused() {
        for ok in [
            "5tqJ0kQ2yH6Zs1wJmD9uFQ",
            "partner.app_1-x",
            "a",
            &"b".repeat(128),
        ] {
            assert_eq!(ClientId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "once#key", "a b", "é", "...", &"b".repeat(129), "x/y"] {
            assert!(ClientId::parse(bad).is_err(), "{bad:?}");
        }
        let drawn = ClientId::generate().unwrap();
        assert_eq!(drawn.len(), 22);
        assert_eq!(ClientId::parse(drawn.as_str()).unwrap(), drawn);
    }

    /// A stored record whose `client_id` could not be one is damage, not a client.
    #[test]
    fn a_record_with_a_malformed_client_id_does_not_decode() {
        let record = |id: &str| {
            format!(
                r#"{{"client_id":"{id}","state":"active","metadata":{{}},"issued_at":1,
                "has_secret":false,"secret_expires_at":0,"token_hash":null,"token_expires_at":0,
                "owner":null,"software_id":null,"software_statement":null,"expires_at":0,
                "version":1,"updated_at":1,"sweep_at":0}}"#
            )
        };
        let good: ClientRecord = serde_json::from_str(&record("c-1")).unwrap();
        assert_eq!(good.client_id, "c-1");
        assert!(serde_json::from_str::<ClientRecord>(&record("once#k")).is_err());
        assert!(serde_json::from_str::<ClientRecord>(&record("")).is_err());
    }

    /// Records written before the previous-token and retry fields existed
    /// (the embedded store keeps this JSON) still decode, with the fields unset.
    #[test]
    fn records_without_the_newer_fields_decode() {
        let old = r#"{"client_id":"c","state":"active","metadata":{},"issued_at":1,
            "has_secret":false,"secret_expires_at":0,"token_hash":"h","token_expires_at":0,
            "owner":null,"software_id":null,"software_statement":null,"expires_at":0,
            "version":2,"updated_at":1,"sweep_at":0}"#;
        let record: ClientRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.previous_token_hash, None);
        assert_eq!(record.previous_token_expires_at, 0);
        assert_eq!(record.retry_until, 0);
        assert!(!record.disabled);
        assert_eq!(record.template, None);
        assert_eq!(record.client_id_issued_at, 1);
        assert_eq!(record.client_secret_expires_at, 0);
        // What is stored keeps the names it always had.
        let stored = serde_json::to_value(&record).unwrap();
        assert_eq!(stored["issued_at"], 1);
        assert_eq!(stored["secret_expires_at"], 0);
        assert!(stored.get("client_secret_expires_at").is_none());
        assert!(stored.get("template").is_none());
        let again: ClientRecord =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(again, record);
    }
}
