//! Lambda function `register-client`: answers `POST /register` (RFC 7591 §3).
//! Settings come from the environment (docs/configuration.md); the wiring is
//! [`dcr_lambda::run`].

use dcr_http::Operation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run(Operation::Register).await
}
