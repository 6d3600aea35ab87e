//! Inbound webhooks as sync jobs (seed 003, DESIGN §4 "Inbound sync jobs"): Stripe, Close and
//! Standard Webhooks senders post events; the receiver verifies the signature on the raw body,
//! stores the raw event (idempotent on the provider event id) and queues its ids; the sync
//! worker maps it to a destination record with `_sync_metadata`, never letting an older event
//! overwrite a newer one.
//!
//! - `domain`: SyncJob, InboundEvent, Record/SyncMetadata, Execution, InboundMessage;
//! - `mapping`: the provider rules (type, record type and id, ordering time, delete) as pure
//!   functions;
//! - `receive`: the receiver pipeline, shared by the public route and the `…/test` route;
//!   `head_scan`: its one pass over the body (serde-strict JSON validation + where the event id
//!   and type sit), tested against serde in `head_scan_tests.rs`;
//! - `apply`: the worker's use case: a queue batch grouped by job, applied in write groups
//!   (each event to its record, in order) and recorded as executions;
//! - `input`: the API's bodies (create, PATCH, replay, test) and their validation;
//! - `service`: the job use cases of the API (create, patch, delete, secret, loads, lists,
//!   stats, test event); `requeue`: retry one, retry failed, replay a window;
//! - `jq`: the jq `filter` and `transform` of a job (compiled on save, run with limits);
//!   `preview`: what a job would make of an event, writing nothing;
//! - `purge`: deleting a job removes its records, events and executions in the background;
//! - `backfill`: scheduled jobs and a webhook job's `backfill`: the plan (schedule, apiKey,
//!   cursor), runs now or when due, each provider event stored like a received one;
//!   `providers`: reading Stripe's and Close's event logs;
//! - `ports`: the store traits; adapter `shared-aws/src/inbound/`, fake
//!   `shared-testkit/src/inbound.rs`.

pub mod apply;
pub mod backfill;
pub mod destination;
pub mod domain;
pub mod head_scan;
pub mod input;
pub mod jq;
pub mod mapping;
pub mod ports;
pub mod preview;
pub mod providers;
pub mod purge;
pub mod receive;
pub mod requeue;
pub mod service;
