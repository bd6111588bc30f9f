//! Tests of the public API with real keys, one file per area.

mod access;
mod fixtures;
mod jws;
mod keys;
mod merge;
mod request;
mod statement;
