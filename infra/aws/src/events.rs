//! `client-events`: the clients table's stream (DynamoDB Streams, new and old
//! images) turned into client lifecycle events on the account's default
//! EventBridge bus, for authorization servers and anything else that keeps a
//! copy of what a client may do.
//!
//! | event (`detail-type`) | `detail.event` | from the stream |
//! |---|---|---|
//! | `Client Registered` | `registered` | a record inserted `active`, or turned `pending` → `active` |
//! | `Client Updated` | `updated` | an `active` record written again with a new `version` |
//! | `Client Deleted` | `deleted` | an `active` record turned `deleting` (a `DELETE`), or removed before its expiry |
//! | `Client Expired` | `expired` | an `active` record removed at or after its `expires_at` (the sweep, or TTL) |
//!
//! Everything else (half-written `pending` records, the removal of a
//! `deleting` one, a migration or re-seal that leaves `version` as it is,
//! one-time keys, items holding only a sealed secret) makes no event.
//!
//! Each event's `detail` is built from an allow-list: `event`, `event_id`
//! (the stream record's, for de-duplication: delivery is at least once),
//! `client_id`, `version`, `occurred_at`, and `client`, the registered
//! metadata plus `client_id_issued_at`, `client_secret_expires_at`,
//! `client_expires_at`, `has_secret`, `owner` and `software_id`. Never a
//! client secret, sealed or not, a key version, a token hash or a software
//! statement.

use anyhow::{Context as _, anyhow};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Map, Value, json};

/// The `source` of every event.
pub const EVENT_SOURCE: &str = "dcr.clients";

/// Entries per `PutEvents` call (EventBridge's limit).
const PUT_EVENTS_BATCH: usize = 10;

/// A lifecycle step of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Registered (visible from now on).
    Registered,
    /// Its registration was replaced by a `PUT`, or its token rotated.
    Updated,
    /// Deleted.
    Deleted,
    /// Its `client_lifetime` ran out.
    Expired,
}

impl Lifecycle {
    /// `detail.event`.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Registered => "registered",
            Lifecycle::Updated => "updated",
            Lifecycle::Deleted => "deleted",
            Lifecycle::Expired => "expired",
        }
    }

    /// The event's `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            Lifecycle::Registered => "Client Registered",
            Lifecycle::Updated => "Client Updated",
            Lifecycle::Deleted => "Client Deleted",
            Lifecycle::Expired => "Client Expired",
        }
    }
}

/// One event to put on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientEvent {
    /// Which step.
    pub lifecycle: Lifecycle,
    /// The event's `detail`.
    pub detail: Value,
}

/// An attribute of a stream image (DynamoDB JSON: `{"S": ...}`, `{"N": ...}`, `{"BOOL": ...}`).
fn attr<'a>(image: &'a Value, name: &str) -> Option<&'a Value> {
    image.get(name)
}

fn text<'a>(image: &'a Value, name: &str) -> Option<&'a str> {
    attr(image, name)?.get("S")?.as_str()
}

fn number(image: &Value, name: &str) -> Option<i64> {
    attr(image, name)?.get("N")?.as_str()?.parse().ok()
}

fn boolean(image: &Value, name: &str) -> Option<bool> {
    attr(image, name)?.get("BOOL")?.as_bool()
}

/// The allow-listed view of a record image.
fn client_view(image: &Value) -> anyhow::Result<Value> {
    let metadata = text(image, "metadata").unwrap_or("{}");
    let mut out: Map<String, Value> =
        serde_json::from_str(metadata).context("decoding the metadata of a stream image")?;
    let client_id = text(image, "client_id").unwrap_or_default();
    out.insert("client_id".into(), client_id.into());
    out.insert(
        "client_id_issued_at".into(),
        number(image, "issued_at").unwrap_or(0).into(),
    );
    out.insert(
        "client_secret_expires_at".into(),
        number(image, "secret_expires_at").unwrap_or(0).into(),
    );
    out.insert(
        "client_expires_at".into(),
        number(image, "expires_at").unwrap_or(0).into(),
    );
    out.insert(
        "has_secret".into(),
        boolean(image, "has_secret").unwrap_or(false).into(),
    );
    for key in ["owner", "software_id"] {
        if let Some(v) = text(image, key) {
            out.insert(key.into(), v.into());
        }
    }
    Ok(Value::Object(out))
}

/// The lifecycle event of one stream record, if it is one.
pub fn lifecycle_of(record: &Value) -> anyhow::Result<Option<ClientEvent>> {
    let name = record
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let stream = record.get("dynamodb").unwrap_or(&Value::Null);
    let new = stream.get("NewImage").unwrap_or(&Value::Null);
    let old = stream.get("OldImage").unwrap_or(&Value::Null);
    let state = |image: &Value| text(image, "state").map(str::to_owned);
    let occurred_at = stream
        .get("ApproximateCreationDateTime")
        .and_then(Value::as_f64)
        .map(|t| t as i64)
        .unwrap_or_else(|| dcr_core::Clock::now(&dcr_core::SystemClock));
    let (lifecycle, image) = match (name, state(old).as_deref(), state(new).as_deref()) {
        ("INSERT", _, Some("active")) => (Lifecycle::Registered, new),
        ("MODIFY", Some("pending"), Some("active")) => (Lifecycle::Registered, new),
        ("MODIFY", Some("active"), Some("active"))
            if number(old, "version") != number(new, "version") =>
        {
            (Lifecycle::Updated, new)
        }
        ("MODIFY", Some("active"), Some("deleting")) => (Lifecycle::Deleted, old),
        ("REMOVE", Some("active"), _) => {
            let expires_at = number(old, "expires_at").unwrap_or(0);
            if expires_at != 0 && expires_at <= occurred_at {
                (Lifecycle::Expired, old)
            } else {
                (Lifecycle::Deleted, old)
            }
        }
        _ => return Ok(None),
    };
    let client = client_view(image)?;
    let detail = json!({
        "event": lifecycle.name(),
        "event_id": record.get("eventID").and_then(Value::as_str).unwrap_or(""),
        "client_id": client["client_id"],
        "version": number(image, "version").unwrap_or(0),
        "occurred_at": occurred_at,
        "client": client,
    });
    Ok(Some(ClientEvent { lifecycle, detail }))
}

/// Every lifecycle event of a DynamoDB stream batch (Lambda's event), in order.
pub fn lifecycle_events(batch: &Value) -> anyhow::Result<Vec<ClientEvent>> {
    let mut out = Vec::new();
    for record in batch
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("a DynamoDB stream event has a Records list"))?
    {
        if let Some(event) = lifecycle_of(record)? {
            out.push(event);
        }
    }
    Ok(out)
}

/// Puts lifecycle events on the default event bus.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_eventbridge::Client,
}

impl EventPublisher {
    /// A publisher through `client`.
    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        Self { client }
    }

    /// Puts the events of `batch` on the default bus; any entry refused fails
    /// the call, so that Lambda retries the batch (consumers de-duplicate by
    /// `event_id`).
    pub async fn publish(&self, batch: &Value) -> anyhow::Result<usize> {
        let events = lifecycle_events(batch)?;
        for chunk in events.chunks(PUT_EVENTS_BATCH) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .source(EVENT_SOURCE)
                        .detail_type(e.lifecycle.detail_type())
                        .detail(e.detail.to_string())
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| anyhow!("{}", aws_sdk_eventbridge::error::DisplayErrorContext(&e)))
                .context("EventBridge PutEvents failed")?;
            if out.failed_entry_count() > 0 {
                let codes: Vec<&str> = out
                    .entries()
                    .iter()
                    .filter_map(|e| e.error_code())
                    .collect();
                return Err(anyhow!(
                    "EventBridge refused {} of {} events: {codes:?}",
                    out.failed_entry_count(),
                    chunk.len()
                ));
            }
        }
        Ok(events.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(state: &str, version: u64, expires_at: i64) -> Value {
        json!({
            "client_id": {"S": "c1"},
            "state": {"S": state},
            "version": {"N": version.to_string()},
            "expires_at": {"N": expires_at.to_string()},
            "issued_at": {"N": "100"},
            "has_secret": {"BOOL": true},
            "secret_expires_at": {"N": "0"},
            "metadata": {"S": "{\"redirect_uris\":[\"https://a.example/cb\"]}"},
            "token_hash": {"S": "HASH-OF-TOKEN"},
            "previous_token_hash": {"S": "OLD-HASH"},
            "secret_sealed": {"S": "SEALED-VALUE"},
            "secret_key_version": {"S": "KEY-VERSION"},
            "software_statement": {"S": "eyJ.STATEMENT.sig"},
            "write_id": {"S": "W"},
        })
    }

    fn record(name: &str, old: Option<Value>, new: Option<Value>) -> Value {
        let mut dynamodb = json!({"ApproximateCreationDateTime": 1000.0});
        if let Some(o) = old {
            dynamodb["OldImage"] = o;
        }
        if let Some(n) = new {
            dynamodb["NewImage"] = n;
        }
        json!({"eventID": "e1", "eventName": name, "dynamodb": dynamodb})
    }

    fn lifecycle(r: Value) -> Option<Lifecycle> {
        lifecycle_of(&r).unwrap().map(|e| e.lifecycle)
    }

    #[test]
    fn stream_records_map_to_lifecycle_steps() {
        use Lifecycle::*;
        let cases = [
            (
                record("INSERT", None, Some(image("active", 1, 0))),
                Some(Registered),
            ),
            (record("INSERT", None, Some(image("pending", 1, 0))), None),
            (
                record(
                    "MODIFY",
                    Some(image("pending", 1, 0)),
                    Some(image("active", 2, 0)),
                ),
                Some(Registered),
            ),
            (
                record(
                    "MODIFY",
                    Some(image("active", 2, 0)),
                    Some(image("active", 3, 0)),
                ),
                Some(Updated),
            ),
            (
                record(
                    "MODIFY",
                    Some(image("active", 3, 0)),
                    Some(image("active", 3, 0)),
                ),
                None,
            ),
            (
                record(
                    "MODIFY",
                    Some(image("active", 3, 0)),
                    Some(image("deleting", 4, 0)),
                ),
                Some(Deleted),
            ),
            (record("REMOVE", Some(image("deleting", 4, 0)), None), None),
            (
                record("REMOVE", Some(image("active", 4, 900)), None),
                Some(Expired),
            ),
            (
                record("REMOVE", Some(image("active", 4, 0)), None),
                Some(Deleted),
            ),
            (record("REMOVE", Some(image("pending", 1, 0)), None), None),
            (
                record("INSERT", None, Some(json!({"client_id": {"S": "once#k"}}))),
                None,
            ),
        ];
        for (r, want) in cases {
            assert_eq!(lifecycle(r.clone()), want, "{r}");
        }
    }

    #[test]
    fn events_carry_no_secret_material() {
        let event = lifecycle_of(&record("INSERT", None, Some(image("active", 1, 0))))
            .unwrap()
            .unwrap();
        let text = event.detail.to_string();
        for secret in [
            "HASH-OF-TOKEN",
            "OLD-HASH",
            "SEALED-VALUE",
            "KEY-VERSION",
            "STATEMENT",
            "\"W\"",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(
            event.detail["client"]["redirect_uris"][0],
            "https://a.example/cb"
        );
        assert_eq!(event.detail["client_id"], "c1");
        assert_eq!(event.detail["event_id"], "e1");
    }
}
