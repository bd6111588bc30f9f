//! AWS adapters of the DCR service: the DynamoDB [`ClientStore`](dcr_core::ClientStore),
//! the Secrets Manager [`SecretStore`](dcr_core::SecretStore), the settings read from
//! a function's environment, and the Lambda bootstrap every function's `main` calls.

pub mod authenticate;
pub mod bootstrap;
pub mod dynamo;
pub mod events;
pub mod http_client;
pub mod metrics;
pub mod permissions;
pub mod sdk;
pub mod sealed;
pub mod secrets;
pub mod settings;
#[cfg(feature = "testing")]
pub mod template;
#[cfg(feature = "testing")]
pub mod testing;

pub use bootstrap::{run, run_authenticate, run_events, run_sweep};
pub use dynamo::DynamoClientStore;
pub use sdk::AwsAccess;
pub use sealed::{KeyRing, SealedSecrets};
pub use secrets::SecretsManagerStore;
pub use settings::{Settings, SettingsError};
