//! Lambda function `sweep-clients`: run by an EventBridge schedule, it finishes or
//! undoes half-done writes and removes expired clients, secret first.
//! Settings come from the environment (contract §4); the wiring is [`dcr_aws::run_sweep`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_aws::run_sweep().await
}
