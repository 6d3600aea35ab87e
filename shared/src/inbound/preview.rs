//! `POST …/sync-jobs/{jobId}/webhook/preview` (DESIGN §8): what the job would make of a stored
//! event (`eventId`) or a pasted provider payload (`payload`) — its type filters, the mapping,
//! the jq `filter` and `transform` — without writing anything.

use serde::Deserialize;
use serde_json::{json, Value};

use super::domain::{Record, SyncJob, SyncMetadata};
use super::jq::{self, Verdict};
use super::mapping::{check_nesting, map_event, parse_head, Mapping};
use super::service::load_event;
use crate::{App, AppError, AppResult};

/// The body: exactly one of `eventId` (a stored `iev_` event of the job) or `payload` (an
/// event as the provider sends it).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewBody {
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    payload: Option<Value>,
}

/// `preview {matched, record, error}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The event passes the job's type filters and its jq filter.
    pub matched: bool,
    /// What `…/records/{objectType}/{objectId}` would show (with `_sync_metadata`); null
    /// when nothing would be stored.
    pub record: Option<Value>,
    /// Why the event would fail (mapping or jq), as the event would show it.
    pub error: Option<String>,
}

impl Preview {
    pub fn view(&self) -> Value {
        json!({ "matched": self.matched, "record": self.record, "error": self.error })
    }

    fn failed(matched: bool, error: String) -> Self {
        Self {
            matched,
            record: None,
            error: Some(error),
        }
    }
}

/// Runs the job's rules on the event; reads at most the stored event, writes nothing.
pub async fn preview(app: &App, job: &SyncJob, body: PreviewBody) -> AppResult<Preview> {
    let (raw, event_id) =
        match (body.event_id, body.payload) {
            (Some(id), None) => {
                let ev = load_event(app, job, &id).await?;
                (ev.raw_body, ev.id)
            }
            (None, Some(payload)) => (serde_json::to_string(&payload)?, "preview".to_owned()),
            (Some(_), Some(_)) => {
                return Err(AppError::validation(
                    "give either eventId or payload, not both",
                ))
            }
            (None, None) => return Err(AppError::validation(
                "eventId or payload is required (a stored event's iev_ id, or a provider event)",
            )),
        };
    check_nesting(raw.as_bytes())?;
    let head = match parse_head(job.source, "preview", raw.as_bytes()) {
        Ok(h) => h,
        Err(e) => return Ok(Preview::failed(false, e.public_message())),
    };
    if !job.webhook_config.accepts(&head.event_type) {
        return Ok(Preview {
            matched: false,
            record: None,
            error: None,
        });
    }
    let parsed: Value = serde_json::from_str(&raw)?;
    let mapping = match map_event(job.source, &head.event_type, &parsed) {
        Ok(m) => m,
        Err(why) => return Ok(Preview::failed(true, why)),
    };
    let mapping = match jq::evaluate(&job.webhook_config, &raw, mapping).await {
        Ok(Verdict::Apply(m)) => m,
        Ok(Verdict::Filtered) => {
            return Ok(Preview {
                matched: false,
                record: None,
                error: None,
            })
        }
        Err(e) => return Ok(Preview::failed(false, e.to_string())),
    };
    let record = match mapping {
        Mapping::Skip { .. } => None,
        Mapping::Apply {
            object_type,
            object_id,
            event_created,
            delete,
            data,
        } => Some(
            Record {
                object_type,
                object_id,
                data,
                meta: SyncMetadata {
                    source: job.source,
                    event_id: head.provider_event_id,
                    inbound_event_id: event_id,
                    event_type: head.event_type,
                    event_created,
                    synced_at: crate::time::now_string(),
                    deleted: delete,
                },
            }
            .view(),
        ),
    };
    Ok(Preview {
        matched: true,
        record,
        error: None,
    })
}
