//! What each function does on AWS: the one table its IAM policy in
//! `template.yaml` is checked against (nothing missing, nothing unused).
//!
//! Two facts make the table, each kept next to what it describes:
//! - [`Function::store_calls`]: the store port methods the use cases behind a
//!   function call (shared/core/src/service);
//! - [`StoreCall::grants`]: the AWS actions, and on which resource, the adapters
//!   of this crate make for each port method in each secret storage mode
//!   ([`crate::dynamo`], [`crate::secrets`], [`crate::sealed`]).
//!
//! [`Function::grants`] joins them, and adds what a function does besides the
//! stores (the client events function's stream and event bus). The black-box suite runs every function on
//! moto with IAM enforced, under a role holding exactly the template's policy,
//! so an action missing from both the table and the template is an
//! `AccessDenied` there (docs/deploy.md, "What each function may do").

use std::collections::BTreeSet;

use crate::dynamo::{SOFTWARE_ID_INDEX, UNSETTLED_INDEX};

/// A Lambda function of the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// `POST /register`.
    Register,
    /// `GET /register/{client_id}`.
    Get,
    /// `PUT /register/{client_id}`.
    Update,
    /// `DELETE /register/{client_id}`.
    Delete,
    /// Discovery, CORS preflight, unmatched routes.
    Metadata,
    /// The scheduled sweep.
    Sweep,
    /// `authenticate-client`: client authentication for an authorization server (IAM-invoked).
    Authenticate,
    /// `client-events`: the table's stream to lifecycle events on the default event bus.
    Events,
}

/// Where client secrets live (the template's `ClientSecretStorage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Storage {
    /// One Secrets Manager secret per client.
    SecretsManager,
    /// Sealed in the client's item under the key ring.
    Sealed,
}

impl Storage {
    /// Both modes.
    pub const ALL: [Storage; 2] = [Storage::SecretsManager, Storage::Sealed];

    /// The template parameter's value.
    pub fn name(self) -> &'static str {
        match self {
            Storage::SecretsManager => "secrets-manager",
            Storage::Sealed => "sealed",
        }
    }
}

/// A method of a store port (`ClientStore`, `SecretStore`), as the use cases call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreCall {
    /// `ClientStore::insert`.
    Insert,
    /// `ClientStore::insert_with_secret` (one write in the sealed mode; nothing otherwise).
    InsertWithSecret,
    /// `ClientStore::get`.
    Get,
    /// `ClientStore::replace`.
    Replace,
    /// `ClientStore::replace_with_secret` (one write in the sealed mode; nothing otherwise).
    ReplaceWithSecret,
    /// `ClientStore::delete`.
    Delete,
    /// `ClientStore::find_by_software_id`.
    FindBySoftwareId,
    /// `ClientStore::list_due`.
    ListDue,
    /// `ClientStore::remember_once`.
    RememberOnce,
    /// `SecretStore::put`.
    SecretPut,
    /// `SecretStore::put_if`.
    SecretPutIf,
    /// `SecretStore::get`.
    SecretGet,
    /// `SecretStore::delete`.
    SecretDelete,
}

/// What an action is allowed on, as the template names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// The clients table (`ClientsTable.Arn`).
    Table,
    /// One index of the clients table (`${ClientsTable.Arn}/index/NAME`).
    Index(&'static str),
    /// Every client secret: `secret:{SecretPrefix}*` (the `*` covers the name's random suffix).
    Secrets,
    /// The key ring secret of the sealed mode (`KeyRingSecret`).
    KeyRing,
    /// The clients table's streams (`${ClientsTable.Arn}/stream/*`).
    Stream,
    /// The account's default event bus.
    DefaultBus,
}

/// One IAM action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grant {
    /// The IAM action, `service:Action`.
    pub action: &'static str,
    /// What it is allowed on.
    pub resource: Resource,
}

/// Where the names of a deployment come from, to turn a [`Resource`] into an ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The region.
    pub region: String,
    /// The account id.
    pub account: String,
    /// The clients table's name.
    pub table: String,
    /// The secret name prefix.
    pub secret_prefix: String,
    /// The key ring secret's ARN (sealed mode).
    pub key_ring: String,
}

impl Resource {
    /// The ARN (or ARN pattern) an IAM statement names for this resource.
    pub fn arn(&self, names: &Names) -> String {
        let Names {
            partition,
            region,
            account,
            table,
            secret_prefix,
            key_ring,
        } = names;
        match self {
            Resource::Table => format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}"),
            Resource::Index(index) => {
                format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}/index/{index}")
            }
            Resource::Secrets => {
                format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{secret_prefix}*")
            }
            Resource::KeyRing => key_ring.clone(),
            Resource::Stream => {
                format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}/stream/*")
            }
            Resource::DefaultBus => {
                format!("arn:{partition}:events:{region}:{account}:event-bus/default")
            }
        }
    }
}

impl StoreCall {
    /// Every store call.
    pub const ALL: [StoreCall; 13] = [
        StoreCall::Insert,
        StoreCall::InsertWithSecret,
        StoreCall::Get,
        StoreCall::Replace,
        StoreCall::ReplaceWithSecret,
        StoreCall::Delete,
        StoreCall::FindBySoftwareId,
        StoreCall::ListDue,
        StoreCall::RememberOnce,
        StoreCall::SecretPut,
        StoreCall::SecretPutIf,
        StoreCall::SecretGet,
        StoreCall::SecretDelete,
    ];

    /// The port method's name, `store.method` (metric dimension and log field).
    pub fn name(self) -> &'static str {
        match self {
            StoreCall::Insert => "clients.insert",
            StoreCall::InsertWithSecret => "clients.insert_with_secret",
            StoreCall::Get => "clients.get",
            StoreCall::Replace => "clients.replace",
            StoreCall::ReplaceWithSecret => "clients.replace_with_secret",
            StoreCall::Delete => "clients.delete",
            StoreCall::FindBySoftwareId => "clients.find_by_software_id",
            StoreCall::ListDue => "clients.list_due",
            StoreCall::RememberOnce => "clients.remember_once",
            StoreCall::SecretPut => "secrets.put",
            StoreCall::SecretPutIf => "secrets.put_if",
            StoreCall::SecretGet => "secrets.get",
            StoreCall::SecretDelete => "secrets.delete",
        }
    }

    /// The AWS actions the adapters make for this call in `storage` mode.
    pub fn grants(self, storage: Storage) -> Vec<Grant> {
        use Resource::{Index, KeyRing, Secrets, Table};
        let grant = |action, resource| Grant { action, resource };
        let sealed = storage == Storage::Sealed;
        // Reading the key ring: once per container, and for a version it has not seen.
        let ring = grant("secretsmanager:GetSecretValue", KeyRing);
        match self {
            // Conditional PutItem; its failure returns the old item (no extra read).
            StoreCall::RememberOnce => vec![grant("dynamodb:PutItem", Table)],
            // The same, or, for a record claiming its software_id, the record
            // and the claim item in one TransactWriteItems (authorised as its
            // PutItems), and after a refusal a read of each (which failed?).
            StoreCall::Insert => vec![
                grant("dynamodb:PutItem", Table),
                grant("dynamodb:GetItem", Table),
            ],
            // The record and its sealed secret in one PutItem; nothing in the other mode.
            StoreCall::InsertWithSecret if sealed => vec![grant("dynamodb:PutItem", Table), ring],
            StoreCall::InsertWithSecret => vec![],
            // Sealed: an UpdateItem that keeps the sealed secret, and a second
            // one that re-seals it when an older key sealed it (with the keys the
            // container already read: the secret was read or written first).
            StoreCall::Replace if sealed => vec![grant("dynamodb:UpdateItem", Table)],
            StoreCall::Replace => vec![grant("dynamodb:PutItem", Table)],
            // The record and its newly sealed secret in one UpdateItem; nothing in the other mode.
            StoreCall::ReplaceWithSecret if sealed => {
                vec![grant("dynamodb:UpdateItem", Table), ring]
            }
            StoreCall::ReplaceWithSecret => vec![],
            StoreCall::Get => vec![grant("dynamodb:GetItem", Table)],
            StoreCall::Delete => vec![grant("dynamodb:DeleteItem", Table)],
            StoreCall::FindBySoftwareId => vec![grant("dynamodb:Query", Index(SOFTWARE_ID_INDEX))],
            StoreCall::ListDue => vec![grant("dynamodb:Query", Index(UNSETTLED_INDEX))],
            StoreCall::SecretPut if sealed => vec![grant("dynamodb:UpdateItem", Table), ring],
            // CreateSecret with tags (TagResource); over an existing secret,
            // DescribeSecret, RestoreSecret if it is scheduled for deletion, PutSecretValue.
            StoreCall::SecretPut => vec![
                grant("secretsmanager:CreateSecret", Secrets),
                grant("secretsmanager:TagResource", Secrets),
                grant("secretsmanager:DescribeSecret", Secrets),
                grant("secretsmanager:RestoreSecret", Secrets),
                grant("secretsmanager:PutSecretValue", Secrets),
            ],
            // Sealed: the item's sealed secret read, then an UpdateItem
            // conditional on it.
            StoreCall::SecretPutIf if sealed => vec![
                grant("dynamodb:GetItem", Table),
                grant("dynamodb:UpdateItem", Table),
                ring,
            ],
            // The current value and version read; a new secret created where
            // there is none; else a restore of one scheduled for deletion, the
            // new value put without a stage, and AWSCURRENT moved to it only
            // from the version read (UpdateSecretVersionStage's compare-and-swap).
            StoreCall::SecretPutIf => vec![
                grant("secretsmanager:GetSecretValue", Secrets),
                grant("secretsmanager:CreateSecret", Secrets),
                grant("secretsmanager:TagResource", Secrets),
                grant("secretsmanager:DescribeSecret", Secrets),
                grant("secretsmanager:RestoreSecret", Secrets),
                grant("secretsmanager:PutSecretValue", Secrets),
                grant("secretsmanager:UpdateSecretVersionStage", Secrets),
            ],
            StoreCall::SecretGet if sealed => vec![grant("dynamodb:GetItem", Table), ring],
            StoreCall::SecretGet => vec![grant("secretsmanager:GetSecretValue", Secrets)],
            // Sealed: an UpdateItem removing the attributes; an item holding
            // only a secret (no record) is deleted instead.
            StoreCall::SecretDelete if sealed => vec![
                grant("dynamodb:UpdateItem", Table),
                grant("dynamodb:DeleteItem", Table),
            ],
            StoreCall::SecretDelete => vec![grant("secretsmanager:DeleteSecret", Secrets)],
        }
    }
}

impl Function {
    /// Every function of the template.
    pub const ALL: [Function; 8] = [
        Function::Register,
        Function::Get,
        Function::Update,
        Function::Delete,
        Function::Metadata,
        Function::Sweep,
        Function::Authenticate,
        Function::Events,
    ];

    /// The function's logical id in `template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::Register => "RegisterFunction",
            Function::Get => "GetFunction",
            Function::Update => "UpdateFunction",
            Function::Delete => "DeleteFunction",
            Function::Metadata => "MetadataFunction",
            Function::Sweep => "SweepFunction",
            Function::Authenticate => "AuthenticateClientFunction",
            Function::Events => "ClientEventsFunction",
        }
    }

    /// The function's short name (metric dimension).
    pub fn name(self) -> &'static str {
        match self {
            Function::Register => "register",
            Function::Get => "get",
            Function::Update => "update",
            Function::Delete => "delete",
            Function::Metadata => "metadata",
            Function::Sweep => "sweep",
            Function::Authenticate => "authenticate",
            Function::Events => "events",
        }
    }

    /// The store calls of the use cases behind the function, every branch included.
    pub fn store_calls(self) -> &'static [StoreCall] {
        use StoreCall::*;
        match self {
            // register.rs: a server-drawn id in one write where the store can
            // (insert_with_secret), else the pending insert, then secret and
            // activation; a client-chosen id that exists is read, its secret
            // compared and the retry answered with a renewed token (replace);
            // AU-CDR's one client per software_id (find + get); replay markers
            // of signed requests.
            Function::Register => &[
                InsertWithSecret,
                Insert,
                Get,
                Replace,
                FindBySoftwareId,
                RememberOnce,
                SecretPut,
                SecretGet,
            ],
            // auth.rs reads the record; update.rs reads the secret.
            Function::Get => &[Get, SecretGet],
            // update.rs: read, replay markers of a signed body, a new secret
            // with the record in one write where the store keeps both, else
            // the secret (conditional on the one read) then the record; the
            // secret of a client turned public deleted.
            Function::Update => &[
                Get,
                RememberOnce,
                SecretGet,
                ReplaceWithSecret,
                SecretPutIf,
                Replace,
                SecretDelete,
            ],
            // update.rs `delete`: mark Deleting, delete secret, then record.
            Function::Delete => &[Get, Replace, SecretDelete, Delete],
            Function::Metadata => &[],
            // sweep.rs: the due records come whole from the index (projection ALL).
            Function::Sweep => &[ListDue, SecretDelete, Delete],
            // authenticate.rs: the record, and the secret to compare.
            Function::Authenticate => &[Get, SecretGet],
            // Reads the stream Lambda hands it; no store call.
            Function::Events => &[],
        }
    }

    /// What the function does besides the stores: the client events
    /// function's event source mapping reads the table's stream as the
    /// function's role, and the function puts events on the default bus.
    fn other_grants(self) -> Vec<Grant> {
        match self {
            Function::Events => [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ]
            .into_iter()
            .map(|action| Grant {
                action,
                resource: Resource::Stream,
            })
            .chain([Grant {
                action: "events:PutEvents",
                resource: Resource::DefaultBus,
            }])
            .collect(),
            _ => Vec::new(),
        }
    }

    /// Every AWS action the function makes in `storage` mode, on its resource.
    pub fn grants(self, storage: Storage) -> BTreeSet<Grant> {
        self.store_calls()
            .iter()
            .flat_map(|call| call.grants(storage))
            .chain(self.other_grants())
            .collect()
    }

    /// The actions on the customer managed key of the secrets (when one is
    /// set) the function needs in `storage` mode: all three where it reads or
    /// writes client secrets in Secrets Manager, `kms:Decrypt` where it reads
    /// the key ring.
    pub fn secrets_key_actions(self, storage: Storage) -> &'static [&'static str] {
        let grants = self.grants(storage);
        if grants.iter().any(|g| g.resource == Resource::KeyRing) {
            &["kms:Decrypt"]
        } else if grants
            .iter()
            .any(|g| g.resource == Resource::Secrets && g.action != "secretsmanager:DeleteSecret")
        {
            &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        } else {
            &[]
        }
    }

    /// Whether the function reads the clients table (and so needs its
    /// customer managed key, when one is set).
    pub fn uses_table(self) -> bool {
        Storage::ALL.iter().any(|storage| {
            self.grants(*storage).iter().any(|g| {
                matches!(
                    g.resource,
                    Resource::Table | Resource::Index(_) | Resource::Stream
                )
            })
        })
    }

    /// Whether the function writes the clients table.
    pub fn writes_table(self) -> bool {
        Storage::ALL.iter().any(|storage| {
            self.grants(*storage).iter().any(|g| {
                matches!(
                    g.action,
                    "dynamodb:PutItem" | "dynamodb:DeleteItem" | "dynamodb:UpdateItem"
                )
            })
        })
    }

    /// Whether a failed asynchronous invocation of the function goes to a
    /// queue as the function's role (`sqs:SendMessage`, the scheduled sweep's
    /// on-failure destination when the template enables it).
    pub fn sends_failures_to_queue(self) -> bool {
        self == Function::Sweep
    }

    /// The template parameter naming the Lambda function this function's
    /// hook is (`lambda:InvokeFunction` on exactly it, [`crate::hooks`]), if
    /// the function runs a hook: register runs `pre_registration`, update `pre_update`.
    pub fn hook_parameter(self) -> Option<&'static str> {
        match self {
            Function::Register => Some("PreRegistrationHookArn"),
            Function::Update => Some("PreUpdateHookArn"),
            _ => None,
        }
    }

    /// Whether the function authenticates tokens, and so may read the token
    /// introspection client's secret (`DCR_INTROSPECTION_SECRET_ID`).
    pub fn authenticates_tokens(self) -> bool {
        matches!(
            self,
            Function::Register | Function::Get | Function::Update | Function::Delete
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Secrets Manager operations the crate calls; any other is DynamoDB's
    /// (or, `put_events`, EventBridge's).
    const SECRETS_MANAGER_OPS: [&str; 8] = [
        "create_secret",
        "tag_resource",
        "describe_secret",
        "restore_secret",
        "put_secret_value",
        "update_secret_version_stage",
        "get_secret_value",
        "delete_secret",
    ];

    /// The SDK operations the adapters call (`.client.operation()` or
    /// `.client().operation()`), found in their source outside tests, as IAM actions.
    fn sdk_calls() -> BTreeSet<String> {
        let sources = [
            include_str!("dynamo.rs"),
            include_str!("secrets.rs"),
            include_str!("sealed.rs"),
            include_str!("events.rs"),
        ];
        let mut found = BTreeSet::new();
        for source in sources {
            let code = source.split("#[cfg(test)]").next().unwrap_or(source);
            for (at, _) in code.match_indices(".client") {
                let rest = code[at + ".client".len()..].trim_start();
                let rest = rest.strip_prefix("()").unwrap_or(rest).trim_start();
                let Some(rest) = rest.strip_prefix('.') else {
                    continue;
                };
                let op: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !rest[op.len()..].starts_with("()") {
                    continue;
                }
                let service = if SECRETS_MANAGER_OPS.contains(&op.as_str()) {
                    "secretsmanager"
                } else if op == "put_events" {
                    "events"
                } else {
                    "dynamodb"
                };
                // IAM authorises a transaction item by item; the adapter's
                // transactions hold puts only (dynamo.rs, insert_claiming).
                if op == "transact_write_items" {
                    found.insert("dynamodb:PutItem".to_owned());
                    continue;
                }
                let action: String = op
                    .split('_')
                    .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
                    .collect();
                found.insert(format!("{service}:{action}"));
            }
            // CreateSecret with tags is also TagResource.
            if code.contains(".tags(") {
                found.insert("secretsmanager:TagResource".to_owned());
            }
        }
        found
    }

    #[test]
    fn the_store_calls_cover_exactly_the_sdk_calls_of_the_adapters() {
        let granted: BTreeSet<String> = Function::ALL
            .iter()
            .flat_map(|f| Storage::ALL.map(|storage| f.grants(storage)))
            .flatten()
            .filter(|g| g.resource != Resource::Stream)
            .map(|g| g.action.to_owned())
            .collect();
        assert_eq!(granted, sdk_calls());
    }

    #[test]
    fn every_store_call_is_made_by_some_function() {
        let used: BTreeSet<StoreCall> = Function::ALL
            .iter()
            .flat_map(|f| f.store_calls().iter().copied())
            .collect();
        assert_eq!(used, StoreCall::ALL.into_iter().collect());
    }

    #[test]
    fn the_sealed_mode_touches_no_client_secret_in_secrets_manager() {
        for function in Function::ALL {
            let sealed = function.grants(Storage::Sealed);
            assert!(
                sealed.iter().all(|g| g.resource != Resource::Secrets),
                "{function:?}: {sealed:?}"
            );
            let plain = function.grants(Storage::SecretsManager);
            assert!(
                plain.iter().all(|g| g.resource != Resource::KeyRing),
                "{function:?}: {plain:?}"
            );
        }
        // Deleting needs no key: only readers and writers of secret values read the ring.
        for function in Function::ALL {
            let reads_ring = function
                .grants(Storage::Sealed)
                .iter()
                .any(|g| g.resource == Resource::KeyRing);
            let reads_or_writes_secrets = function
                .store_calls()
                .iter()
                .any(|c| matches!(c, StoreCall::SecretGet | StoreCall::SecretPut));
            assert_eq!(reads_ring, reads_or_writes_secrets, "{function:?}");
        }
    }

    #[test]
    fn resources_render_as_the_template_names_them() {
        let names = Names {
            partition: "aws".into(),
            region: "eu-west-2".into(),
            account: "123456789012".into(),
            table: "dcr-ClientsTable-X".into(),
            secret_prefix: "dcr/clients/".into(),
            key_ring: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:ring-AbCdEf".into(),
        };
        assert_eq!(
            Resource::Index(UNSETTLED_INDEX).arn(&names),
            "arn:aws:dynamodb:eu-west-2:123456789012:table/dcr-ClientsTable-X/index/unsettled-index"
        );
        assert_eq!(
            Resource::Secrets.arn(&names),
            "arn:aws:secretsmanager:eu-west-2:123456789012:secret:dcr/clients/*"
        );
        assert_eq!(
            Resource::Stream.arn(&names),
            "arn:aws:dynamodb:eu-west-2:123456789012:table/dcr-ClientsTable-X/stream/*"
        );
        assert_eq!(
            Resource::DefaultBus.arn(&names),
            "arn:aws:events:eu-west-2:123456789012:event-bus/default"
        );
    }
}
