//! End-to-end flows over moto (DynamoDB single-threaded, SQS/S3 threaded) and local HTTP targets.

mod alerts;
mod aws_calls;
mod backfill;
mod bad_input;
mod booking_events;
mod booking_flow;
mod calendar_sync;
mod counter_sync;
mod destinations;
mod early_auth;
mod export_job;
mod faults;
mod inbound_additions;
mod inbound_pipeline;
mod pacing;
mod poison_dlq;
mod properties;
mod reconcile;
mod retry_after;
mod sweeper;
mod update_events;
mod webhook_delivery;
