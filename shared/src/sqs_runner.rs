//! Lifts a per-record handler to an SQS batch with partial batch failures.
//!
//! Each queue has one message type (`RecordHandler::Message`): the runner deserializes every
//! body into it, so a handler never sees raw JSON, and a body that is not a message fails as
//! a validation error (a poison message: it reaches the DLQ after its last receive).
//!
//! Records run concurrently (bounded), each in its own task and tracing span; a record that
//! errors or panics fails alone and is reported in `batchItemFailures` (the event source must
//! have `ReportBatchItemFailures`, or SQS treats failed messages as processed). A record that
//! fails on its last receive (`ApproximateReceiveCount` = maxReceiveCount) gets
//! `on_final_failure` first, so its state says why before SQS moves it to the DLQ.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::AppError;

/// The parts of an SQS message a handler uses.
#[derive(Debug, Clone)]
pub struct SqsRecord {
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
}

impl SqsRecord {
    fn from_message(m: &SqsMessage) -> Self {
        Self {
            message_id: m.message_id.clone().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        }
    }
}

#[async_trait]
pub trait RecordHandler: Send + Sync + 'static {
    /// The queue's one message type.
    type Message: DeserializeOwned + Send + Sync + 'static;
    /// The queue's name, for the error of a body that is not a message.
    const QUEUE: &'static str;

    async fn handle(&self, message: &Self::Message, record: &SqsRecord) -> Result<(), AppError>;

    /// The record failed on its last receive; record the error where users can see it.
    /// `message` is `None` when the body was not a message at all.
    async fn on_final_failure(
        &self,
        _message: Option<&Self::Message>,
        _record: &SqsRecord,
        _error: &str,
    ) {
    }
}

/// The body as the queue's message type.
pub fn parse<M: DeserializeOwned>(queue: &str, body: &str) -> Result<M, AppError> {
    serde_json::from_str(body)
        .map_err(|e| AppError::validation(format!("malformed {queue} message: {e}")))
}

pub struct BatchRunner<H> {
    handler: Arc<H>,
    max_receive_count: u32,
    concurrency: usize,
}

impl<H: RecordHandler> BatchRunner<H> {
    pub fn new(handler: H, max_receive_count: u32) -> Self {
        Self {
            handler: Arc::new(handler),
            max_receive_count,
            concurrency: 10,
        }
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    pub async fn run(&self, event: SqsEvent) -> SqsBatchResponse {
        let records: Vec<SqsRecord> = event.records.iter().map(SqsRecord::from_message).collect();
        let failures: Vec<String> = futures::stream::iter(records)
            .map(|record| {
                let handler = self.handler.clone();
                let max = self.max_receive_count;
                async move {
                    let span = tracing::info_span!(
                        "record",
                        message_id = %record.message_id,
                        receive_count = record.receive_count
                    );
                    // The parse error is kept as text: each task re-raises it as a validation error.
                    let message = parse::<H::Message>(H::QUEUE, &record.body)
                        .map(Arc::new)
                        .map_err(|e| e.to_string());
                    let task = {
                        let handler = handler.clone();
                        let record = record.clone();
                        let message = message.clone();
                        tokio::spawn(
                            async move {
                                match message {
                                    Ok(m) => handler.handle(&m, &record).await,
                                    Err(detail) => Err(AppError::Validation(detail)),
                                }
                            }
                            .instrument(span.clone()),
                        )
                    };
                    let outcome = match task.await {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.log_detail()),
                        Err(join) if join.is_panic() => Some("handler panicked".to_owned()),
                        Err(_) => Some("handler task was cancelled".to_owned()),
                    };
                    let error = outcome?;
                    async {
                        tracing::error!(error = %error, "record failed");
                        if record.receive_count >= max {
                            tracing::error!("last receive: the record goes to the DLQ");
                            let message = message.as_deref().ok();
                            handler.on_final_failure(message, &record, &error).await;
                        }
                    }
                    .instrument(span)
                    .await;
                    Some(record.message_id)
                }
            })
            .buffer_unordered(self.concurrency)
            .filter_map(|f| async move { f })
            .collect()
            .await;
        let mut resp = SqsBatchResponse::default();
        resp.batch_item_failures = failures
            .into_iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        resp
    }
}

/// Builds an SQS event (tests and the local poller use the same shape as Lambda).
pub fn event_from_bodies(bodies: &[(&str, &str, u32)]) -> SqsEvent {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .map(|(id, body, count)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": { "ApproximateReceiveCount": count.to_string() },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Handler {
        finals: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl RecordHandler for Handler {
        type Message = String;
        const QUEUE: &'static str = "test-queue";

        async fn handle(&self, message: &String, _record: &SqsRecord) -> Result<(), AppError> {
            match message.as_str() {
                "ok" => Ok(()),
                "panic" => panic!("boom"),
                _ => Err(AppError::validation("bad record")),
            }
        }
        async fn on_final_failure(
            &self,
            _message: Option<&String>,
            record: &SqsRecord,
            error: &str,
        ) {
            self.finals
                .lock()
                .unwrap()
                .push(format!("{}:{error}", record.message_id));
        }
    }

    #[tokio::test]
    async fn only_failed_records_are_reported() {
        let runner = BatchRunner::new(Handler::default(), 5);
        let resp = runner
            .run(event_from_bodies(&[
                ("a", "\"ok\"", 1),
                ("b", "\"bad\"", 1),
                ("c", "\"panic\"", 1),
                ("d", "\"bad\"", 5),
                ("e", "not json", 1),
            ]))
            .await;
        let mut ids: Vec<_> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            vec!["b", "c", "d", "e"],
            "a body that is not a message fails too"
        );
        let finals = runner.handler().finals.lock().unwrap().clone();
        assert_eq!(finals.len(), 1);
        assert!(finals[0].starts_with("d:"));
    }
}
