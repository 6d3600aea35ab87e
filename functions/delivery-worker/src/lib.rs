//! The delivery-queue consumer: HubSpot counter syncs, event fan-out, outbound webhook
//! deliveries, GHL syncs, operational alerts, the purge of deleted sync jobs sync-job backfill runs and the automatic retries of failed inbound events. Messages carry ids only; state lives in DynamoDB.

use std::time::Duration;

use async_trait::async_trait;

use shared::queue::{QueueEnvelope, QueueMessage};
use shared::sqs_runner::{BatchRunner, RecordHandler, SqsRecord};
use shared::{App, AppError};

pub struct Deliver {
    pub app: App,
}

pub fn runner(app: App) -> BatchRunner<Deliver> {
    let max = app.config.max_receive_count;
    BatchRunner::new(Deliver { app }, max)
}

#[async_trait]
impl RecordHandler for Deliver {
    type Message = QueueEnvelope;
    const QUEUE: &'static str = "delivery-queue";

    async fn handle(&self, envelope: &QueueEnvelope, _record: &SqsRecord) -> Result<(), AppError> {
        if let Some(not_before) = envelope.not_before {
            let remaining = not_before - shared::time::now().timestamp();
            if remaining > 0 {
                // A chained delay: not yet due, wait the rest (not counted as an attempt).
                let wait = Duration::from_secs(remaining as u64);
                return shared::queue::schedule(&self.app, envelope.message.clone(), wait).await;
            }
        }
        match &envelope.message {
            QueueMessage::CounterSync {
                workspace_id,
                mock_exam_id,
                attempt,
                delivery_id,
            } => {
                shared::integrations::counter_sync::run(
                    &self.app,
                    workspace_id,
                    mock_exam_id,
                    *attempt,
                    delivery_id.clone(),
                )
                .await
            }
            QueueMessage::FanOut {
                workspace_id,
                outbox_id,
            } => shared::subscriptions::fanout::run(&self.app, workspace_id, outbox_id).await,
            QueueMessage::Delivery {
                workspace_id,
                delivery_id,
            } => shared::subscriptions::delivery::run(&self.app, workspace_id, delivery_id).await,
            QueueMessage::CalendarSync {
                workspace_id,
                event_id,
                attempt,
            } => shared::calendar::retries::run(&self.app, workspace_id, event_id, *attempt).await,
            QueueMessage::Alert {
                workspace_id,
                alert,
                attempt,
                delivery_id,
                suppressed,
            } => {
                shared::alerts::deliver::run(
                    &self.app,
                    workspace_id,
                    alert,
                    *attempt,
                    delivery_id.as_deref(),
                    *suppressed,
                )
                .await
            }
            QueueMessage::PurgeSyncJob {
                workspace_id,
                job_id,
                pass,
            } => shared::inbound::purge::run(&self.app, workspace_id, job_id, *pass)
                .await
                .map(|_| ()),
            QueueMessage::InboundRetry {
                workspace_id,
                job_id,
                provider_event_id,
                event_id,
                retry,
            } => {
                shared::inbound::requeue::auto_retry(
                    &self.app,
                    workspace_id,
                    job_id,
                    provider_event_id,
                    event_id,
                    *retry,
                )
                .await
            }
            QueueMessage::DestinationDelivery {
                workspace_id,
                job_id,
                delivery_id,
            } => {
                shared::inbound::destination::deliver::run(
                    &self.app,
                    workspace_id,
                    job_id,
                    delivery_id,
                )
                .await
            }
            QueueMessage::Backfill {
                workspace_id,
                job_id,
                execution_id,
                leased,
            } => {
                shared::inbound::backfill::run(
                    &self.app,
                    workspace_id,
                    job_id,
                    execution_id,
                    *leased,
                )
                .await
            }
        }
    }

    async fn on_final_failure(
        &self,
        envelope: Option<&QueueEnvelope>,
        record: &SqsRecord,
        error: &str,
    ) {
        tracing::error!(message_id = %record.message_id, error, "delivery-queue message moves to the DLQ");
        if let Some(envelope) = envelope {
            shared::subscriptions::delivery::fail_after_last_receive(&self.app, &envelope.message)
                .await;
            if let QueueMessage::DestinationDelivery {
                workspace_id,
                delivery_id,
                ..
            } = &envelope.message
            {
                shared::inbound::destination::deliver::fail_after_last_receive(
                    &self.app,
                    workspace_id,
                    delivery_id,
                )
                .await;
            }
            shared::inbound::backfill::fail_after_last_receive(&self.app, &envelope.message).await;
        }
    }
}
