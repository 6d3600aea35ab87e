//! Shared core of the booking-sync functions: domain, ports, adapters, fakes, signing,
//! config, errors, the SQS batch runner and telemetry.

pub mod adapters;
pub mod app;
pub mod calendar;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
#[cfg(any(test, feature = "test-util"))]
pub mod fakes;
pub mod http;
pub mod hubspot;
pub mod ids;
pub mod inbound;
pub mod keys;
pub mod outbound;
pub mod outbox;
pub mod ports;
pub mod retry;
pub mod signing;
pub mod sqs_runner;
pub mod telemetry;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod time;
pub mod users;
pub mod webhooks;

pub use app::App;
pub use error::{AppError, AppResult};
