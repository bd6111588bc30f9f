//! The Lambda wiring of the DCR service: each function's settings read once
//! from its environment, logs and metrics set up, the AWS stores and key
//! sources built once per container, then the runtime loop answering with the
//! shared [`App`](dcr_http::App). Every function's `main` is one call to [`run`]
//! (or [`run_sweep`]).

mod bootstrap;
pub mod logs;
pub mod metrics;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use bootstrap::{
    SWEEP_BATCH, app, app_with_metrics, load_introspection_secret, run, run_sweep, stores,
};
pub use settings::{Settings, SettingsError};
