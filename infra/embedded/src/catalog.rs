//! The [`ClientCatalog`] of the embedded store: the operator tool's listing,
//! kept apart from the store's tables and writer. It reads the `clients`
//! table in `client_id` order, in one read transaction per page; the cursor
//! is the last `client_id` read.

use std::ops::Bound;

use async_trait::async_trait;
use dcr_core::{ClientCatalog, RecordPage, StoreError};

use crate::EmbeddedStore;
use crate::schema::{self, CLIENTS};

/// Most rows one page reads while looking for an owner's clients (there is
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
        let owner = owner.map(str::to_owned);
        let after = after.map(str::to_owned);
        self.read("listing clients".to_owned(), move |txn| {
            let clients = txn.open_table(CLIENTS)?;
            let start = match after.as_deref() {
                Some(id) => Bound::Excluded(id),
                None => Bound::Unbounded,
            };
            let mut records = Vec::new();
            let mut last = None;
            let rows = clients.range::<&str>((start, Bound::Unbounded))?;
            for (scanned, entry) in rows.enumerate() {
                if records.len() >= limit || scanned >= MAX_SCANNED {
                    return Ok(RecordPage {
                        records,
                        next: last,
                    });
                }
                let (id, bytes) = entry?;
                let record = schema::decode(id.value(), bytes.value())?;
                last = Some(record.client_id.clone());
                if owner.is_none() || record.owner == owner {
                    records.push(record);
                }
            }
            Ok(RecordPage {
                records,
                next: None,
            })
        })
        .await
    }
}
