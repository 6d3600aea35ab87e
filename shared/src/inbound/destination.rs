//! Sync-job destinations (DESIGN §8): where the worker routes each applied record.
//!
//! - `records` (default): the built-in store and its records route;
//! - `dynamodb`: an item per record in a table of the account whose name starts with
//!   `DESTINATION_TABLE_PREFIX`, keyed `"<objectType>#<objectId>"` in `keyAttribute`;
//! - `webhook`: each applied change POSTed, signed with the destination's own `whsec_` secret,
//!   through the delivery queue and logged like subscription deliveries.
//!
//! Ordering and tombstones (§4) hold for every destination because the built-in record store is
//! always the ordering ledger: a dynamodb write happens in ONE transaction with the ledger's
//! conditional write (an older event, or an upsert after a newer delete, changes nothing); a
//! webhook delivery is handed off only for an event that won the ledger. For the non-records
//! destinations the ledger keeps only `_sync_metadata` (the fields live at the destination).

pub mod deliver;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::domain::{ApplyOutcome, InboundEvent, Record, SyncJob};
use crate::queue::QueueMessage;
use crate::signing::WebhookSecret;
use crate::subscriptions::{Delivery, DeliveryStatus};
use crate::{App, AppError, AppResult};

/// `keyAttribute` when none is given.
pub const DEFAULT_KEY_ATTRIBUTE: &str = "id";
/// Most custom headers a webhook destination may carry (as subscriptions, DESIGN §8).
const MAX_URL_CHARS: usize = 2048;
/// Retries after the first call of a destination delivery: at most 1 + this many calls.
pub const RETRY_ATTEMPTS: u32 = 5;
/// Seconds before the first retry; doubles per retry (±20 %), as subscriptions (DESIGN §6).
pub const RETRY_DELAY_SECS: u32 = 30;
/// Per-call timeout of a destination delivery.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Event names of destination deliveries (the body's `type`).
pub const RECORD_UPSERTED: &str = "record.upserted";
pub const RECORD_DELETED: &str = "record.deleted";

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Destination {
    /// The built-in record store (`…/records/{objectType}/{objectId}`).
    #[default]
    Records,
    #[serde(rename_all = "camelCase")]
    Dynamodb {
        table_name: String,
        key_attribute: String,
    },
    #[serde(rename_all = "camelCase")]
    Webhook {
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        secret: WebhookSecret,
    },
}

impl fmt::Debug for Destination {
    /// Header values and the secret may be credentials: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Destination {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Records => "records",
            Self::Dynamodb { .. } => "dynamodb",
            Self::Webhook { .. } => "webhook",
        }
    }

    /// What the API shows: header values masked, the secret never (only on create).
    pub fn view(&self) -> Value {
        match self {
            Self::Records => json!({ "type": "records" }),
            Self::Dynamodb {
                table_name,
                key_attribute,
            } => json!({
                "type": "dynamodb",
                "tableName": table_name,
                "keyAttribute": key_attribute,
            }),
            Self::Webhook { url, headers, .. } => {
                let masked: Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(crate::outbound::headers::mask(v))))
                    .collect();
                json!({ "type": "webhook", "url": url, "headers": masked, "hasSecret": true })
            }
        }
    }
}

// --- input ---------------------------------------------------------------------------------------

/// A destination from a create or PATCH body's `destination` (`current`: the job's, on PATCH:
/// fields a PATCH leaves out keep their value while the type stays). Returns the destination
/// and, when a webhook destination is new, its generated secret (shown once).
pub fn parse(
    app: &App,
    input: &Value,
    current: Option<&Destination>,
) -> AppResult<(Destination, Option<WebhookSecret>)> {
    let Some(obj) = input.as_object() else {
        return Err(AppError::validation(
            "destination must be an object, e.g. {\"type\":\"records\"}",
        ));
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "records" => Ok((Destination::Records, None)),
        "dynamodb" => {
            let (cur_table, cur_key) = match current {
                Some(Destination::Dynamodb {
                    table_name,
                    key_attribute,
                }) => (Some(table_name.as_str()), Some(key_attribute.as_str())),
                _ => (None, None),
            };
            let prefix = app.config.destination_table_prefix.as_str();
            let table_name = match (obj.get("tableName"), cur_table) {
                (Some(v), _) => table_name(v, prefix)?,
                (None, Some(t)) => t.to_owned(),
                (None, None) => {
                    return Err(AppError::validation(format!(
                        "destination.tableName is required: a DynamoDB table of this account whose name starts with \"{prefix}\""
                    )))
                }
            };
            let key_attribute = match (obj.get("keyAttribute"), cur_key) {
                (Some(Value::Null), _) | (None, None) => DEFAULT_KEY_ATTRIBUTE.to_owned(),
                (Some(v), _) => key_attribute(v)?,
                (None, Some(k)) => k.to_owned(),
            };
            Ok((
                Destination::Dynamodb {
                    table_name,
                    key_attribute,
                },
                None,
            ))
        }
        "webhook" => {
            let current = match current {
                Some(Destination::Webhook {
                    url,
                    headers,
                    secret,
                }) => Some((url, headers, secret)),
                _ => None,
            };
            let url = match (obj.get("url"), current) {
                (Some(v), _) => target_url(app, v)?,
                (None, Some((u, _, _))) => u.clone(),
                (None, None) => {
                    return Err(AppError::validation(
                        "destination.url is required for a webhook destination",
                    ))
                }
            };
            let headers = match (obj.get("headers"), current) {
                (Some(Value::Null), _) | (None, None) => BTreeMap::new(),
                (Some(v), _) => custom_headers(v)?,
                (None, Some((_, h, _))) => h.clone(),
            };
            let (secret, generated) = match current {
                Some((_, _, s)) => (s.clone(), None),
                None => {
                    let s = WebhookSecret::generate();
                    (s.clone(), Some(s))
                }
            };
            Ok((
                Destination::Webhook {
                    url,
                    headers,
                    secret,
                },
                generated,
            ))
        }
        _ => Err(AppError::validation(
            "destination.type must be one of records, dynamodb, webhook",
        )),
    }
}

fn table_name(v: &Value, prefix: &str) -> AppResult<String> {
    let name = v.as_str().map(str::trim).unwrap_or_default();
    let valid = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        return Err(AppError::validation(
            "destination.tableName must be a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ - .)",
        ));
    }
    if !name.starts_with(prefix) || name.len() == prefix.len() {
        return Err(AppError::validation(format!(
            "destination.tableName must start with \"{prefix}\" (the stack may write only to tables with that prefix)"
        )));
    }
    Ok(name.to_owned())
}

fn key_attribute(v: &Value) -> AppResult<String> {
    let name = v.as_str().map(str::trim).unwrap_or_default();
    let valid = (1..=255).contains(&name.len())
        && name != "_sync_metadata"
        && name.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(AppError::validation(
            "destination.keyAttribute must be 1 to 255 visible ASCII characters (not _sync_metadata)",
        ));
    }
    Ok(name.to_owned())
}

fn target_url(app: &App, v: &Value) -> AppResult<String> {
    let url = v.as_str().map(str::trim).unwrap_or_default();
    if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::validation(format!(
            "destination.url must be an https URL of at most {MAX_URL_CHARS} characters"
        )));
    }
    crate::outbound::validate_target_url(url, app.config.allow_private_targets)
        .map_err(|e| AppError::validation(format!("destination.url: {e}")))?;
    Ok(url.to_owned())
}

/// `headers`: the custom-header rules of subscriptions (`crate::outbound::headers`).
fn custom_headers(v: &Value) -> AppResult<BTreeMap<String, String>> {
    let Some(obj) = v.as_object() else {
        return Err(AppError::validation(
            "destination.headers must be an object of header names to string values",
        ));
    };
    crate::outbound::headers::validate_field("destination.headers", obj)
}

// --- the table item ------------------------------------------------------------------------------

/// A job's DynamoDB destination table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTarget {
    pub table_name: String,
    pub key_attribute: String,
}

/// What a table write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableWrite {
    /// The ledger and the item (or its deletion) were written together.
    Applied,
    /// An equal or newer state (or a tombstone) is in the ledger: nothing was written.
    Unchanged,
    /// The table refused the write (missing, access denied, another key schema, too large):
    /// nothing was written; the reason is for the event's error.
    Refused(String),
}

/// The `_sync_metadata` of a record as destinations carry it (the records route's shape).
pub fn metadata_value(record: &Record) -> Value {
    let mut meta = serde_json::to_value(&record.meta).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut meta {
        m.insert("object_type".into(), json!(record.object_type));
        m.insert("object_id".into(), json!(record.object_id));
    }
    meta
}

/// The attributes of a record's destination item, without its key (the adapter adds the key
/// attribute, whose format is in `shared-aws` keys.rs): the object's fields and
/// `_sync_metadata`. A non-object record is kept under `value`.
pub fn table_item(record: &Record) -> Map<String, Value> {
    let mut item = match &record.data {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => Map::from_iter([("value".to_owned(), other.clone())]),
        None => Map::new(),
    };
    item.insert("_sync_metadata".into(), metadata_value(record));
    item
}

/// The ordering ledger's copy of a record: its metadata only.
fn ledger(record: &Record) -> Record {
    Record {
        data: None,
        ..record.clone()
    }
}

// --- routing an applied record -------------------------------------------------------------------

/// Writes `record` (mapped from `ev`) to the job's destination. `Ok(Err(why))`: the destination
/// refused it for good (the event is failed with `why`); `Err`: transient, retried.
pub async fn apply(
    app: &App,
    ev: &InboundEvent,
    record: &Record,
) -> AppResult<Result<ApplyOutcome, String>> {
    let (ws, job_id) = (ev.workspace_id.as_str(), ev.job_id.as_str());
    let job = app.sync_jobs.get_sync_job(ws, job_id).await?;
    let destination = job.as_ref().map(|j| &j.destination);
    match destination {
        None | Some(Destination::Records) => {
            Ok(Ok(app.records.apply_record(ws, job_id, record).await?))
        }
        Some(Destination::Dynamodb {
            table_name,
            key_attribute,
        }) => {
            let target = TableTarget {
                table_name: table_name.clone(),
                key_attribute: key_attribute.clone(),
            };
            Ok(
                match app
                    .destination_tables
                    .apply_to_table(ws, job_id, &target, record)
                    .await?
                {
                    TableWrite::Applied => Ok(ApplyOutcome::Applied),
                    TableWrite::Unchanged => Ok(ApplyOutcome::Unchanged),
                    TableWrite::Refused(why) => {
                        tracing::warn!(job_id, table = %table_name, error = %why, "destination table refused the record");
                        Err(why)
                    }
                },
            )
        }
        Some(Destination::Webhook { .. }) => hand_off(app, ev, record).await.map(Ok),
    }
}

/// The webhook destination: the record goes through the ledger; an event that won it (now,
/// or on an earlier attempt that did not finish) gets its delivery created and queued. A
/// finished event processed again (replay, retry) re-sends its delivery.
async fn hand_off(app: &App, ev: &InboundEvent, record: &Record) -> AppResult<ApplyOutcome> {
    let (ws, job_id) = (ev.workspace_id.as_str(), ev.job_id.as_str());
    let applied = app
        .records
        .apply_record(ws, job_id, &ledger(record))
        .await?;
    let ours = match applied {
        ApplyOutcome::Applied => true,
        ApplyOutcome::Unchanged => app
            .records
            .get_record(ws, job_id, &record.object_type, &record.object_id)
            .await?
            .is_some_and(|stored| {
                stored.meta.inbound_event_id == ev.id && stored.meta.deleted == record.meta.deleted
            }),
    };
    if !ours {
        // An older event lost the ordering check: no delivery.
        return Ok(ApplyOutcome::Unchanged);
    }
    let now = crate::time::now();
    let delivery = new_delivery(app, ev, record, now)?;
    if !app.deliveries.create_delivery(&delivery).await? {
        let finished_before = ev.outcome.is_some();
        match app.deliveries.get_delivery(ws, &delivery.id).await? {
            Some(d) if d.status == DeliveryStatus::Pending => {}
            Some(_) if finished_before => {
                app.deliveries
                    .requeue_delivery(
                        ws,
                        job_id,
                        &delivery.id,
                        &crate::time::format(now),
                        delivery.expires_at,
                    )
                    .await?;
            }
            // Sent already by an earlier copy of this message.
            Some(_) => return Ok(ApplyOutcome::Applied),
            // Expired in between: a new one.
            None => {
                app.deliveries.create_delivery(&delivery).await?;
            }
        }
    }
    enqueue(app, ws, job_id, &delivery.id, Duration::ZERO).await?;
    Ok(ApplyOutcome::Applied)
}

pub(crate) async fn enqueue(
    app: &App,
    ws: &str,
    job_id: &str,
    delivery_id: &str,
    delay: Duration,
) -> AppResult<()> {
    crate::queue::schedule(
        app,
        QueueMessage::DestinationDelivery {
            workspace_id: ws.to_owned(),
            job_id: job_id.to_owned(),
            delivery_id: delivery_id.to_owned(),
        },
        delay,
    )
    .await
}

/// The body a webhook destination receives for `record` of `job_id`.
pub fn payload(job_id: &str, record: &Record) -> Value {
    let kind = if record.meta.deleted {
        RECORD_DELETED
    } else {
        RECORD_UPSERTED
    };
    let data = if record.meta.deleted {
        Value::Null
    } else {
        record.data.clone().unwrap_or(Value::Null)
    };
    json!({
        "type": kind,
        "syncJobId": job_id,
        "objectType": record.object_type,
        "objectId": record.object_id,
        "record": data,
        "_sync_metadata": metadata_value(record),
    })
}

/// The pending delivery of `ev`'s record: its id is derived from (event, job), so a repeated
/// hand-off finds the same delivery instead of sending twice.
fn new_delivery(
    app: &App,
    ev: &InboundEvent,
    record: &Record,
    now: crate::time::Timestamp,
) -> AppResult<Delivery> {
    let body = serde_json::to_string(&payload(&ev.job_id, record))?;
    Ok(Delivery::pending_as(
        delivery_id(&ev.id, &ev.job_id),
        &ev.workspace_id,
        &ev.job_id,
        &ev.id,
        payload_kind(record),
        body,
        now,
        app.config.delivery_log_ttl_days,
    ))
}

fn payload_kind(record: &Record) -> &'static str {
    if record.meta.deleted {
        RECORD_DELETED
    } else {
        RECORD_UPSERTED
    }
}

/// A `dlv_` ULID whose time is the inbound event's (ids sort by arrival) and whose random part
/// hashes (event, job).
pub fn delivery_id(inbound_event_id: &str, job_id: &str) -> String {
    let ms = inbound_event_id
        .strip_prefix(crate::ids::INBOUND_EVENT)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|body| ulid::Ulid::from_string(&body.to_ascii_uppercase()).ok())
        .map(|u| u.timestamp_ms())
        .unwrap_or(0);
    let digest = Sha256::digest(format!("{inbound_event_id}\n{job_id}").as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    let random = u128::from_be_bytes(first) >> 48;
    format!(
        "{}_{}",
        crate::ids::DELIVERY,
        ulid::Ulid::from_parts(ms, random)
            .to_string()
            .to_ascii_lowercase()
    )
}

/// Whether a delivery belongs to a sync job's destination (its owner is a `job_` id).
pub fn is_destination_delivery(d: &Delivery) -> bool {
    d.subscription_id
        .starts_with(&format!("{}_", crate::ids::SYNC_JOB))
}

/// The job a delivery log entry is shown under.
pub fn delivery_view(d: &Delivery) -> Value {
    let mut v = d.view();
    if let Value::Object(m) = &mut v {
        m.remove("webhookId");
        m.insert("syncJobId".into(), json!(d.subscription_id));
    }
    v
}

/// For the API: the job's destination as shown, `secret` added when just generated.
pub fn view_with_secret(job: &SyncJob, generated: Option<&WebhookSecret>) -> Value {
    let mut v = job.destination.view();
    if let Some(s) = generated {
        v["secret"] = json!(s.expose());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::domain::{Source, SyncMetadata};

    fn record(deleted: bool) -> Record {
        Record {
            object_type: "customer".into(),
            object_id: "cus_1".into(),
            data: Some(json!({"id": "cus_1", "email": "a@example.com"})),
            meta: SyncMetadata {
                source: Source::Stripe,
                event_id: "evt_1".into(),
                inbound_event_id: "iev_01hx".into(),
                event_type: "customer.updated".into(),
                event_created: "2024-01-01T00:00:00.000000Z".into(),
                synced_at: "2024-01-01T00:00:01.000000Z".into(),
                deleted,
            },
        }
    }

    #[test]
    fn payload_has_the_contract_shape() {
        let p = payload("job_1", &record(false));
        assert_eq!(p["type"], "record.upserted");
        assert_eq!(p["syncJobId"], "job_1");
        assert_eq!(p["objectType"], "customer");
        assert_eq!(p["objectId"], "cus_1");
        assert_eq!(p["record"]["email"], "a@example.com");
        assert_eq!(p["_sync_metadata"]["event_id"], "evt_1");
        let d = payload("job_1", &record(true));
        assert_eq!(d["type"], "record.deleted");
        assert!(d["record"].is_null(), "a delete carries no provider data");
        assert_eq!(d["_sync_metadata"]["deleted"], true);
    }

    #[test]
    fn table_item_holds_fields_and_metadata() {
        let item = table_item(&record(false));
        assert_eq!(item["email"], "a@example.com");
        assert_eq!(item["_sync_metadata"]["object_id"], "cus_1");
    }

    #[test]
    fn headers_are_checked_by_name() {
        assert!(custom_headers(&json!({"X-Api-Key": "v"})).is_ok());
        for bad in [
            json!({"webhook-id": "x"}),
            json!({"X-Webhook-Signature": "x"}),
            json!({"Content-Type": "x"}),
            json!({"bad name": "x"}),
            json!({"X-A": 1}),
            json!({"X-A": "line\nbreak"}),
            json!({"X-A": "a", "x-a": "b"}),
            json!("not an object"),
        ] {
            let e = custom_headers(&bad).unwrap_err().to_string();
            assert!(e.contains("destination.headers"), "{bad}: {e}");
        }
        let many: Map<String, Value> = (0..11).map(|i| (format!("X-{i}"), json!("v"))).collect();
        assert!(custom_headers(&Value::Object(many)).is_err());
    }

    #[test]
    fn table_names_need_the_prefix() {
        assert!(table_name(&json!("sync-dest-customers"), "sync-dest-").is_ok());
        let e = table_name(&json!("customers"), "sync-dest-")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("destination.tableName") && e.contains("sync-dest-"),
            "{e}"
        );
        assert!(table_name(&json!("sync-dest-"), "sync-dest-").is_err());
        assert!(table_name(&json!("sync-dest-a/b"), "sync-dest-").is_err());
    }

    #[test]
    fn delivery_ids_are_stable_per_event_and_job() {
        let ev = super::super::domain::monotonic_id(crate::ids::INBOUND_EVENT);
        let a = delivery_id(&ev, "job_1");
        assert_eq!(a, delivery_id(&ev, "job_1"));
        assert_ne!(a, delivery_id(&ev, "job_2"));
        assert!(crate::ids::is_valid(crate::ids::DELIVERY, &a), "{a}");
        assert!(
            a > crate::subscriptions::delivery_id_floor(
                crate::time::now() - chrono::Duration::seconds(5)
            )
        );
    }
}
