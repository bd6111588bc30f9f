//! `template.yaml` read by the tests (cargo feature `testing`): the clients
//! table's definition, and each function's IAM policy with its intrinsic
//! functions (`!Ref`, `!Sub`, `!GetAtt`, `!If` and the condition functions)
//! resolved for one deployment, as CloudFormation would.
//!
//! The template is the only definition of the table and of the policies: the
//! emulator's tables are created from it, and the Lambda engine of the
//! black-box suite runs each function under a role holding exactly its policy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use crate::permissions::{Function, Names};

/// The name the resolver gives the sweep's dead-letter queue.
pub const DEAD_LETTER_QUEUE: &str = "dcr-SweepDeadLetterQueue";

/// Path of `template.yaml` at the workspace root.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// The template, parsed (CloudFormation tags kept as YAML tags).
#[derive(Debug, Clone)]
pub struct Template {
    doc: Yaml,
}

/// A key of a table or an index.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    /// The attribute.
    pub attribute_name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// An attribute the table's keys use.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    /// The attribute.
    pub attribute_name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

/// What an index copies.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    /// `KEYS_ONLY`, `INCLUDE` or `ALL`.
    pub projection_type: String,
}

/// A global secondary index.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndex {
    /// Its name.
    pub index_name: String,
    /// Its keys.
    pub key_schema: Vec<KeyElement>,
    /// What it copies.
    pub projection: Projection,
}

/// The TTL setting.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLive {
    /// The TTL attribute.
    pub attribute_name: String,
}

/// The table's stream.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    /// `NEW_AND_OLD_IMAGES`, ...
    pub stream_view_type: String,
}

/// The clients table as the template defines it (the parts an emulator needs).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TableSchema {
    /// Key attributes.
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// The table's key.
    pub key_schema: Vec<KeyElement>,
    /// Its indexes.
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    /// Its TTL attribute.
    pub time_to_live_specification: TimeToLive,
    /// Its stream, if any.
    #[serde(default)]
    pub stream_specification: Option<StreamSpecification>,
}

/// One deployment's values: names, and the template parameters that differ from their defaults.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Partition, region, account, table name and secret prefix.
    pub names: Names,
    /// Parameter values (`SecretPrefix` is taken from `names`).
    pub parameters: BTreeMap<String, String>,
}

impl Deployment {
    /// A deployment with these names and every other parameter at its default.
    pub fn new(names: Names) -> Self {
        Self {
            names,
            parameters: BTreeMap::new(),
        }
    }

    /// The same deployment with one parameter set.
    pub fn with(mut self, parameter: &str, value: &str) -> Self {
        self.parameters
            .insert(parameter.to_owned(), value.to_owned());
        self
    }
}

impl Template {
    /// Reads `template.yaml`.
    pub fn load() -> anyhow::Result<Self> {
        let path = path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
    }

    /// Parses a template's text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let doc: Yaml = serde_yaml_ng::from_str(text).context("parsing the template")?;
        Ok(Self { doc })
    }

    fn resource(&self, logical_id: &str) -> anyhow::Result<&Yaml> {
        self.doc
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .ok_or_else(|| anyhow!("template has no resource {logical_id}"))
    }

    /// The clients table's schema.
    pub fn clients_table(&self) -> anyhow::Result<TableSchema> {
        let props = self
            .resource("ClientsTable")?
            .get("Properties")
            .ok_or_else(|| anyhow!("ClientsTable has no Properties"))?;
        serde_yaml_ng::from_value(props.clone()).context("reading ClientsTable's schema")
    }

    /// The IAM policy documents of `function` in `deployment` (what SAM puts in
    /// its role as inline policies), intrinsic functions resolved.
    pub fn policies(
        &self,
        function: Function,
        deployment: &Deployment,
    ) -> anyhow::Result<Vec<Json>> {
        let props = self
            .resource(function.logical_id())?
            .get("Properties")
            .ok_or_else(|| anyhow!("{} has no Properties", function.logical_id()))?;
        let Some(policies) = props.get("Policies") else {
            return Ok(Vec::new());
        };
        let resolver = Resolver {
            template: self,
            deployment,
        };
        match resolver.resolve(policies)? {
            Some(Json::Array(docs)) => Ok(docs),
            Some(other) => bail!("{}: Policies is not a list: {other}", function.logical_id()),
            None => Ok(Vec::new()),
        }
    }

    /// The value of a condition of the template in `deployment`.
    pub fn condition(&self, name: &str, deployment: &Deployment) -> anyhow::Result<bool> {
        Resolver {
            template: self,
            deployment,
        }
        .condition(name)
    }
}

struct Resolver<'a> {
    template: &'a Template,
    deployment: &'a Deployment,
}

impl Resolver<'_> {
    /// `None` is `AWS::NoValue`: the enclosing list item or map entry disappears.
    fn resolve(&self, value: &Yaml) -> anyhow::Result<Option<Json>> {
        Ok(Some(match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n)?,
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.resolve(item)? {
                        out.push(v);
                    }
                }
                Json::Array(out)
            }
            Yaml::Mapping(map) => {
                if map.len() == 1
                    && let Some((Yaml::String(key), arg)) = map.iter().next()
                    && (key == "Ref" || key.starts_with("Fn::"))
                {
                    return self.function(key.trim_start_matches("Fn::"), arg);
                }
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let key = k
                        .as_str()
                        .ok_or_else(|| anyhow!("a non-string key: {k:?}"))?;
                    if let Some(v) = self.resolve(v)? {
                        out.insert(key.to_owned(), v);
                    }
                }
                Json::Object(out)
            }
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                return self.function(tag.trim_start_matches('!'), &tagged.value);
            }
        }))
    }

    fn string(&self, value: &Yaml) -> anyhow::Result<String> {
        match self.resolve(value)? {
            Some(Json::String(s)) => Ok(s),
            Some(Json::Number(n)) => Ok(n.to_string()),
            other => bail!("expected a string, got {other:?}"),
        }
    }

    fn function(&self, name: &str, arg: &Yaml) -> anyhow::Result<Option<Json>> {
        let args = |n: usize| -> anyhow::Result<&[Yaml]> {
            match arg {
                Yaml::Sequence(items) if items.len() == n => Ok(items.as_slice()),
                _ => bail!("{name} takes {n} arguments: {arg:?}"),
            }
        };
        match name {
            "Ref" => {
                let name = arg.as_str().ok_or_else(|| anyhow!("Ref of a non-string"))?;
                Ok(self.reference(name)?.map(Json::String))
            }
            "GetAtt" => {
                let target = match arg {
                    Yaml::String(s) => s.clone(),
                    Yaml::Sequence(parts) => parts
                        .iter()
                        .filter_map(Yaml::as_str)
                        .collect::<Vec<_>>()
                        .join("."),
                    _ => bail!("GetAtt of {arg:?}"),
                };
                Ok(Some(Json::String(self.attribute(&target)?)))
            }
            "Sub" => {
                let text = match arg {
                    Yaml::Sequence(parts) if !parts.is_empty() => {
                        if parts.len() > 1 {
                            bail!("Sub with a variable map is not supported here");
                        }
                        self.string(&parts[0])?
                    }
                    other => self.string(other)?,
                };
                Ok(Some(Json::String(self.substitute(&text)?)))
            }
            "If" => {
                let [cond, then, otherwise] = args(3)? else {
                    unreachable!("args(3) returns three")
                };
                let cond = cond
                    .as_str()
                    .ok_or_else(|| anyhow!("If on a non-string condition"))?;
                if self.condition(cond)? {
                    self.resolve(then)
                } else {
                    self.resolve(otherwise)
                }
            }
            "Join" => {
                let [sep, list] = args(2)? else {
                    unreachable!("args(2) returns two")
                };
                let sep = self.string(sep)?;
                let Some(Json::Array(items)) = self.resolve(list)? else {
                    bail!("Join of a non-list");
                };
                let parts: Vec<String> = items
                    .into_iter()
                    .map(|v| match v {
                        Json::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect();
                Ok(Some(Json::String(parts.join(&sep))))
            }
            "Equals" | "Not" | "And" | "Or" | "Condition" => {
                Ok(Some(Json::Bool(self.boolean(name, arg)?)))
            }
            other => bail!("intrinsic function {other} is not supported here"),
        }
    }

    fn boolean(&self, name: &str, arg: &Yaml) -> anyhow::Result<bool> {
        let list = || match arg {
            Yaml::Sequence(items) => Ok(items.as_slice()),
            _ => Err(anyhow!("{name} takes a list")),
        };
        let truth = |v: &Yaml| -> anyhow::Result<bool> {
            match self.resolve(v)? {
                Some(Json::Bool(b)) => Ok(b),
                other => bail!("{name}: not a condition: {other:?}"),
            }
        };
        match name {
            "Equals" => {
                let items = list()?;
                if items.len() != 2 {
                    bail!("Equals takes two values");
                }
                let text = |v: &Yaml| -> anyhow::Result<String> {
                    Ok(match self.resolve(v)? {
                        Some(Json::String(s)) => s,
                        Some(other) => other.to_string(),
                        None => String::new(),
                    })
                };
                Ok(text(&items[0])? == text(&items[1])?)
            }
            "Not" => Ok(!truth(
                list()?.first().ok_or_else(|| anyhow!("Not of nothing"))?,
            )?),
            "And" => list()?.iter().try_fold(true, |acc, v| Ok(acc && truth(v)?)),
            "Or" => list()?
                .iter()
                .try_fold(false, |acc, v| Ok(acc || truth(v)?)),
            _ => self.condition(
                arg.as_str()
                    .ok_or_else(|| anyhow!("Condition of a non-string"))?,
            ),
        }
    }

    fn condition(&self, name: &str) -> anyhow::Result<bool> {
        let body = self
            .template
            .doc
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| anyhow!("template has no condition {name}"))?;
        match self.resolve(body)? {
            Some(Json::Bool(b)) => Ok(b),
            other => bail!("condition {name} is not a boolean: {other:?}"),
        }
    }

    /// A `Ref`: a parameter, a pseudo parameter or a resource (`None` for `AWS::NoValue`).
    fn reference(&self, name: &str) -> anyhow::Result<Option<String>> {
        let names = &self.deployment.names;
        Ok(Some(match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::Partition" => names.partition.clone(),
            "AWS::Region" => names.region.clone(),
            "AWS::AccountId" => names.account.clone(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            "AWS::StackName" => "dcr".to_owned(),
            "ClientsTable" => names.table.clone(),
            "SecretPrefix" => names.secret_prefix.clone(),
            "KeyRingSecret" => names.key_ring.clone(),
            _ => {
                if let Some(value) = self.deployment.parameters.get(name) {
                    value.clone()
                } else if let Some(param) = self
                    .template
                    .doc
                    .get("Parameters")
                    .and_then(|p| p.get(name))
                {
                    match param.get("Default") {
                        Some(Yaml::String(s)) => s.clone(),
                        Some(Yaml::Number(n)) => n.to_string(),
                        other => bail!("parameter {name} has no usable default: {other:?}"),
                    }
                } else {
                    bail!("Ref {name}: not a parameter or a resource this resolver knows")
                }
            }
        }))
    }

    fn attribute(&self, target: &str) -> anyhow::Result<String> {
        match target {
            "ClientsTable.Arn" => {
                Ok(crate::permissions::Resource::Table.arn(&self.deployment.names))
            }
            "ClientsTable.StreamArn" => Ok(format!(
                "{}/stream/2026-01-01T00:00:00.000",
                crate::permissions::Resource::Table.arn(&self.deployment.names)
            )),
            "SweepDeadLetterQueue.Arn" => {
                let Names {
                    partition,
                    region,
                    account,
                    ..
                } = &self.deployment.names;
                Ok(format!(
                    "arn:{partition}:sqs:{region}:{account}:{DEAD_LETTER_QUEUE}"
                ))
            }
            other => bail!("GetAtt {other} is not known to this resolver"),
        }
    }

    fn substitute(&self, text: &str) -> anyhow::Result<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| anyhow!("unclosed ${{ in {text}"))?;
            let var = &after[..end];
            let value = if var.contains('.') && !var.starts_with("AWS::") {
                self.attribute(var)?
            } else {
                self.reference(var)?
                    .ok_or_else(|| anyhow!("${{{var}}} has no value"))?
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}
