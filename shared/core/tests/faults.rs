//! The fault-injection suite on the in-memory stores.

use std::sync::Arc;

use dcr_core::testing::faults::run_fault_suite;
use dcr_core::testing::memory::{MemoryClientStore, MemorySecretStore};

#[tokio::test]
async fn every_injected_fault_leaves_the_invariants_intact() {
    let report = run_fault_suite(
        Arc::new(MemoryClientStore::default()),
        Arc::new(MemorySecretStore::default()),
    )
    .await;
    report.assert_clean("memory");
}
