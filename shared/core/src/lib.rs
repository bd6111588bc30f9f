//! Domain core of the dynamic client registration service: the client model,
//! the ports every store implements, the configuration, and the four use cases.

pub mod config;
pub mod errors;
pub mod model;
pub mod ports;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokens;

pub use config::Config;
pub use errors::{
    AccessError, AuthError, AuthenticateError, BodyError, DeleteError, HookError, ReadError,
    Refusal, RegisterError, UpdateError,
};
pub use model::{ClientId, ClientRecord, ClientState};
pub use ports::{
    AccessToken, ClientCatalog, ClientSecret, ClientStore, Clock, FetchError, HookCaller,
    Introspector, KeySource, RecordPage, SecretStore, SectorSource, StoreError, SystemClock,
    TokenVerifier, UrlOrigin, same_secret,
};
pub use service::{
    AuthenticatedClient, Body, Caller, ClientInfo, Credential, JwtVerifier, Ports, RETRY_WINDOW,
    RegisterRequest, Service, SweepReport, UpdateRequest,
};
