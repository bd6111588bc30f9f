//! Lambda function `server-metadata`: answers the discovery documents (RFC 8414, OpenID Connect
//! Discovery), CORS preflights and unmatched routes.
//! Settings come from the environment (docs/configuration.md); the wiring is
//! [`dcr_lambda::run`].

use dcr_http::Operation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run(Operation::Metadata).await
}
