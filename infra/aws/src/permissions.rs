//! What each function does on AWS: the one table its IAM policy in
//! `template.yaml` is checked against (nothing missing, nothing unused).
//!
//! Two facts make the table, each kept next to what it describes:
//! - [`Function::store_calls`]: the store port methods the use cases behind a
//!   function call (shared/core/src/service);
//! - [`StoreCall::grants`]: the AWS actions, and on which resource, the adapters
//!   of this crate make for each port method ([`crate::dynamo`], [`crate::secrets`]).
//!
//! [`Function::grants`] joins them. The black-box suite runs every function on
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
}

/// A method of a store port (`ClientStore`, `SecretStore`), as the use cases call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreCall {
    /// `ClientStore::insert`.
    Insert,
    /// `ClientStore::get`.
    Get,
    /// `ClientStore::replace`.
    Replace,
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
        } = names;
        match self {
            Resource::Table => format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}"),
            Resource::Index(index) => {
                format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}/index/{index}")
            }
            Resource::Secrets => {
                format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{secret_prefix}*")
            }
        }
    }
}

impl StoreCall {
    /// Every store call.
    pub const ALL: [StoreCall; 10] = [
        StoreCall::Insert,
        StoreCall::Get,
        StoreCall::Replace,
        StoreCall::Delete,
        StoreCall::FindBySoftwareId,
        StoreCall::ListDue,
        StoreCall::RememberOnce,
        StoreCall::SecretPut,
        StoreCall::SecretGet,
        StoreCall::SecretDelete,
    ];

    /// The port method's name, `store.method` (metric dimension and log field).
    pub fn name(self) -> &'static str {
        match self {
            StoreCall::Insert => "clients.insert",
            StoreCall::Get => "clients.get",
            StoreCall::Replace => "clients.replace",
            StoreCall::Delete => "clients.delete",
            StoreCall::FindBySoftwareId => "clients.find_by_software_id",
            StoreCall::ListDue => "clients.list_due",
            StoreCall::RememberOnce => "clients.remember_once",
            StoreCall::SecretPut => "secrets.put",
            StoreCall::SecretGet => "secrets.get",
            StoreCall::SecretDelete => "secrets.delete",
        }
    }

    /// The AWS actions the adapter makes for this call.
    pub fn grants(self) -> &'static [Grant] {
        use Resource::{Index, Secrets, Table};
        match self {
            // Conditional PutItem; its failure returns the old item (no extra read).
            StoreCall::Insert | StoreCall::Replace | StoreCall::RememberOnce => &[Grant {
                action: "dynamodb:PutItem",
                resource: Table,
            }],
            StoreCall::Get => &[Grant {
                action: "dynamodb:GetItem",
                resource: Table,
            }],
            StoreCall::Delete => &[Grant {
                action: "dynamodb:DeleteItem",
                resource: Table,
            }],
            StoreCall::FindBySoftwareId => &[Grant {
                action: "dynamodb:Query",
                resource: Index(SOFTWARE_ID_INDEX),
            }],
            StoreCall::ListDue => &[Grant {
                action: "dynamodb:Query",
                resource: Index(UNSETTLED_INDEX),
            }],
            // CreateSecret with tags (TagResource); over an existing secret,
            // DescribeSecret, RestoreSecret if it is scheduled for deletion, PutSecretValue.
            StoreCall::SecretPut => &[
                Grant {
                    action: "secretsmanager:CreateSecret",
                    resource: Secrets,
                },
                Grant {
                    action: "secretsmanager:TagResource",
                    resource: Secrets,
                },
                Grant {
                    action: "secretsmanager:DescribeSecret",
                    resource: Secrets,
                },
                Grant {
                    action: "secretsmanager:RestoreSecret",
                    resource: Secrets,
                },
                Grant {
                    action: "secretsmanager:PutSecretValue",
                    resource: Secrets,
                },
            ],
            StoreCall::SecretGet => &[Grant {
                action: "secretsmanager:GetSecretValue",
                resource: Secrets,
            }],
            StoreCall::SecretDelete => &[Grant {
                action: "secretsmanager:DeleteSecret",
                resource: Secrets,
            }],
        }
    }
}

impl Function {
    /// Every function of the template.
    pub const ALL: [Function; 6] = [
        Function::Register,
        Function::Get,
        Function::Update,
        Function::Delete,
        Function::Metadata,
        Function::Sweep,
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
        }
    }

    /// The store calls of the use cases behind the function, every branch included.
    pub fn store_calls(self) -> &'static [StoreCall] {
        use StoreCall::*;
        match self {
            // register.rs: the pending insert, then secret and activation; a
            // client-chosen id that exists is read, its secret compared and the
            // retry answered with a renewed token (replace); AU-CDR's one client
            // per software_id (find + get); replay markers of signed requests.
            Function::Register => &[
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
            // update.rs: read, replay markers of a signed body, a new secret,
            // replace, the secret of a client turned public deleted.
            Function::Update => &[
                Get,
                RememberOnce,
                SecretGet,
                SecretPut,
                Replace,
                SecretDelete,
            ],
            // update.rs `delete`: mark Deleting, delete secret, then record.
            Function::Delete => &[Get, Replace, SecretDelete, Delete],
            Function::Metadata => &[],
            // sweep.rs: the due records come whole from the index (projection ALL).
            Function::Sweep => &[ListDue, SecretDelete, Delete],
        }
    }

    /// Every AWS action the function makes through the stores, on its resource.
    pub fn grants(self) -> BTreeSet<Grant> {
        self.store_calls()
            .iter()
            .flat_map(|call| call.grants().iter().copied())
            .collect()
    }

    /// Whether the function reads or writes secret values (and so needs a
    /// customer managed key of the secrets, when one is set).
    pub fn uses_secret_values(self) -> bool {
        self.store_calls()
            .iter()
            .any(|c| matches!(c, StoreCall::SecretPut | StoreCall::SecretGet))
    }

    /// Whether the function reads the clients table (and so needs its
    /// customer managed key, when one is set).
    pub fn uses_table(self) -> bool {
        self.grants()
            .iter()
            .any(|g| matches!(g.resource, Resource::Table | Resource::Index(_)))
    }

    /// Whether the function writes the clients table.
    pub fn writes_table(self) -> bool {
        self.grants()
            .iter()
            .any(|g| matches!(g.action, "dynamodb:PutItem" | "dynamodb:DeleteItem"))
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

    /// The SDK operations the adapters call (`.client.operation()`), found in
    /// their source outside tests, as IAM actions.
    fn sdk_calls() -> BTreeSet<String> {
        let sources = [
            ("dynamodb", include_str!("dynamo.rs")),
            ("secretsmanager", include_str!("secrets.rs")),
        ];
        let mut found = BTreeSet::new();
        for (service, source) in sources {
            let code = source.split("#[cfg(").next().unwrap_or(source);
            for (at, _) in code.match_indices(".client") {
                let rest = code[at + ".client".len()..].trim_start();
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
                let action: String = op
                    .split('_')
                    .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
                    .collect();
                found.insert(format!("{service}:{action}"));
            }
            // CreateSecret with tags is also TagResource.
            if code.contains(".tags(") {
                found.insert(format!("{service}:TagResource"));
            }
        }
        found
    }

    #[test]
    fn the_store_calls_cover_exactly_the_sdk_calls_of_the_adapters() {
        let granted: BTreeSet<String> = StoreCall::ALL
            .iter()
            .flat_map(|c| c.grants().iter().map(|g| g.action.to_owned()))
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
    fn resources_render_as_the_template_names_them() {
        let names = Names {
            partition: "aws".into(),
            region: "eu-west-2".into(),
            account: "123456789012".into(),
            table: "dcr-ClientsTable-X".into(),
            secret_prefix: "dcr/clients/".into(),
        };
        assert_eq!(
            Resource::Index(UNSETTLED_INDEX).arn(&names),
            "arn:aws:dynamodb:eu-west-2:123456789012:table/dcr-ClientsTable-X/index/unsettled-index"
        );
        assert_eq!(
            Resource::Secrets.arn(&names),
            "arn:aws:secretsmanager:eu-west-2:123456789012:secret:dcr/clients/*"
        );
    }
}
