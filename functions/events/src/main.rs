//! Lambda function `client-events`: fed the clients table's DynamoDB stream, it
//! puts client lifecycle events (registered, updated, deleted, expired) on the
//! default EventBridge bus, without any secret material. The wiring is
//! [`dcr_lambda::run_events`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run_events().await
}
