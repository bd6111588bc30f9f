//! Lambda function `server-metadata`: answers the well-known metadata routes (contract §1).
//! Settings come from the environment (contract §4); the wiring is [`dcr_aws::run`].

use dcr_http::Operation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_aws::run(Operation::Metadata).await
}
