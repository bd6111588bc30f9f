//! Test support shared by every crate: in-memory stores (unit tests only) the
//! store contract suite that every `ClientStore` / `SecretStore` implementation runs,
//! the fault-injection suite of the two-store write order, and races between
//! whole requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod contract;
pub mod faults;
pub mod memory;
pub mod races;
