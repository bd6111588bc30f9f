//! Lambda function `authenticate-client`: an authorization server invokes it
//! (IAM, `lambda:InvokeFunction`; it is on no public API) to authenticate a
//! registered client and read its metadata. The request and answer are in
//! docs/authorization-server.md; the wiring is [`dcr_lambda::run_authenticate`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    dcr_lambda::run_authenticate().await
}
