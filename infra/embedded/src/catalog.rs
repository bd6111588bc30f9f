//! The [`ClientCatalog`] of the embedded store: the operator tool's listing,
//! kept apart from the store's writer. It reads the in-memory state in
//! `client_id` order; the cursor is the last `client_id` read.

use async_trait::async_trait;
use dcr_core::{ClientCatalog, ClientRecord, RecordPage, StoreError};

use crate::EmbeddedStore;

/// Most records one page reads while looking for an owner's clients (there is
/// no owner index): a page may be short, with a cursor to go on from.
const MAX_SCANNED: usize = 10_000;

#[async_trait]
impl ClientCatalog for EmbeddedStore {
    async fn list_records(
        &self,
        owner: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        self.read(
            || "listing clients".to_owned(),
            |state| {
                let mut following: Vec<&ClientRecord> = state
                    .records()
                    .filter(|r| after.is_none_or(|after| r.client_id.as_str() > after))
                    .collect();
                following.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id));
                let mut records = Vec::new();
                let mut last = None;
                for (scanned, record) in following.into_iter().enumerate() {
                    if records.len() >= limit || scanned >= MAX_SCANNED {
                        return RecordPage {
                            records,
                            next: last,
                        };
                    }
                    last = Some(record.client_id.to_string());
                    if owner.is_none() || record.owner.as_deref() == owner {
                        records.push(record.clone());
                    }
                }
                RecordPage {
                    records,
                    next: None,
                }
            },
        )
    }
}
