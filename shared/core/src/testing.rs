//! Test support shared by every crate: in-memory stores (unit tests only) and the
//! store contract suite that every `ClientStore` / `SecretStore` implementation runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod contract;
pub mod memory;
