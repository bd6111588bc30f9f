//! Durable embedded stores for `dcr-local`.
