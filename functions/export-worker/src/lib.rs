//! Export worker: consumes the export queue (`{workspaceId, exportId}`), streams the job's
//! users into S3 by multipart upload and records rowCount + SHA-256 (shared::users::export).
//! A failed record is retried by SQS; on its last receive the job is marked failed.

use async_trait::async_trait;

use shared::sqs_runner::{BatchRunner, RecordHandler, SqsRecord};
use shared::users::export::{fail_job, run_job};
use shared::users::ExportMessage;
use shared::{App, AppError};

pub struct ExportHandler {
    app: App,
}

pub fn runner(app: App) -> BatchRunner<ExportHandler> {
    let max = app.config.max_receive_count;
    BatchRunner::new(ExportHandler { app }, max)
}

#[async_trait]
impl RecordHandler for ExportHandler {
    type Message = ExportMessage;
    // A body that is not `{workspaceId, exportId}` is poison: reported as a failure on every
    // receive, so SQS moves it to the DLQ where it can be inspected instead of vanishing.
    const QUEUE: &'static str = "export-queue";

    async fn handle(&self, msg: &ExportMessage, _record: &SqsRecord) -> Result<(), AppError> {
        run_job(&self.app, msg)
            .await
            .inspect_err(|e| {
                tracing::error!(export_id = %msg.export_id, error = %e.log_detail(), "export job failed");
            })
    }

    async fn on_final_failure(
        &self,
        msg: Option<&ExportMessage>,
        record: &SqsRecord,
        _error: &str,
    ) {
        let Some(msg) = msg else { return };
        // The detail is in the log; the record shows a stable, non-internal message.
        let shown = format!("the export failed after {} attempts", record.receive_count);
        if let Err(e) = fail_job(&self.app, msg, &shown).await {
            tracing::error!(error = %e.log_detail(), "could not mark the export failed");
        }
    }
}

/// The message for tests and tools.
pub fn body(workspace_id: &str, export_id: &str) -> String {
    serde_json::json!({"workspaceId": workspace_id, "exportId": export_id}).to_string()
}
