//! Lambda function `update-client`: answers `PUT /register/{client_id}` (RFC 7592 §2.2).
//! Settings come from the environment (docs/configuration.md); the wiring is
//! [`dcr_lambda::run`].

use dcr_http::Operation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run(Operation::Update).await
}
