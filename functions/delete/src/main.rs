//! Lambda function `delete-client`: answers `DELETE /register/{client_id}` (RFC 7592 §2.3).
//! Settings come from the environment (docs/configuration.md); the wiring is
//! [`dcr_lambda::run`].

use dcr_http::Operation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run(Operation::Delete).await
}
