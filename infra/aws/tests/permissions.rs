//! template.yaml's IAM policies against the permissions table of
//! `dcr_aws::permissions`: each function is allowed exactly the AWS actions its
//! code makes, on exactly their resources, in each secret storage mode; the
//! optional KMS keys and the introspection secret only where they are used.
//! Offline: no emulator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use dcr_aws::dynamo::{OWNER_INDEX, SOFTWARE_ID_INDEX, TTL_ATTRIBUTE, UNSETTLED_INDEX};
use dcr_aws::permissions::{Function, Names, Storage};
use dcr_aws::template::{DEAD_LETTER_QUEUE, Deployment, Template};
use serde_json::Value;

const SECRETS_KEY: &str =
    "arn:aws:kms:eu-west-2:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd";
const TABLE_KEY: &str =
    "arn:aws:kms:eu-west-2:123456789012:key/5555eeee-6666-ffff-7777-0000aaaa1111";
const INTROSPECTION: &str =
    "arn:aws:secretsmanager:eu-west-2:123456789012:secret:dcr/introspection-AbCdEf";

fn names() -> Names {
    Names {
        partition: "aws".into(),
        region: "eu-west-2".into(),
        account: "123456789012".into(),
        table: "dcr-ClientsTable-1ABC".into(),
        secret_prefix: "dcr/clients/".into(),
        key_ring: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:KeyRingSecret-AbCdEf"
            .into(),
    }
}

/// A deployment in `storage` mode, with the optional queue off.
fn deployment(storage: Storage) -> Deployment {
    Deployment::new(names())
        .with("EnableSweepDeadLetterQueue", "false")
        .with("ClientSecretStorage", storage.name())
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => panic!("not a string or list: {other}"),
    }
}

/// Every (action, resource) an Allow statement of `docs` grants, with the
/// statement's condition keys (if any).
fn statements(docs: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for doc in docs {
        let list = match &doc["Statement"] {
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        };
        for st in list {
            assert_eq!(st["Effect"], "Allow", "{st}");
            for banned in ["NotAction", "NotResource", "Principal"] {
                assert!(st.get(banned).is_none(), "{banned} in {st}");
            }
            let condition = st
                .get("Condition")
                .map(Value::to_string)
                .unwrap_or_default();
            for action in as_list(&st["Action"]) {
                for resource in as_list(&st["Resource"]) {
                    out.insert((action.clone(), resource, condition.clone()));
                }
            }
        }
    }
    out
}

fn granted(
    template: &Template,
    function: Function,
    deployment: &Deployment,
) -> BTreeSet<(String, String, String)> {
    statements(&template.policies(function, deployment).unwrap())
}

fn table_of(function: Function, storage: Storage) -> BTreeSet<(String, String, String)> {
    function
        .grants(storage)
        .into_iter()
        .map(|g| (g.action.to_owned(), g.resource.arn(&names()), String::new()))
        .collect()
}

#[test]
fn every_function_is_allowed_exactly_what_its_code_does_in_each_storage_mode() {
    let template = Template::load().unwrap();
    let mut wrong = Vec::new();
    for storage in Storage::ALL {
        let deployment = deployment(storage);
        for function in Function::ALL {
            let got = granted(&template, function, &deployment);
            let want = table_of(function, storage);
            let missing: Vec<_> = want.difference(&got).collect();
            let unused: Vec<_> = got.difference(&want).collect();
            if !missing.is_empty() || !unused.is_empty() {
                wrong.push(format!(
                    "{} ({}): missing {missing:?}; unused {unused:?}",
                    function.logical_id(),
                    storage.name()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "template.yaml vs dcr_aws::permissions:\n{}",
        wrong.join("\n")
    );
}

/// The statements a parameter adds, per function, in the default storage mode.
fn added_by(
    parameter: &str,
    value: &str,
    function: Function,
) -> BTreeSet<(String, String, String)> {
    added_in(Storage::SecretsManager, parameter, value, function)
}

/// The statements a parameter adds, per function, in `storage` mode.
fn added_in(
    storage: Storage,
    parameter: &str,
    value: &str,
    function: Function,
) -> BTreeSet<(String, String, String)> {
    let template = Template::load().unwrap();
    let base = deployment(storage);
    let with = granted(&template, function, &base.clone().with(parameter, value));
    let base = granted(&template, function, &base);
    assert!(
        base.is_subset(&with),
        "{parameter} must only add statements"
    );
    with.difference(&base).cloned().collect()
}

fn via(service: &str) -> String {
    format!(r#"{{"StringEquals":{{"kms:ViaService":"{service}.eu-west-2.amazonaws.com"}}}}"#)
}

#[test]
fn the_secrets_key_is_used_only_through_secrets_manager_by_secret_readers_and_writers() {
    for storage in Storage::ALL {
        for function in Function::ALL {
            let added = added_in(storage, "SecretsKmsKeyArn", SECRETS_KEY, function);
            let want: BTreeSet<_> = function
                .secrets_key_actions(storage)
                .iter()
                .map(|a| {
                    (
                        (*a).to_owned(),
                        SECRETS_KEY.to_owned(),
                        via("secretsmanager"),
                    )
                })
                .collect();
            assert_eq!(
                added,
                want,
                "{} ({})",
                function.logical_id(),
                storage.name()
            );
        }
    }
}

#[test]
fn only_the_authorization_server_role_may_invoke_authenticate_client() {
    let text = std::fs::read_to_string(dcr_aws::template::path()).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let permission = &doc["Resources"]["AuthenticateClientInvokePermission"];
    assert_eq!(permission["Condition"], "HasAuthorizationServerRole");
    let props = &permission["Properties"];
    assert_eq!(props["Action"], "lambda:InvokeFunction");
    let principal = serde_yaml_ng::to_string(&props["Principal"]).unwrap();
    assert!(
        principal.contains("AuthorizationServerRoleArn"),
        "{principal}"
    );
    // And no route of the HTTP API reaches the function.
    let function = &doc["Resources"]["AuthenticateClientFunction"]["Properties"];
    assert!(function.get("Events").is_none(), "{function:?}");
}

#[test]
fn the_table_key_is_used_only_through_dynamodb_by_the_table_s_readers_and_writers() {
    for function in Function::ALL {
        let added = added_by("TableKmsKeyArn", TABLE_KEY, function);
        let mut want = BTreeSet::new();
        if function.uses_table() {
            want.insert((
                "kms:Decrypt".to_owned(),
                TABLE_KEY.to_owned(),
                via("dynamodb"),
            ));
        }
        if function.writes_table() {
            for action in ["kms:Encrypt", "kms:GenerateDataKey"] {
                want.insert((action.to_owned(), TABLE_KEY.to_owned(), via("dynamodb")));
            }
        }
        assert_eq!(added, want, "{}", function.logical_id());
    }
}

#[test]
fn the_introspection_secret_is_readable_only_by_functions_that_authenticate_tokens() {
    for function in Function::ALL {
        let added = added_by("IntrospectionSecretArn", INTROSPECTION, function);
        let want: BTreeSet<_> = if function.authenticates_tokens() {
            [(
                "secretsmanager:GetSecretValue".to_owned(),
                INTROSPECTION.to_owned(),
                String::new(),
            )]
            .into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(added, want, "{}", function.logical_id());
    }
}

#[test]
fn a_hook_function_is_invocable_only_by_the_function_that_runs_that_hook() {
    const HOOK: &str = "arn:aws:lambda:eu-west-2:123456789012:function:issuer-check";
    for parameter in ["PreRegistrationHookArn", "PreUpdateHookArn"] {
        for function in Function::ALL {
            let added = added_by(parameter, HOOK, function);
            let want: BTreeSet<_> = if function.hook_parameter() == Some(parameter) {
                [(
                    "lambda:InvokeFunction".to_owned(),
                    HOOK.to_owned(),
                    String::new(),
                )]
                .into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(added, want, "{parameter} {}", function.logical_id());
        }
    }
}

#[test]
fn only_the_sweep_may_send_its_failures_to_the_dead_letter_queue() {
    let queue = format!("arn:aws:sqs:eu-west-2:123456789012:{DEAD_LETTER_QUEUE}");
    for function in Function::ALL {
        let added = added_by("EnableSweepDeadLetterQueue", "true", function);
        let want: BTreeSet<_> = if function.sends_failures_to_queue() {
            [("sqs:SendMessage".to_owned(), queue.clone(), String::new())].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(added, want, "{}", function.logical_id());
    }
}

#[test]
fn the_table_has_the_indexes_and_ttl_the_store_uses() {
    let table = Template::load().unwrap().clients_table().unwrap();
    let indexes: BTreeSet<&str> = table
        .global_secondary_indexes
        .iter()
        .map(|g| g.index_name.as_str())
        .collect();
    assert_eq!(
        indexes,
        [SOFTWARE_ID_INDEX, OWNER_INDEX, UNSETTLED_INDEX].into()
    );
    assert_eq!(
        table.time_to_live_specification.attribute_name,
        TTL_ATTRIBUTE
    );
    assert_eq!(table.key_schema[0].attribute_name, "client_id");
}
