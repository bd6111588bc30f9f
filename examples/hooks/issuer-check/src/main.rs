//! `issuer-check`: as a Lambda function when run by the Lambda runtime
//! (`AWS_LAMBDA_RUNTIME_API` set), else an HTTP hook on `--listen ADDR`
//! (default `127.0.0.1:8081`), printing `listening on http://ADDR`.

use dcr_hook_issuer_check::{decide, serve};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
            Ok::<Value, lambda_runtime::Error>(decide(&event.payload))
        }))
        .await;
    }
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:8081".to_owned();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => return Err("usage: issuer-check [--listen ADDR]".into()),
        }
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener).await?;
    Ok(())
}
