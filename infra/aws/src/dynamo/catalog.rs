//! The [`ClientCatalog`] of the DynamoDB store: the operator tool's listing.
//! Every client is a `Scan` of the table (one-time-key items skipped); an
//! owner's clients a `Query` of `owner-index` (keys only), then a consistent
//! `GetItem` of each. The cursor is the `client_id` of DynamoDB's
//! `LastEvaluatedKey` (with the owner, it is rebuilt into the index's key).
//! The operator's IAM policy is `infra/operator-policy.json`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use dcr_core::{ClientCatalog, ClientId, ClientRecord, ClientStore, RecordPage, StoreError};

use super::{
    DynamoClientStore, Item, ONCE_PREFIX, OWNER_INDEX, PAGE_LIMIT, SOFTWARE_PREFIX, s, sdk_error,
};

type Key = HashMap<String, AttributeValue>;

/// The `client_id` of a `LastEvaluatedKey`, if DynamoDB returned one.
fn cursor(last: Option<Key>) -> Option<String> {
    match last?.remove("client_id") {
        Some(AttributeValue::S(id)) => Some(id),
        _ => None,
    }
}

fn page_size(limit: usize, have: usize) -> i32 {
    i32::try_from((limit - have).min(PAGE_LIMIT)).unwrap_or(1)
}

/// Whether a scanned item is a client record: one-time keys, software claims
/// and a sealed secret put before its record share the table, with no `state`.
fn is_record(item: &Key) -> bool {
    let reserved = matches!(
        item.get("client_id"),
        Some(AttributeValue::S(id)) if id.starts_with(ONCE_PREFIX) || id.starts_with(SOFTWARE_PREFIX)
    );
    !reserved && item.contains_key("state")
}

impl DynamoClientStore {
    async fn scan_records(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let table_key = |id: &str| -> Key { [("client_id".to_owned(), s(id))].into() };
        let mut records = Vec::new();
        let mut start = after.map(table_key);
        while records.len() < limit {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .limit(page_size(limit, records.len()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(e, "DynamoDB Scan failed"))?;
            for item in out.items.unwrap_or_default() {
                if is_record(&item) {
                    records.push(Item::from_attributes(item)?.into_record()?);
                }
            }
            match cursor(out.last_evaluated_key.filter(|k| !k.is_empty())) {
                Some(id) => start = Some(table_key(&id)),
                None => {
                    return Ok(RecordPage {
                        records,
                        next: None,
                    });
                }
            }
        }
        Ok(RecordPage {
            records,
            next: cursor(start),
        })
    }

    async fn owner_records(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let index_key = |id: &str| -> Key {
            [
                ("client_id".to_owned(), s(id)),
                ("owner".to_owned(), s(owner)),
            ]
            .into()
        };
        let mut records: Vec<ClientRecord> = Vec::new();
        let mut start = after.map(index_key);
        while records.len() < limit {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OWNER_INDEX)
                .key_condition_expression("#o = :o")
                .expression_attribute_names("#o", "owner")
                .expression_attribute_values(":o", s(owner))
                .limit(page_size(limit, records.len()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(e, "DynamoDB Query (owner-index) failed"))?;
            for item in out.items.unwrap_or_default() {
                let Some(AttributeValue::S(id)) = item.get("client_id") else {
                    continue;
                };
                // Only client items carry an owner, so only client ids are here.
                let id = ClientId::parse(id.as_str()).map_err(|_| {
                    StoreError::Unknown(anyhow::anyhow!(
                        "DynamoDB owner-index holds a malformed client id"
                    ))
                })?;
                // The index is eventually consistent: read the record itself,
                // and skip one deleted meanwhile.
                if let Some(record) = self.get(&id).await? {
                    records.push(record);
                }
            }
            match cursor(out.last_evaluated_key.filter(|k| !k.is_empty())) {
                Some(id) => start = Some(index_key(&id)),
                None => {
                    return Ok(RecordPage {
                        records,
                        next: None,
                    });
                }
            }
        }
        Ok(RecordPage {
            records,
            next: cursor(start),
        })
    }
}

#[async_trait]
impl ClientCatalog for DynamoClientStore {
    async fn list_records(
        &self,
        owner: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        if limit == 0 {
            return Ok(RecordPage {
                records: Vec::new(),
                next: after.map(str::to_owned),
            });
        }
        match owner {
            Some("") => Ok(RecordPage::default()),
            Some(owner) => self.owner_records(owner, after, limit).await,
            None => self.scan_records(after, limit).await,
        }
    }
}
