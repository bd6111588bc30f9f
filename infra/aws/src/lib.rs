//! AWS adapters of the DCR service: the DynamoDB [`ClientStore`](dcr_core::ClientStore),
//! the Secrets Manager [`SecretStore`](dcr_core::SecretStore), the SDK configuration
//! and HTTP client they run on, the Lambda [`HookCaller`](dcr_core::HookCaller)
//! of hooks that are functions, and what each Lambda function of the deployment
//! may do with them ([`permissions`]). The functions' wiring is `dcr-lambda`.

pub mod dynamo;
pub mod events;
pub mod hooks;
pub mod http_client;
pub mod permissions;
pub mod sdk;
pub mod sealed;
pub mod secrets;
#[cfg(feature = "testing")]
pub mod template;
#[cfg(feature = "testing")]
pub mod testing;

pub use dynamo::DynamoClientStore;
pub use hooks::LambdaHookCaller;
pub use http_client::TlsSetup;
pub use sdk::AwsAccess;
pub use sealed::{KeyRing, SealedSecrets};
pub use secrets::SecretsManagerStore;
