//! Core of the booking-sync functions: domain, ports, use cases, signing, config, errors,
//! the SQS batch runner and telemetry. It names no AWS SDK: adapters live in `shared-aws`,
//! fakes in `shared-testkit`.

pub mod alerts;
pub mod app;
pub mod bookings;
pub mod calendar;
pub mod config;
pub mod email;
pub mod error;
pub mod event_pattern;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod integrations;
pub mod lease;
pub mod outbound;
pub mod outbox;
pub mod paging;
pub mod patch;
pub mod queue;
pub mod retry;
pub mod signing;
pub mod sqs_runner;
pub mod subscriptions;
pub mod telemetry;
pub mod tenancy;
pub mod time;
pub mod users;

pub use app::App;
pub use error::{AppError, AppResult};
