//! `dcr-migrate-secrets`: moves a deployment's client secrets from Secrets
//! Manager into the sealed mode (sealed in each client's item under the key
//! ring), or back, while the service serves. docs/operations.md has the steps.
//!
//! One run scans the table and brings each client over on its own:
//!
//! - `--to sealed`: a client whose item has no sealed secret gets its Secrets
//!   Manager secret sealed into it, with `secret_mirrored` (both hold it), by
//!   an `UpdateItem` conditional on the record's `version` being the one read
//!   and on there being still no sealed secret. A `secrets-manager` function's write (a `PutItem` of the whole
//!   record) drops the sealed copy, so a client written meanwhile is simply
//!   not done yet; the next run does it.
//! - `--to secrets-manager`: a client whose sealed secret is not yet mirrored
//!   gets it written to Secrets Manager, then `secret_mirrored` set,
//!   conditional on `version` and on the sealed value being the one copied. A
//!   `sealed` function that issues a new secret clears the flag, so that client
//!   is copied again; a `secrets-manager` function refuses a record whose sealed
//!   secret is not mirrored rather than read a stale secret.
//!   A client sealed already, under an older key than the ring's current
//!   one, is re-sealed under the current key (the same conditions): after a
//!   rotation, `--to sealed` retires the old key.
//! - `--delete-source`, once every function runs in the target mode: also
//!   deletes what the old mode kept (the client's Secrets Manager secret, or
//!   the item's sealed secret), each only after its copy is confirmed.
//!
//! Nothing is ever deleted before its copy exists, and every write is
//! conditional, so a run killed anywhere leaves every client working in the
//! mode the service runs, and the next run picks up where it stopped. A
//! conflicting write is re-read and retried ([`ATTEMPTS`] times).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use dcr_aws::SecretsManagerStore;
use dcr_aws::dynamo::{
    ONCE_PREFIX, SECRET_KEY_VERSION, SECRET_MIRRORED, SECRET_SEALED, STATE, condition_failed,
};
use dcr_aws::permissions::Storage;
use dcr_aws::sealed::{KeyRing, Sealed, sealed_of};
use dcr_core::{ClientId, SecretStore};

/// How often one client is re-read and tried again after a concurrent write.
pub const ATTEMPTS: usize = 5;

/// Items per page of the scan.
const PAGE: i32 = 100;

/// What to migrate, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The mode to move to.
    pub to: Storage,
    /// The clients table.
    pub table: String,
    /// The client secrets' name prefix in Secrets Manager.
    pub secret_prefix: String,
    /// The key ring's secret (name or ARN).
    pub key_ring: String,
    /// Also delete what the old mode kept (run once every function uses the new mode).
    pub delete_source: bool,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Client records seen.
    pub clients: usize,
    /// Secrets copied into the target mode by this run.
    pub copied: usize,
    /// Clients already in the target mode (copied by an earlier run, or with no secret).
    pub already: usize,
    /// Copies of the old mode deleted (`--delete-source`).
    pub sources_deleted: usize,
    /// Writes refused because the client changed meanwhile, then retried.
    pub conflicts: usize,
    /// Clients that could not be migrated, and why (the run goes on without them).
    pub problems: Vec<String>,
}

/// Moves client secrets between the two modes.
pub struct Migrator {
    dynamodb: aws_sdk_dynamodb::Client,
    secrets: SecretsManagerStore,
    ring: Arc<KeyRing>,
    options: Options,
}

/// One client item as scanned.
pub type Item = HashMap<String, AttributeValue>;

enum Step {
    /// Nothing to do (or done by an earlier run).
    Already,
    /// Copied now.
    Copied,
    /// The item changed under the write: read it again.
    Conflict,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

/// Sends a conditional `UpdateItem` that copies a secret: written, or
/// refused by its condition (the client changed meanwhile).
async fn copy_step(
    update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    what: &'static str,
) -> Result<Step, Problem> {
    match update.send().await {
        Ok(_) => Ok(Step::Copied),
        Err(e) if condition_failed(&e) => Ok(Step::Conflict),
        Err(e) => Err(Problem::Aws(
            anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)).context(what),
        )),
    }
}

impl Migrator {
    /// A migrator on these SDK clients.
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
        options: Options,
    ) -> Self {
        let ring = Arc::new(KeyRing::new(secretsmanager.clone(), &options.key_ring));
        let secrets = SecretsManagerStore::new(secretsmanager, &options.secret_prefix);
        Self {
            dynamodb,
            secrets,
            ring,
            options,
        }
    }

    /// A migrator with the credentials, region and endpoint of the environment
    /// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`).
    pub fn from_env(options: Options) -> anyhow::Result<Self> {
        let sdk = dcr_lambda::sdk_config_from_env()?;
        Ok(Self::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_secretsmanager::Client::new(&sdk),
            options,
        ))
    }

    /// Scans the whole table once and migrates every client.
    pub async fn run(&self) -> anyhow::Result<Report> {
        let mut report = Report::default();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.options.table)
                .consistent_read(true)
                .limit(PAGE)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
                .context("scanning the clients table")?;
            for item in page.items() {
                self.migrate(item.clone(), &mut report).await?;
            }
            match page.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        Ok(report)
    }

    /// Migrates one client from `item` as read, re-reading it after a conflict.
    /// Problems of this client alone are reported; failures of AWS end the run.
    pub async fn migrate(&self, item: Item, report: &mut Report) -> anyhow::Result<()> {
        let Some(id) = text(&item, "client_id") else {
            return Ok(());
        };
        if id.starts_with(ONCE_PREFIX) || !item.contains_key(STATE) {
            return Ok(());
        }
        report.clients += 1;
        let Ok(id) = ClientId::parse(id.as_str()) else {
            report
                .problems
                .push(format!("client {id}: its client_id cannot be a client's"));
            return Ok(());
        };
        let mut item = item;
        for _ in 0..ATTEMPTS {
            let step = match self.options.to {
                Storage::Sealed => self.to_sealed(&id, &item).await,
                Storage::SecretsManager => self.to_secrets_manager(&id, &item).await,
            };
            match step {
                Ok(Step::Already) => {
                    report.already += 1;
                }
                Ok(Step::Copied) => {
                    report.copied += 1;
                }
                Ok(Step::Conflict) => {
                    report.conflicts += 1;
                    match self.read(&id).await? {
                        Some(again) => {
                            item = again;
                            continue;
                        }
                        None => return Ok(()),
                    }
                }
                Err(Problem::Client(why)) => {
                    report.problems.push(format!("client {id}: {why}"));
                    return Ok(());
                }
                Err(Problem::Aws(e)) => return Err(e.context(format!("migrating client {id}"))),
            }
            if self.options.delete_source {
                match self.delete_source(&id, &item).await {
                    Ok(true) => report.sources_deleted += 1,
                    Ok(false) => {}
                    Err(e) => {
                        return Err(e.context(format!("deleting the old copy of client {id}")));
                    }
                }
            }
            return Ok(());
        }
        report.problems.push(format!(
            "client {id}: still changing after {ATTEMPTS} attempts; run again"
        ));
        Ok(())
    }

    async fn read(&self, id: &ClientId) -> anyhow::Result<Option<Item>> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.options.table)
            .key("client_id", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
            .context("reading a client again")?;
        Ok(out.item.filter(|i| i.contains_key(STATE)))
    }

    async fn to_sealed(&self, id: &ClientId, item: &Item) -> Result<Step, Problem> {
        let has_secret = matches!(item.get("has_secret"), Some(AttributeValue::Bool(true)));
        if !has_secret {
            return Ok(Step::Already);
        }
        if let Some(sealed) = sealed_of(id, item).map_err(|e| Problem::Client(format!("{e:#}")))? {
            return self.reseal(id, item, sealed).await;
        }
        let Some(version) = item.get("version").cloned() else {
            return Err(Problem::Client("the record has no version".into()));
        };
        let secret = self
            .secrets
            .get(id)
            .await
            .map_err(|e| Problem::Aws(anyhow::Error::new(e)))?
            .ok_or_else(|| {
                Problem::Client(
                    "it has a secret, but Secrets Manager holds none under its name".into(),
                )
            })?;
        let sealed = self.ring.seal(id, &secret).await.map_err(Problem::Aws)?;
        let update = self
            .dynamodb
            .update_item()
            .table_name(&self.options.table)
            .key("client_id", s(id.as_str()))
            .update_expression("SET #ss = :ss, #sk = :sk, #sm = :yes")
            .condition_expression("#version = :version AND attribute_not_exists(#ss)")
            .expression_attribute_names("#ss", SECRET_SEALED)
            .expression_attribute_names("#sk", SECRET_KEY_VERSION)
            .expression_attribute_names("#sm", SECRET_MIRRORED)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":ss", s(sealed.value))
            .expression_attribute_values(":sk", s(sealed.key_version))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":version", version);
        copy_step(update, "DynamoDB UpdateItem (seal) failed").await
    }

    /// Re-seals a sealed secret under the current key if an older one sealed
    /// it (a key retired after a rotation), conditional on the record and the
    /// sealed value being as read.
    async fn reseal(&self, id: &ClientId, item: &Item, old: Sealed) -> Result<Step, Problem> {
        let current = self.ring.current().await.map_err(Problem::Aws)?.0;
        if old.key_version == current {
            return Ok(Step::Already);
        }
        let Some(version) = item.get("version").cloned() else {
            return Err(Problem::Client("the record has no version".into()));
        };
        let secret = self
            .ring
            .open(id, &old)
            .await
            .map_err(|e| Problem::Client(format!("{e:#}")))?;
        let new = self.ring.seal(id, &secret).await.map_err(Problem::Aws)?;
        let update = self
            .dynamodb
            .update_item()
            .table_name(&self.options.table)
            .key("client_id", s(id.as_str()))
            .update_expression("SET #ss = :new, #sk = :sk")
            .condition_expression("#version = :version AND #ss = :old")
            .expression_attribute_names("#ss", SECRET_SEALED)
            .expression_attribute_names("#sk", SECRET_KEY_VERSION)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":new", s(new.value))
            .expression_attribute_values(":sk", s(new.key_version))
            .expression_attribute_values(":old", s(old.value))
            .expression_attribute_values(":version", version);
        copy_step(update, "DynamoDB UpdateItem (re-seal) failed").await
    }

    async fn to_secrets_manager(&self, id: &ClientId, item: &Item) -> Result<Step, Problem> {
        let sealed = sealed_of(id, item).map_err(|e| Problem::Client(format!("{e:#}")))?;
        let Some(sealed) = sealed else {
            return Ok(Step::Already);
        };
        if matches!(item.get(SECRET_MIRRORED), Some(AttributeValue::Bool(true))) {
            return Ok(Step::Already);
        }
        let Some(version) = item.get("version").cloned() else {
            return Err(Problem::Client("the record has no version".into()));
        };
        let secret = self
            .ring
            .open(id, &sealed)
            .await
            .map_err(|e| Problem::Client(format!("{e:#}")))?;
        self.secrets
            .put(id, &secret)
            .await
            .map_err(|e| Problem::Aws(anyhow::Error::new(e)))?;
        let update = self
            .dynamodb
            .update_item()
            .table_name(&self.options.table)
            .key("client_id", s(id.as_str()))
            .update_expression("SET #sm = :yes")
            .condition_expression("#version = :version AND #ss = :ss")
            .expression_attribute_names("#sm", SECRET_MIRRORED)
            .expression_attribute_names("#ss", SECRET_SEALED)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":ss", s(sealed.value))
            .expression_attribute_values(":version", version);
        copy_step(update, "DynamoDB UpdateItem (mirrored) failed").await
    }

    /// Deletes the old mode's copy of a client migrated by this or an earlier
    /// run; `false` when there was none to delete.
    async fn delete_source(&self, id: &ClientId, item: &Item) -> anyhow::Result<bool> {
        // The item as it is now: the copy must still be there.
        let Some(now) = self.read(id).await? else {
            return Ok(false);
        };
        match self.options.to {
            Storage::Sealed => {
                let has_secret = matches!(now.get("has_secret"), Some(AttributeValue::Bool(true)));
                let Some(value) = text(&now, SECRET_SEALED).filter(|_| has_secret) else {
                    return Ok(false);
                };
                // First say Secrets Manager no longer mirrors it (a crash
                // between the two steps leaves a secret the next run deletes,
                // never a flag that lies), then delete it.
                if now.contains_key(SECRET_MIRRORED) {
                    let unflagged = self
                        .dynamodb
                        .update_item()
                        .table_name(&self.options.table)
                        .key("client_id", s(id.as_str()))
                        .update_expression("REMOVE #sm")
                        .condition_expression("#ss = :ss")
                        .expression_attribute_names("#sm", SECRET_MIRRORED)
                        .expression_attribute_names("#ss", SECRET_SEALED)
                        .expression_attribute_values(":ss", s(value))
                        .send()
                        .await;
                    match unflagged {
                        Ok(_) => {}
                        // A new sealed secret meanwhile: its write removed the flag.
                        Err(e) if condition_failed(&e) => {}
                        Err(e) => {
                            return Err(anyhow!(
                                "{}",
                                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                            )
                            .context("DynamoDB UpdateItem (unmirror) failed"));
                        }
                    }
                }
                let existed = self.secrets.get(id).await?.is_some();
                self.secrets.delete(id).await?;
                Ok(existed)
            }
            Storage::SecretsManager => {
                let _ = item;
                let (Some(value), true) = (
                    text(&now, SECRET_SEALED),
                    matches!(now.get(SECRET_MIRRORED), Some(AttributeValue::Bool(true))),
                ) else {
                    return Ok(false);
                };
                let removed = self
                    .dynamodb
                    .update_item()
                    .table_name(&self.options.table)
                    .key("client_id", s(id.as_str()))
                    .update_expression("REMOVE #ss, #sk, #sm")
                    .condition_expression("#ss = :ss AND #sm = :yes")
                    .expression_attribute_names("#ss", SECRET_SEALED)
                    .expression_attribute_names("#sk", SECRET_KEY_VERSION)
                    .expression_attribute_names("#sm", SECRET_MIRRORED)
                    .expression_attribute_values(":ss", s(value))
                    .expression_attribute_values(":yes", AttributeValue::Bool(true))
                    .send()
                    .await;
                match removed {
                    Ok(_) => Ok(true),
                    // Written meanwhile: that write already dropped or replaced it.
                    Err(e) if condition_failed(&e) => Ok(false),
                    Err(e) => Err(
                        anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))
                            .context("DynamoDB UpdateItem (remove sealed secret) failed"),
                    ),
                }
            }
        }
    }
}

enum Problem {
    /// This client cannot be migrated; the others can.
    Client(String),
    /// AWS failed: the run stops (and can be run again).
    Aws(anyhow::Error),
}

/// Reads the command line: `--to sealed|secrets-manager`, `--table`,
/// `--secret-prefix`, `--key-ring`, `--delete-source`; the three names default
/// to `DCR_CLIENTS_TABLE`, `DCR_SECRET_PREFIX` and `DCR_KEY_RING_SECRET_ID`.
pub fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Options> {
    let mut to = None;
    let mut table = env("DCR_CLIENTS_TABLE");
    let mut prefix = env("DCR_SECRET_PREFIX");
    let mut ring = env("DCR_KEY_RING_SECRET_ID");
    let mut delete_source = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--to" => {
                to = Some(match value("--to")?.as_str() {
                    "sealed" => Storage::Sealed,
                    "secrets-manager" => Storage::SecretsManager,
                    other => bail!("--to: `{other}` is neither `sealed` nor `secrets-manager`"),
                })
            }
            "--table" => table = Some(value("--table")?),
            "--secret-prefix" => prefix = Some(value("--secret-prefix")?),
            "--key-ring" => ring = Some(value("--key-ring")?),
            "--delete-source" => delete_source = true,
            other => bail!("unknown argument `{other}`"),
        }
    }
    let need = |v: Option<String>, what: &str| {
        v.filter(|v| !v.trim().is_empty())
            .ok_or_else(|| anyhow!("{what} is required"))
    };
    Ok(Options {
        to: to.ok_or_else(|| anyhow!("--to sealed|secrets-manager is required"))?,
        table: need(table, "--table (or DCR_CLIENTS_TABLE)")?,
        secret_prefix: need(prefix, "--secret-prefix (or DCR_SECRET_PREFIX)")?,
        key_ring: need(ring, "--key-ring (or DCR_KEY_RING_SECRET_ID)")?,
        delete_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn arguments_and_their_environment_defaults() {
        let env = |k: &str| (k == "DCR_SECRET_PREFIX").then(|| "dcr/clients/".to_owned());
        let o = parse_args(args("--to sealed --table t --key-ring arn:r"), env).unwrap();
        assert_eq!(
            o,
            Options {
                to: Storage::Sealed,
                table: "t".into(),
                secret_prefix: "dcr/clients/".into(),
                key_ring: "arn:r".into(),
                delete_source: false,
            }
        );
        let o = parse_args(
            args("--to secrets-manager --table t --key-ring r --secret-prefix p --delete-source"),
            |_| None,
        )
        .unwrap();
        assert!(o.delete_source && o.to == Storage::SecretsManager);
        for (line, says) in [
            ("--table t --key-ring r --secret-prefix p", "--to"),
            ("--to kms --table t", "kms"),
            ("--to sealed --secret-prefix p --key-ring r", "--table"),
            ("--to sealed --table --key-ring r", "--table needs a value"),
            ("--to sealed --tabel t", "unknown argument"),
        ] {
            let e = parse_args(args(line), |_| None).unwrap_err().to_string();
            assert!(e.contains(says), "{line}: {e}");
        }
    }
}
