//! Lambda function `delete-client`: answers `DELETE /register/{client_id}` (contract §1).
//! Settings come from the environment (contract §4); the wiring is [`dcr_aws::run`].

use dcr_http::Operation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_aws::run(Operation::Delete).await
}
