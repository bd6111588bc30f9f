//! The store contract suite against the in-memory stores: keeps the suite honest
//! (it must pass on the reference behaviour) and the memory stores faithful.

use dcr_core::testing::contract::{client_store_contract, secret_store_contract};
use dcr_core::testing::memory::{MemoryClientStore, MemorySecretStore};

#[tokio::test]
async fn memory_client_store_honours_the_contract() {
    client_store_contract(&MemoryClientStore::default()).await;
}

#[tokio::test]
async fn memory_secret_store_honours_the_contract() {
    secret_store_contract(&MemorySecretStore::default()).await;
}

#[tokio::test]
async fn the_suite_can_run_twice_on_one_store() {
    let clients = MemoryClientStore::default();
    let secrets = MemorySecretStore::default();
    for _ in 0..2 {
        client_store_contract(&clients).await;
        secret_store_contract(&secrets).await;
    }
    assert!(
        clients.all().is_empty(),
        "the suite must clean up its records"
    );
    assert!(
        secrets.ids().is_empty(),
        "the suite must clean up its secrets"
    );
}
