//! The stored shape of a registered client.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    pub client_id: String,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
