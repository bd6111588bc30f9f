//! Test support shared by every crate: in-memory stores (unit tests only) the
//! store contract suite that every `ClientStore` / `SecretStore` implementation runs,
//! and the fault-injection suite of the two-store write order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod contract;
pub mod faults;
pub mod memory;
