//! The DynamoDB [`ClientStore`]: one table, keyed by `client_id`, with three
//! secondary indexes and a TTL attribute.
//!
//! # Table design (the SAM template provisions exactly this)
//!
//! | attribute | type | role |
//! |---|---|---|
//! | `client_id` | S | partition key |
//! | `software_id` | S | `software_id-index` partition key (KEYS_ONLY); absent when `None` |
//! | `claims_software_id` | BOOL | `true` when the record is its `software_id`'s one client (a claim item goes with it); absent otherwise |
//! | `owner` | S | `owner-index` partition key (KEYS_ONLY); absent when `None`. The service never queries it: it is the operator's way to the clients an owner registered (an operator tool's `list` by owner queries it, then reads each client), at one write unit per item write that sets `owner` |
//! | `unsettled` | S | `"1"` while `sweep_at != 0`, absent otherwise: partition key of the sparse `unsettled-index` (projection ALL) |
//! | `sweep_at` | N | sort key of `unsettled-index` |
//! | `ttl` | N | the table's TTL attribute: `expires_at + TTL_GRACE` when `expires_at` is non-zero, absent otherwise |
//! | `metadata` | S | the client metadata as one JSON document (see below) |
//! | `write_id` | S | random id of the put that wrote the item (retry detection) |
//! | `issued_at`, `secret_expires_at` | N | [`ClientRecord::client_id_issued_at`] and [`ClientRecord::client_secret_expires_at`], under the names items have always had |
//! | `disabled` | BOOL | `true` on a client an operator disabled (`dcr-admin disable`); absent otherwise, and read as `false` when absent |
//! | `secret_sealed`, `secret_key_version` | S | sealed mode only ([`crate::sealed`]): the client secret sealed under that key ring version |
//! | `secret_mirrored` | BOOL | set by `dcr-migrate-secrets` when Secrets Manager holds the same secret as `secret_sealed` |
//! | `state`, `has_secret`, `token_hash`, `token_expires_at`, `previous_token_hash`, `previous_token_expires_at`, `software_statement`, `expires_at`, `retry_until`, `template`, `version`, `updated_at` | S/N/BOOL | the other [`ClientRecord`] fields, same names (`previous_token_hash` and `template` absent when `None`; `previous_token_expires_at` and `retry_until` read as 0 when absent, as in items written before they existed) |
//!
//! `get` returns a record as stored, expired or not (the port allows it, and the
//! core filters with [`ClientRecord::is_live`]): the sweep must still find an
//! expired client to delete its secret. DynamoDB's TTL is only the backstop behind
//! the sweep, so `ttl` lies [`TTL_GRACE`] after `expires_at`, time for the sweep to
//! run first; otherwise TTL could drop a record whose secret still exists.
//!
//! Every put also writes `write_id`, a random id of that logical write, so that an
//! SDK retry of a write DynamoDB had already applied is recognised as such instead
//! of failing its own condition (`AlreadyExists` / `Conflict` / a false replay).
//!
//! A record that claims its `software_id` (one client per `software_id`, AU
//! CDR) is put together with a claim item `client_id = "software#{software_id}"`
//! holding only `holder` (the client id) and `write_id`, in one
//! `TransactWriteItems`: the record on the absence of a record, the claim on
//! its absence or on the stale holder a refused attempt found (a holder whose
//! record is gone or no longer holds the claim, [`ClientRecord::holds_software_id`]).
//! `delete` removes the claim its record held, conditional on still holding
//! it; one left behind by a failure between the two is stale, and the next
//! claim takes it over. Claim items carry no `state` and no index attribute.
//!
//! One-time keys ([`ClientStore::remember_once`]) are items `client_id = "once#{key}"`
//! with only `ttl` and `write_id` beside the key; a [`ClientId`] never contains `#`
//! (its type says so, so `get` and `delete` cannot name one), and these items
//! carry none of the index attributes, so no index ever sees them.
//!
//! # The two secret storage modes
//!
//! With `secrets-manager`, records are written whole (`PutItem`), so a write
//! drops any sealed secret a migration had copied in, and a record carrying a
//! sealed secret that Secrets Manager does not mirror is refused on `get`: its
//! secret is not where this mode looks. With `sealed` ([`DynamoClientStore::with_key_ring`]),
//! a new record and its sealed secret are one `PutItem`
//! (`insert_with_secret`), and `replace` is an `UpdateItem` that keeps the
//! item's sealed secret, then re-seals it if it was sealed under an older key.
//! An item with no `state` holds only a secret (see [`crate::sealed::SealedSecrets`]):
//! it is no record to `get`, `insert` replaces it, `delete` removes it.
//!
//! The metadata is a JSON string rather than a DynamoDB map: a map would turn
//! `1.0` into `1`, refuse numbers outside DynamoDB's 38-digit / 1e-130..1e126 range,
//! stop at 32 levels of nesting, and rewrite what a client sent. The string keeps
//! the document byte for byte; nothing queries inside it.

mod catalog;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem};
use dcr_core::{
    ClientId, ClientRecord, ClientSecret, ClientState, ClientStore, Clock, StoreError, SystemClock,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::sealed::{KeyRing, Sealed, sealed_of};

/// Name of the GSI on `software_id`.
pub const SOFTWARE_ID_INDEX: &str = "software_id-index";
/// Name of the GSI on `owner`.
pub const OWNER_INDEX: &str = "owner-index";
/// Name of the sparse GSI on `unsettled` (partition) / `sweep_at` (sort).
pub const UNSETTLED_INDEX: &str = "unsettled-index";
/// Name of the TTL attribute.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// Prefix of the `client_id` of one-time-key items.
pub const ONCE_PREFIX: &str = "once#";
/// Prefix of the `client_id` of software claim items (`software#{software_id}`).
pub const SOFTWARE_PREFIX: &str = "software#";
/// Attribute of a software claim item: the client that claimed the `software_id`.
pub const HOLDER: &str = "holder";
/// Attempts of a claiming insert that found a stale claim or a concurrent transaction.
const CLAIM_ATTEMPTS: usize = 4;

/// Attribute holding the id of the write that produced an item (see `put_if`).
pub const WRITE_ID: &str = "write_id";
/// Attribute of a record's life-cycle state (absent on an item holding only a sealed secret).
pub const STATE: &str = "state";
/// Attribute of the sealed client secret (sealed mode).
pub const SECRET_SEALED: &str = "secret_sealed";
/// Attribute naming the key ring version that sealed `secret_sealed`.
pub const SECRET_KEY_VERSION: &str = "secret_key_version";
/// Attribute set when Secrets Manager holds the same secret as `secret_sealed` (a migration).
pub const SECRET_MIRRORED: &str = "secret_mirrored";

/// The record attributes an item may lack; `replace` in sealed mode removes those the record does not set.
const OPTIONAL_ATTRIBUTES: [&str; 8] = [
    "token_hash",
    "previous_token_hash",
    "owner",
    "software_id",
    "claims_software_id",
    "software_statement",
    "unsettled",
    TTL_ATTRIBUTE,
];

/// Seconds between a client's `expires_at` and its `ttl`: the sweep's head start.
pub const TTL_GRACE: i64 = 86_400;

/// Largest page the store asks DynamoDB for in one query.
const PAGE_LIMIT: usize = 100;

/// A [`ClientStore`] on one DynamoDB table (layout in the module docs).
#[derive(Clone)]
pub struct DynamoClientStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    ring: Option<Arc<KeyRing>>,
}

impl std::fmt::Debug for DynamoClientStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoClientStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoClientStore {
    /// A store on `table`, reading the system clock.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_clock(client, table, Arc::new(SystemClock))
    }

    /// A store on `table` whose notion of "now" (for one-time keys) is `clock`.
    pub fn with_clock(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            ring: None,
        }
    }

    /// The same store in the sealed mode: client secrets sealed under `ring`
    /// in the records ([`crate::sealed::SealedSecrets`] is their `SecretStore`).
    pub fn with_key_ring(mut self, ring: Arc<KeyRing>) -> Self {
        self.ring = Some(ring);
        self
    }

    /// The table this store writes to.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a query on `index` until `limit` items or the end, returning raw items.
    async fn query_index(
        &self,
        index: &str,
        key_condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
        limit: usize,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        while items.len() < limit {
            let page = (limit - items.len()).min(PAGE_LIMIT);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(key_condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .limit(i32::try_from(page).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(e, "DynamoDB Query failed"))?;
            let last = out.last_evaluated_key.filter(|k| !k.is_empty());
            items.extend(out.items.unwrap_or_default());
            match last {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        items.truncate(limit);
        Ok(items)
    }
}

/// The stored shape of a [`ClientRecord`]; see the module docs.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    client_id: String,
    state: ClientState,
    metadata: String,
    #[serde(rename = "issued_at")]
    client_id_issued_at: i64,
    has_secret: bool,
    #[serde(rename = "secret_expires_at")]
    client_secret_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_hash: Option<String>,
    token_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_token_hash: Option<String>,
    #[serde(default)]
    previous_token_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    software_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    claims_software_id: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    software_statement: Option<String>,
    expires_at: i64,
    #[serde(default)]
    retry_until: i64,
    /// Present (and `true`) only on a disabled client, so older items read as enabled.
    #[serde(default, skip_serializing_if = "is_false")]
    disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    version: u64,
    updated_at: i64,
    sweep_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unsettled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(default)]
    write_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_key_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_mirrored: Option<bool>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// DynamoDB refuses an empty string as an index key: such a value is stored as absent.
fn index_key(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

impl Item {
    fn from_record(record: &ClientRecord, write_id: &str) -> Result<Self, StoreError> {
        let metadata =
            serde_json::to_string(&record.metadata).context("encoding client metadata as JSON")?;
        Ok(Self {
            client_id: record.client_id.to_string(),
            state: record.state,
            metadata,
            client_id_issued_at: record.client_id_issued_at,
            has_secret: record.has_secret,
            client_secret_expires_at: record.client_secret_expires_at,
            token_hash: record.token_hash.clone(),
            token_expires_at: record.token_expires_at,
            previous_token_hash: record.previous_token_hash.clone(),
            previous_token_expires_at: record.previous_token_expires_at,
            owner: index_key(&record.owner),
            software_id: index_key(&record.software_id),
            claims_software_id: record.claims_software_id,
            software_statement: record.software_statement.clone(),
            expires_at: record.expires_at,
            retry_until: record.retry_until,
            disabled: record.disabled,
            template: record.template.clone(),
            version: record.version,
            updated_at: record.updated_at,
            sweep_at: record.sweep_at,
            unsettled: (record.sweep_at != 0).then(|| "1".to_owned()),
            ttl: (record.expires_at != 0).then(|| record.expires_at.saturating_add(TTL_GRACE)),
            write_id: write_id.to_owned(),
            secret_sealed: None,
            secret_key_version: None,
            secret_mirrored: None,
        })
    }

    fn into_record(self) -> Result<ClientRecord, StoreError> {
        let metadata: Map<String, Value> =
            serde_json::from_str(&self.metadata).context("decoding stored client metadata")?;
        let client_id = ClientId::parse(self.client_id).context("decoding a stored client_id")?;
        Ok(ClientRecord {
            client_id,
            state: self.state,
            metadata,
            client_id_issued_at: self.client_id_issued_at,
            has_secret: self.has_secret,
            client_secret_expires_at: self.client_secret_expires_at,
            token_hash: self.token_hash,
            token_expires_at: self.token_expires_at,
            previous_token_hash: self.previous_token_hash,
            previous_token_expires_at: self.previous_token_expires_at,
            owner: self.owner,
            software_id: self.software_id,
            claims_software_id: self.claims_software_id,
            software_statement: self.software_statement,
            expires_at: self.expires_at,
            retry_until: self.retry_until,
            disabled: self.disabled,
            template: self.template,
            version: self.version,
            updated_at: self.updated_at,
            sweep_at: self.sweep_at,
        })
    }

    fn to_attributes(&self) -> Result<HashMap<String, AttributeValue>, StoreError> {
        Ok(serde_dynamo::aws_sdk_dynamodb_1::to_item(self)
            .context("encoding a client record as a DynamoDB item")?)
    }

    fn from_attributes(item: HashMap<String, AttributeValue>) -> Result<Self, StoreError> {
        Ok(serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
            .context("decoding a DynamoDB item as a client record")?)
    }
}

/// The `software_id` a record claims, if it claims one (an empty one is no index key and claims nothing).
fn claimed_software(record: &ClientRecord) -> Option<&str> {
    record
        .software_id
        .as_deref()
        .filter(|id| record.claims_software_id && !id.is_empty())
}

/// Whether a `TransactWriteItems` was cancelled (a condition, or a concurrent transaction).
fn transaction_canceled<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(TransactWriteItemsError::TransactionCanceledException(_))
    )
}

/// Turns any SDK failure into `Unknown`, with the full error context for the log.
fn sdk_error<E, R>(err: SdkError<E, R>, what: &'static str) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unknown(anyhow::anyhow!("{}", DisplayErrorContext(&err)).context(what))
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Whether a DynamoDB call was refused by its condition expression.
pub fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// A string attribute value.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl DynamoClientStore {
    /// Puts `put` (an item carrying `write_id`) under its condition. `true` when
    /// written, `false` when the condition refused it.
    ///
    /// The SDK retries an attempt that timed out or failed on the server, and
    /// DynamoDB may have applied it all the same: the retry then fails its own
    /// condition. The item's `write_id`, returned with the failure, tells that
    /// case (our write, `true`) from a real refusal (someone else's, `false`).
    async fn put_if(
        &self,
        put: PutItemFluentBuilder,
        write_id: &str,
        what: &'static str,
    ) -> Result<bool, StoreError> {
        let result = put
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => Ok(failed
                    .item()
                    .and_then(|old| old.get(WRITE_ID))
                    .is_some_and(|old| old == &s(write_id))),
                _ => Err(sdk_error(e, what)),
            },
        }
    }

    /// `insert`, with the write id given (tests replay a write with it).
    async fn insert_as(&self, record: &ClientRecord, write_id: &str) -> Result<(), StoreError> {
        self.insert_item(record, None, write_id).await
    }

    /// Puts a new record, with its sealed secret when given, unless a record
    /// has the id (an item holding only a secret is no record: it is replaced).
    async fn insert_item(
        &self,
        record: &ClientRecord,
        sealed: Option<Sealed>,
        write_id: &str,
    ) -> Result<(), StoreError> {
        let mut item = Item::from_record(record, write_id)?;
        if let Some(sealed) = sealed {
            item.secret_sealed = Some(sealed.value);
            item.secret_key_version = Some(sealed.key_version);
        }
        if let Some(software_id) = claimed_software(record) {
            return self
                .insert_claiming(record, item.to_attributes()?, software_id, write_id)
                .await;
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.to_attributes()?))
            .condition_expression("attribute_not_exists(#state)")
            .expression_attribute_names("#state", STATE);
        let written = self
            .put_if(put, write_id, "DynamoDB PutItem (insert) failed")
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    /// Puts a new record claiming its `software_id` and the claim item
    /// `software#{software_id}` in one `TransactWriteItems`: the record on
    /// the absence of a record with its id, the claim on the absence of a
    /// claim, or on the holder a failed attempt found to be stale (its record
    /// gone or no longer holding the claim, [`ClientRecord::holds_software_id`]).
    async fn insert_claiming(
        &self,
        record: &ClientRecord,
        item: HashMap<String, AttributeValue>,
        software_id: &str,
        write_id: &str,
    ) -> Result<(), StoreError> {
        let claim_key = format!("{SOFTWARE_PREFIX}{software_id}");
        let mut stale: Option<AttributeValue> = None;
        for _ in 0..CLAIM_ATTEMPTS {
            let put_record = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#state)")
                .expression_attribute_names("#state", STATE)
                .build()
                .context("building the record's put")?;
            let mut put_claim = Put::builder()
                .table_name(&self.table)
                .item("client_id", s(&claim_key))
                .item(HOLDER, s(record.client_id.as_str()))
                .item(WRITE_ID, s(write_id));
            put_claim = match &stale {
                None => put_claim.condition_expression("attribute_not_exists(client_id)"),
                Some(holder) => put_claim
                    .condition_expression("#holder = :stale")
                    .expression_attribute_names("#holder", HOLDER)
                    .expression_attribute_values(":stale", holder.clone()),
            };
            let put_claim = put_claim.build().context("building the claim's put")?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put_record).build())
                .transact_items(TransactWriteItem::builder().put(put_claim).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) if transaction_canceled(&e) => {}
                Err(e) => return Err(sdk_error(e, "DynamoDB TransactWriteItems (insert) failed")),
            }
            // Which condition failed (or whether a concurrent transaction did):
            // read both items, consistently.
            if let Some(existing) = self.raw_item(record.client_id.as_str()).await?
                && existing.contains_key(STATE)
            {
                // An SDK retry of a transaction that had landed finds its own write.
                return if existing.get(WRITE_ID) == Some(&s(write_id)) {
                    Ok(())
                } else {
                    Err(StoreError::AlreadyExists)
                };
            }
            stale = match self
                .raw_item(&claim_key)
                .await?
                .and_then(|mut claim| claim.remove(HOLDER))
            {
                None => None,
                Some(holder) => {
                    if self.claim_holds(&holder, software_id).await? {
                        return Err(StoreError::SoftwareIdTaken);
                    }
                    Some(holder)
                }
            };
        }
        Err(StoreError::Unknown(anyhow::anyhow!(
            "claiming software_id for client {}: still contended after {CLAIM_ATTEMPTS} attempts",
            record.client_id
        )))
    }

    /// Whether the client `holder` still holds its claim on `software_id`.
    async fn claim_holds(
        &self,
        holder: &AttributeValue,
        software_id: &str,
    ) -> Result<bool, StoreError> {
        let AttributeValue::S(holder) = holder else {
            return Ok(false);
        };
        let Some(item) = self.raw_item(holder).await? else {
            return Ok(false);
        };
        if !item.contains_key(STATE) {
            return Ok(false);
        }
        let record = Item::from_attributes(item)?.into_record()?;
        Ok(record.software_id.as_deref() == Some(software_id)
            && record.holds_software_id(self.clock.now()))
    }

    /// The item under `key`, as stored (a consistent read).
    async fn raw_item(
        &self,
        key: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("client_id", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(e, "DynamoDB GetItem failed"))?;
        Ok(out.item)
    }

    /// Removes the claim item of `software_id` if `client_id` holds it.
    async fn release_claim(&self, client_id: &str, software_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("client_id", s(format!("{SOFTWARE_PREFIX}{software_id}")))
            .condition_expression("#holder = :id")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_values(":id", s(client_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another client took over a claim this one no longer held.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk_error(e, "DynamoDB DeleteItem (software claim) failed")),
        }
    }

    /// `replace`, with the write id given.
    async fn replace_as(
        &self,
        record: &ClientRecord,
        expected_version: u64,
        write_id: &str,
    ) -> Result<(), StoreError> {
        if self.ring.is_some() {
            return self
                .update_as(record, expected_version, write_id, None)
                .await;
        }
        let item = Item::from_record(record, write_id)?.to_attributes()?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#version = :expected")
            .set_expression_attribute_names(Some(names(&[("#version", "version")])))
            .set_expression_attribute_values(Some(values(vec![(
                ":expected",
                n(expected_version),
            )])));
        let written = self
            .put_if(put, write_id, "DynamoDB PutItem (replace) failed")
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// `remember_once`, with the write id given.
    async fn remember_once_as(
        &self,
        key: &str,
        expires_at: i64,
        write_id: &str,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("client_id", s(format!("{ONCE_PREFIX}{key}")))
            .item(TTL_ATTRIBUTE, n(expires_at))
            .item(WRITE_ID, s(write_id))
            .condition_expression("attribute_not_exists(client_id) OR #ttl <= :now")
            .set_expression_attribute_names(Some(names(&[("#ttl", TTL_ATTRIBUTE)])))
            .set_expression_attribute_values(Some(values(vec![(":now", n(self.clock.now()))])));
        self.put_if(put, write_id, "DynamoDB PutItem (remember_once) failed")
            .await
    }
}

impl DynamoClientStore {
    /// `update_if` of `put_if`: `true` when written, `false` when the
    /// condition refused it (someone else's write), with the new item.
    async fn update_if(
        &self,
        update: UpdateItemFluentBuilder,
        write_id: &str,
        what: &'static str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let result = update
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let ours = failed
                        .item()
                        .and_then(|old| old.get(WRITE_ID))
                        .is_some_and(|old| old == &s(write_id));
                    Ok(ours.then(|| failed.item().cloned().unwrap_or_default()))
                }
                _ => Err(sdk_error(e, what)),
            },
        }
    }

    /// `replace` in the sealed mode: every record attribute set (or removed),
    /// the sealed secret kept, then re-sealed under the current key if an
    /// older one sealed it and the record is `Active` (every write of an
    /// `Active` record with a secret comes after reading or writing the secret,
    /// so the ring is loaded by then).
    async fn update_as(
        &self,
        record: &ClientRecord,
        expected_version: u64,
        write_id: &str,
        secret: Option<Sealed>,
    ) -> Result<(), StoreError> {
        let new_secret = secret.is_some();
        let mut item = Item::from_record(record, write_id)?;
        if let Some(sealed) = secret {
            item.secret_sealed = Some(sealed.value);
            item.secret_key_version = Some(sealed.key_version);
        }
        let attributes = item.to_attributes()?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut set = Vec::new();
        for (i, (name, value)) in attributes.into_iter().enumerate() {
            if name == "client_id" {
                continue;
            }
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), value);
            set.push(format!("#a{i} = :a{i}"));
        }
        let mut remove = Vec::new();
        // A new secret is no longer the one a migration mirrored.
        let mirrored = [SECRET_MIRRORED];
        let extra: &[&str] = if new_secret { &mirrored } else { &[] };
        for (i, name) in OPTIONAL_ATTRIBUTES.iter().chain(extra).enumerate() {
            if !names.values().any(|n| n == name) {
                names.insert(format!("#r{i}"), (*name).to_owned());
                remove.push(format!("#r{i}"));
            }
        }
        names.insert("#version".to_owned(), "version".to_owned());
        values.insert(":expected".to_owned(), n(expected_version));
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("client_id", s(record.client_id.as_str()))
            .update_expression(expression)
            .condition_expression("#version = :expected")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        let Some(item) = self
            .update_if(update, write_id, "DynamoDB UpdateItem (replace) failed")
            .await?
        else {
            return Err(StoreError::Conflict);
        };
        if record.state == ClientState::Active
            && !new_secret
            && let Err(e) = self.reseal(record, &item).await
        {
            // The record is written; the next write re-seals it.
            tracing::warn!(client_id = %record.client_id, error = format!("{e:#}"), "re-sealing a client secret failed");
        }
        Ok(())
    }

    /// Re-seals the item's secret under the current key, if another sealed it.
    /// Conditional on the record and the sealed value being as read, so a
    /// concurrent write is never undone (it re-sealed, or will).
    async fn reseal(
        &self,
        record: &ClientRecord,
        item: &HashMap<String, AttributeValue>,
    ) -> anyhow::Result<()> {
        let Some(ring) = &self.ring else {
            return Ok(());
        };
        let Some(old) = sealed_of(&record.client_id, item)? else {
            return Ok(());
        };
        // Only with the keys this container already read: a function that
        // never reads or writes a secret (delete) never reads the ring.
        match ring.loaded_version().await {
            Some(current) if current != old.key_version => {}
            _ => return Ok(()),
        }
        let secret = ring.open(&record.client_id, &old).await?;
        let new = ring.seal(&record.client_id, &secret).await?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("client_id", s(record.client_id.as_str()))
            .update_expression("SET #ss = :new, #sk = :key")
            .condition_expression("#version = :version AND #ss = :old")
            .set_expression_attribute_names(Some(names(&[
                ("#ss", SECRET_SEALED),
                ("#sk", SECRET_KEY_VERSION),
                ("#version", "version"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":new", s(new.value)),
                (":key", s(new.key_version)),
                (":old", s(old.value)),
                (":version", n(record.version)),
            ])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("{}", DisplayErrorContext(&e))
                .context("DynamoDB UpdateItem (re-seal) failed")),
        }
    }
}

/// A fresh id for one logical write (kept across the SDK's retries of it).
fn new_write_id() -> Result<String, StoreError> {
    Ok(dcr_core::tokens::random_token(12).context("drawing a write id")?)
}

#[async_trait]
impl ClientStore for DynamoClientStore {
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError> {
        self.insert_as(record, &new_write_id()?).await
    }

    async fn insert_with_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, StoreError> {
        let Some(ring) = &self.ring else {
            return Ok(false);
        };
        let sealed = match secret {
            Some(secret) => Some(ring.seal(&record.client_id, secret).await?),
            None => None,
        };
        self.insert_item(record, sealed, &new_write_id()?).await?;
        Ok(true)
    }

    async fn replace_with_secret(
        &self,
        record: &ClientRecord,
        expected_version: u64,
        secret: &ClientSecret,
    ) -> Result<bool, StoreError> {
        let Some(ring) = &self.ring else {
            return Ok(false);
        };
        let sealed = ring.seal(&record.client_id, secret).await?;
        self.update_as(record, expected_version, &new_write_id()?, Some(sealed))
            .await?;
        Ok(true)
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("client_id", s(client_id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(e, "DynamoDB GetItem failed"))?;
        let Some(item) = out.item.filter(|item| item.contains_key(STATE)) else {
            return Ok(None);
        };
        let item = Item::from_attributes(item)?;
        if self.ring.is_none() && item.secret_sealed.is_some() && item.secret_mirrored != Some(true)
        {
            return Err(StoreError::Unknown(anyhow::anyhow!(
                "client {client_id} has a sealed secret that Secrets Manager does not hold: \
                 finish the storage migration (dcr-migrate-secrets --to secrets-manager)"
            )));
        }
        Ok(Some(item.into_record()?))
    }

    async fn replace(
        &self,
        record: &ClientRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.replace_as(record, expected_version, &new_write_id()?)
            .await
    }

    async fn delete(&self, client_id: &ClientId, expected_version: u64) -> Result<(), StoreError> {
        // Retry-safe as it is: once the item is gone the condition holds.
        let result = self
            .client
            .delete_item()
            .return_values(ReturnValue::AllOld)
            .table_name(&self.table)
            .key("client_id", s(client_id.as_str()))
            .condition_expression("attribute_not_exists(#state) OR #version = :expected")
            .set_expression_attribute_names(Some(names(&[
                ("#version", "version"),
                ("#state", STATE),
            ])))
            .set_expression_attribute_values(Some(values(vec![(":expected", n(expected_version))])))
            .send()
            .await;
        let old = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if condition_failed(&e) => return Err(StoreError::Conflict),
            Err(e) => return Err(sdk_error(e, "DynamoDB DeleteItem failed")),
        };
        // The record's claim goes with it. Not in one transaction: the record
        // must be read to know its claim, and a claim left behind by a failure
        // here is stale (its holder is gone), which the next claiming insert
        // recognises and takes over.
        if old.get("claims_software_id") == Some(&AttributeValue::Bool(true))
            && let Some(AttributeValue::S(software_id)) = old.get("software_id")
        {
            self.release_claim(client_id.as_str(), software_id).await?;
        }
        Ok(())
    }

    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError> {
        if software_id.is_empty() {
            return Ok(Vec::new());
        }
        let items = self
            .query_index(
                SOFTWARE_ID_INDEX,
                "#sid = :sid",
                names(&[("#sid", "software_id")]),
                values(vec![(":sid", s(software_id))]),
                usize::MAX,
            )
            .await?;
        items
            .into_iter()
            .map(|mut item| match item.remove("client_id") {
                Some(AttributeValue::S(id)) => Ok(ClientId::parse(id)
                    .context("an item of the software_id index has a malformed client_id")?),
                _ => Err(StoreError::Unknown(anyhow::anyhow!(
                    "an item of the software_id index has no string client_id"
                ))),
            })
            .collect()
    }

    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .query_index(
                UNSETTLED_INDEX,
                "#u = :one AND #sweep <= :now",
                names(&[("#u", "unsettled"), ("#sweep", "sweep_at")]),
                values(vec![(":one", s("1")), (":now", n(now))]),
                limit,
            )
            .await?;
        items
            .into_iter()
            .map(|item| Item::from_attributes(item)?.into_record())
            .collect()
    }

    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.remember_once_as(key, expires_at, &new_write_id()?)
            .await
    }
}

#[cfg(test)]
mod item_format {
    use super::*;

    /// An item as the store has always written it (every attribute, the
    /// record's older field names) decodes, and a record encodes back to
    /// exactly the same attribute names.
    #[test]
    fn an_item_of_the_stored_format_round_trips() {
        let mut item: HashMap<String, AttributeValue> = [
            ("client_id", s("c1")),
            ("state", s("active")),
            ("metadata", s(r#"{"client_name":"A"}"#)),
            ("issued_at", n(100)),
            ("has_secret", AttributeValue::Bool(true)),
            ("secret_expires_at", n(200)),
            ("token_hash", s("h")),
            ("token_expires_at", n(0)),
            ("owner", s("o")),
            ("software_id", s("sw")),
            ("expires_at", n(0)),
            ("version", n(3)),
            ("updated_at", n(150)),
            ("sweep_at", n(0)),
            (WRITE_ID, s("w")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let record = Item::from_attributes(item.clone())
            .unwrap()
            .into_record()
            .unwrap();
        assert_eq!(record.client_id_issued_at, 100);
        assert_eq!(record.client_secret_expires_at, 200);
        assert_eq!(record.owner.as_deref(), Some("o"));
        assert_eq!(record.previous_token_hash, None);
        assert_eq!(record.retry_until, 0);
        let again = Item::from_record(&record, "w")
            .unwrap()
            .to_attributes()
            .unwrap();
        // The two fields absent from the old item are written with their defaults.
        item.insert("previous_token_expires_at".into(), n(0));
        item.insert("retry_until".into(), n(0));
        let mut names: Vec<&String> = again.keys().collect();
        names.sort();
        let mut expected: Vec<&String> = item.keys().collect();
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(again["issued_at"], n(100));
        assert_eq!(again["secret_expires_at"], n(200));
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use dcr_core::testing::contract::{full_record, unique};

    use super::*;
    use crate::testing::MotoAws;

    #[tokio::test]
    async fn a_retried_write_that_had_landed_is_not_refused() {
        let Some(aws) = MotoAws::from_env().await else {
            return;
        };
        let store = aws.client_store();
        let record = full_record(&unique("retry"), ClientState::Pending);
        store.insert_as(&record, "w1").await.unwrap();
        // The SDK's retry of the same call: same write id, condition now false.
        store.insert_as(&record, "w1").await.unwrap();
        assert!(matches!(
            store.insert_as(&record, "w2").await,
            Err(StoreError::AlreadyExists)
        ));

        let mut next = record.clone();
        next.version += 1;
        store.replace_as(&next, record.version, "w3").await.unwrap();
        store.replace_as(&next, record.version, "w3").await.unwrap();
        assert!(matches!(
            store.replace_as(&next, record.version, "w4").await,
            Err(StoreError::Conflict)
        ));

        let key = unique("retry-once");
        let exp = SystemClock.now() + 60;
        assert!(store.remember_once_as(&key, exp, "w5").await.unwrap());
        assert!(store.remember_once_as(&key, exp, "w5").await.unwrap());
        assert!(!store.remember_once_as(&key, exp, "w6").await.unwrap());
        assert_eq!(store.get(&record.client_id).await.unwrap(), Some(next));
    }
}
