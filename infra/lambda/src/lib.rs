//! The Lambda wiring of the DCR service: each function's settings read once
//! from its environment, logs and metrics set up, the AWS stores and key
//! sources built once per container, then the runtime loop answering with the
//! shared [`App`](dcr_http::App). Every function's `main` is one call to [`run`]
//! (or [`run_sweep`], [`run_authenticate`], [`run_events`]).

pub mod authenticate;
mod bootstrap;
pub mod logs;
pub mod metrics;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use bootstrap::{
    AwsClients, SWEEP_BATCH, app, app_with, app_with_metrics, load_introspection_secret, run,
    run_authenticate, run_events, run_sweep, sdk_config_from_env, stores,
};
pub use settings::{Settings, SettingsError};
