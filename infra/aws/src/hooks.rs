//! Hooks as Lambda functions (docs/hooks.md): the [`HookCaller`] for
//! `hooks.*.function`. One synchronous `Invoke` (`RequestResponse`) of the
//! named function with the hook request as its payload; a function error
//! (`X-Amz-Function-Error`), any status but 200, an answer over
//! [`MAX_HOOK_ANSWER_BYTES`] or no answer within the hook's `timeout_ms` is a
//! failed hook. The deployment's role may invoke exactly the configured
//! function (template parameter `HookFunctionArn`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use dcr_core::HookCaller;
use dcr_core::service::MAX_HOOK_ANSWER_BYTES;

/// Invokes hook functions with the Lambda client it is given.
#[derive(Debug, Clone)]
pub struct LambdaHookCaller {
    client: aws_sdk_lambda::Client,
}

impl LambdaHookCaller {
    /// A caller invoking functions through `client`.
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl HookCaller for LambdaHookCaller {
    async fn call(
        &self,
        target: &str,
        request: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let invoke = self
            .client
            .invoke()
            .function_name(target)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(request))
            .send();
        let answer = tokio::time::timeout(timeout, invoke)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
            .map_err(|e| {
                format!(
                    "the Invoke call failed: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                )
            })?;
        if let Some(error) = answer.function_error() {
            return Err(format!("the function failed ({error})"));
        }
        if answer.status_code() != 200 {
            return Err(format!("Invoke answered status {}", answer.status_code()));
        }
        let payload = answer
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        if payload.len() > MAX_HOOK_ANSWER_BYTES {
            return Err(format!("answer over {MAX_HOOK_ANSWER_BYTES} bytes"));
        }
        Ok(payload)
    }
}
