//! Lambda function `sweep-clients`: run by an EventBridge schedule, it finishes or
//! undoes half-done writes and removes expired clients, secret first.
//! Settings come from the environment (docs/configuration.md); the wiring is
//! [`dcr_lambda::run_sweep`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run_sweep().await
}
