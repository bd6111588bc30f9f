//! The [`ClientCatalog`] contract: pages that, followed by their cursors,
//! return every record once, in any state, and an owner's records only.

use std::collections::BTreeSet;

use crate::model::ClientState;
use crate::ports::{ClientCatalog, ClientStore};

use super::{bare_record, unique};

/// Writes records of two owners in every state, then pages through the whole
/// catalog (pages of 3) and through one owner's records: each of this check's
/// records appears exactly once, with its `disabled` flag as stored. Other
/// records of a shared backend may appear too and are ignored.
pub async fn catalog_contract(store: &dyn ClientStore, catalog: &dyn ClientCatalog) {
    let owner = unique("catalog-owner");
    let other = unique("catalog-other");
    let mut mine = BTreeSet::new();
    let mut owned = BTreeSet::new();
    for (i, state) in [
        ClientState::Active,
        ClientState::Pending,
        ClientState::Deleting,
        ClientState::Active,
        ClientState::Active,
    ]
    .into_iter()
    .enumerate()
    {
        let mut record = bare_record(&unique("catalog"), state, 1_000 + i as i64);
        record.disabled = i == 3;
        record.owner = Some(if i % 2 == 0 { &owner } else { &other }.clone());
        if i % 2 == 0 {
            owned.insert(record.client_id.clone());
        }
        mine.insert(record.client_id.clone());
        store.insert(&record).await.expect("insert");
    }

    let pages = |owner: Option<String>| async move {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..100_000 {
            let page = catalog
                .list_records(owner.as_deref(), after.as_deref(), 3)
                .await
                .expect("list_records");
            assert!(page.records.len() <= 3, "a page holds at most `limit`");
            seen.extend(page.records);
            match page.next {
                Some(next) => after = Some(next),
                None => return seen,
            }
        }
        panic!("the catalog never reached its last page");
    };

    let all = pages(None).await;
    let found: Vec<_> = all.iter().filter(|r| mine.contains(&r.client_id)).collect();
    let ids: BTreeSet<_> = found.iter().map(|r| r.client_id.clone()).collect();
    assert_eq!(found.len(), mine.len(), "each record once");
    assert_eq!(ids, mine);
    assert_eq!(found.iter().filter(|r| r.disabled).count(), 1);

    let of_owner = pages(Some(owner.clone())).await;
    assert!(of_owner.iter().all(|r| r.owner.as_deref() == Some(&owner)));
    let ids: BTreeSet<_> = of_owner.iter().map(|r| r.client_id.clone()).collect();
    assert_eq!(ids, owned);
    assert_eq!(of_owner.len(), owned.len());

    for id in &mine {
        let record = store.get(id).await.expect("get").expect("stored");
        store.delete(id, record.version).await.expect("delete");
    }
}
