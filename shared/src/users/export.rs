//! Exports: rendered batch by batch from `UserStream`, hashed as they are produced, either
//! answered directly (≤ [`DIRECT_CAP`]) or streamed into S3 by multipart upload from the
//! export worker. Memory stays bounded by one store batch plus one upload part.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::query::{ExportQuery, UserStream};
use super::render::{json_fields, json_user, CsvRenderer, JsonRenderer, CSV_COLUMNS};
use super::{BlobStore, ExportFormat, ExportMessage, ExportMode, ExportRecord, ExportStatus, User};
use crate::app::App;
use crate::bookings::Booking;
use crate::error::AppResult;
use crate::queue::QueueName;

/// API Gateway caps a response at 6 MB; past this a direct export becomes a job.
pub const DIRECT_CAP: usize = 5 * 1024 * 1024;
/// How often a running export job records the rows written so far.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Multipart part size (S3's minimum for all parts but the last is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// A worker's claim on a job: the export worker's function timeout (900 s) plus slack.
pub const CLAIM: Duration = Duration::from_secs(960);
/// Lifetime of a presigned download URL.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(3600);

pub fn new_record(
    ws: &str,
    api_key_id: &str,
    format: ExportFormat,
    mode: ExportMode,
    query: &ExportQuery,
    now: &str,
) -> ExportRecord {
    ExportRecord {
        id: crate::ids::new_id(crate::ids::EXPORT),
        workspace_id: ws.to_owned(),
        api_key_id: api_key_id.to_owned(),
        format,
        mode,
        status: ExportStatus::Pending,
        fields: match format {
            ExportFormat::Csv => CSV_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            ExportFormat::Json => json_fields(query.includes),
        },
        query: query.clone(),
        row_count: None,
        sha256: None,
        bytes: None,
        object_key: None,
        error: None,
        created_at: now.to_owned(),
        started_at: None,
        completed_at: None,
        claim_until: None,
    }
}

pub fn object_key(record: &ExportRecord) -> String {
    format!(
        "exports/{}/{}.{}",
        record.workspace_id,
        record.id,
        record.format.extension()
    )
}

/// Renders users into a growing buffer; the caller drains it (a part, or the response).
pub struct ExportWriter {
    format: ExportFormat,
    query: ExportQuery,
    csv: CsvRenderer,
    json: Option<JsonRenderer>,
    hasher: Sha256,
    pub rows: u64,
    pub bytes: u64,
    buf: Vec<u8>,
}

impl ExportWriter {
    pub fn open(format: ExportFormat, query: &ExportQuery, exported_at: &str) -> AppResult<Self> {
        let mut w = Self {
            format,
            query: query.clone(),
            csv: CsvRenderer::new(),
            json: None,
            hasher: Sha256::new(),
            rows: 0,
            bytes: 0,
            buf: Vec::new(),
        };
        match format {
            ExportFormat::Csv => w.csv.header(&mut w.buf)?,
            ExportFormat::Json => w.json = Some(JsonRenderer::open(exported_at, &mut w.buf)),
        }
        Ok(w)
    }

    pub async fn write_batch(&mut self, app: &App, ws: &str, users: &[User]) -> AppResult<()> {
        for u in users {
            match self.format {
                ExportFormat::Csv => self.csv.user(u, &mut self.buf)?,
                ExportFormat::Json => {
                    let includes = self.query.includes;
                    let bookings: Option<Vec<Booking>> = if includes.needs_bookings() {
                        Some(app.users.bookings_of(ws, &u.id).await?)
                    } else {
                        None
                    };
                    let view = json_user(u, includes, bookings.as_deref());
                    if let Some(j) = self.json.as_mut() {
                        j.user(&view, &mut self.buf)?;
                    }
                }
            }
            self.rows += 1;
        }
        Ok(())
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes the rendered bytes (hashing them in order).
    pub fn take(&mut self) -> Vec<u8> {
        let out = std::mem::take(&mut self.buf);
        self.hasher.update(&out);
        self.bytes += out.len() as u64;
        out
    }

    /// Closes the document; returns the last bytes, the SHA-256 (hex) and the size of
    /// everything.
    pub fn finish(mut self) -> (Vec<u8>, String, u64) {
        if let Some(j) = self.json.take() {
            j.close(&mut self.buf);
        }
        let last = self.take();
        (last, hex::encode(self.hasher.finalize()), self.bytes)
    }
}

/// What a direct export request gets.
pub enum DirectOutcome {
    /// The bytes, with the audit record already stored.
    Served { body: Vec<u8>, record: ExportRecord },
    /// Too large (or asked async): a queued job.
    Queued(ExportRecord),
}

/// Runs an export for the response body; past [`DIRECT_CAP`] it stops and queues a job.
pub async fn run_direct(
    app: &App,
    ws: &str,
    api_key_id: &str,
    format: ExportFormat,
    query: &ExportQuery,
    force_async: bool,
) -> AppResult<DirectOutcome> {
    let now = crate::time::now_string();
    if let Some(id) = &query.user_id {
        // Right of access: an unknown or erased user is a 404, not an empty export.
        if app.users.get_user(ws, id).await?.is_none() {
            return Err(crate::error::AppError::NotFound("user"));
        }
    }
    if force_async {
        return queue_job(app, ws, api_key_id, format, query, &now)
            .await
            .map(DirectOutcome::Queued);
    }
    let mut writer = ExportWriter::open(format, query, &now)?;
    let mut body = Vec::new();
    let mut stream = UserStream::new(query);
    while let Some(batch) = stream.next_batch(app.users.as_ref(), ws).await? {
        writer.write_batch(app, ws, &batch).await?;
        body.extend_from_slice(&writer.take());
        if body.len() > DIRECT_CAP {
            return queue_job(app, ws, api_key_id, format, query, &now)
                .await
                .map(DirectOutcome::Queued);
        }
    }
    let rows = writer.rows;
    let (last, sha, _) = writer.finish();
    body.extend_from_slice(&last);
    if body.len() > DIRECT_CAP {
        return queue_job(app, ws, api_key_id, format, query, &now)
            .await
            .map(DirectOutcome::Queued);
    }
    let mut record = new_record(ws, api_key_id, format, ExportMode::Direct, query, &now);
    record.status = ExportStatus::Done;
    record.row_count = Some(rows);
    record.bytes = Some(body.len() as u64);
    record.sha256 = Some(sha);
    record.started_at = Some(now.clone());
    record.completed_at = Some(crate::time::now_string());
    // Audited before a byte is served: an export without its record never leaves.
    app.exports.create_export(&record).await?;
    Ok(DirectOutcome::Served { body, record })
}

async fn queue_job(
    app: &App,
    ws: &str,
    api_key_id: &str,
    format: ExportFormat,
    query: &ExportQuery,
    now: &str,
) -> AppResult<ExportRecord> {
    let mut record = new_record(ws, api_key_id, format, ExportMode::Job, query, now);
    record.object_key = Some(object_key(&record));
    app.exports.create_export(&record).await?;
    let msg = ExportMessage {
        workspace_id: ws.to_owned(),
        export_id: record.id.clone(),
    };
    let body = serde_json::to_string(&msg)?;
    if let Err(e) = app
        .queue
        .send_raw(QueueName::Export, &body, Duration::ZERO)
        .await
    {
        record.status = ExportStatus::Failed;
        record.error = Some("the export could not be queued; try again".to_owned());
        record.completed_at = Some(crate::time::now_string());
        app.exports.finish_export(&record).await?;
        return Err(e);
    }
    Ok(record)
}

/// The export worker's work on one message: claim, stream into S3, record the result.
/// Duplicates and finished jobs are acknowledged without work. An error leaves the job
/// claimed; SQS redelivers after the claim runs out, and the last receive marks it failed.
pub async fn run_job(app: &App, msg: &ExportMessage) -> AppResult<()> {
    let ws = msg.workspace_id.as_str();
    let now_t = crate::time::now();
    let now = crate::time::format(now_t);
    let now_ms = now_t.timestamp_millis();
    let Some(mut record) = app
        .exports
        .claim_export(
            ws,
            &msg.export_id,
            &now,
            now_ms,
            now_ms + CLAIM.as_millis() as i64,
        )
        .await?
    else {
        tracing::info!(export_id = %msg.export_id, "export is finished, missing or claimed: nothing to do");
        return Ok(());
    };
    let key = record
        .object_key
        .clone()
        .unwrap_or_else(|| object_key(&record));
    let blobs: &dyn BlobStore = app.blobs.as_ref();
    let upload_id = blobs
        .start_upload(&key, record.format.content_type())
        .await?;
    match stream_to_blob(app, &record, &key, &upload_id, &now).await {
        Ok((rows, bytes, sha)) => {
            record.status = ExportStatus::Done;
            record.row_count = Some(rows);
            record.bytes = Some(bytes);
            record.sha256 = Some(sha);
            record.object_key = Some(key);
            record.error = None;
            record.completed_at = Some(crate::time::now_string());
            record.claim_until = None;
            app.exports.finish_export(&record).await?;
            tracing::info!(export_id = %record.id, rows, bytes, "export done");
            Ok(())
        }
        Err(e) => {
            if let Err(abort) = blobs.abort_upload(&key, &upload_id).await {
                tracing::warn!(error = %abort.log_detail(), "could not abort the multipart upload (the bucket's lifecycle rule will)");
            }
            Err(e)
        }
    }
}

async fn stream_to_blob(
    app: &App,
    record: &ExportRecord,
    key: &str,
    upload_id: &str,
    exported_at: &str,
) -> AppResult<(u64, u64, String)> {
    let ws = record.workspace_id.as_str();
    let blobs = app.blobs.as_ref();
    let mut writer = ExportWriter::open(record.format, &record.query, exported_at)?;
    let mut stream = UserStream::new(&record.query);
    let mut parts: Vec<(i32, String)> = Vec::new();
    let mut pending: Vec<u8> = Vec::with_capacity(PART_SIZE + 1024 * 1024);
    let mut reported = std::time::Instant::now();
    while let Some(batch) = stream.next_batch(app.users.as_ref(), ws).await? {
        writer.write_batch(app, ws, &batch).await?;
        // Progress for the console, at most every PROGRESS_EVERY (best effort).
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = std::time::Instant::now();
            if let Err(e) = app
                .exports
                .record_export_progress(ws, &record.id, writer.rows)
                .await
            {
                tracing::warn!(error = %e.log_detail(), "could not record export progress");
            }
        }
        pending.extend_from_slice(&writer.take());
        if pending.len() >= PART_SIZE {
            let n = parts.len() as i32 + 1;
            let body = std::mem::replace(&mut pending, Vec::with_capacity(PART_SIZE + 1024 * 1024));
            let etag = blobs.upload_part(key, upload_id, n, body).await?;
            parts.push((n, etag));
        }
    }
    let rows = writer.rows;
    let (last, sha, bytes) = writer.finish();
    pending.extend_from_slice(&last);
    let n = parts.len() as i32 + 1;
    let etag = blobs.upload_part(key, upload_id, n, pending).await?;
    parts.push((n, etag));
    blobs.complete_upload(key, upload_id, &parts).await?;
    Ok((rows, bytes, sha))
}

/// Marks a job failed (its message is on its last receive).
pub async fn fail_job(app: &App, msg: &ExportMessage, error: &str) -> AppResult<()> {
    let Some(mut record) = app
        .exports
        .get_export(&msg.workspace_id, &msg.export_id)
        .await?
    else {
        return Ok(());
    };
    if matches!(record.status, ExportStatus::Done | ExportStatus::Failed) {
        return Ok(());
    }
    record.status = ExportStatus::Failed;
    record.error = Some(error.chars().take(500).collect());
    record.completed_at = Some(crate::time::now_string());
    record.claim_until = None;
    app.exports.finish_export(&record).await
}

/// `export` of `GET /api/admin/exports/{id}`: a presigned URL when a job's file is ready.
pub async fn export_view(app: &App, record: &ExportRecord) -> AppResult<serde_json::Value> {
    let url = match (&record.status, &record.object_key, record.mode) {
        (ExportStatus::Done, Some(key), ExportMode::Job) => {
            Some(app.blobs.presign_get(key, DOWNLOAD_URL_TTL).await?)
        }
        _ => None,
    };
    Ok(record.view(url))
}
