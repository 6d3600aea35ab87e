//! The AWS side of the product: the only crate that names an AWS SDK. The table toolkit,
//! the one `keys.rs`, one adapter per feature (DynamoDB, SQS, S3) and the production wiring
//! of `shared::App`.

pub mod alerts;
pub mod bookings;
pub mod calendar;
pub mod errors;
pub mod exports;
pub mod inbound;
pub mod integrations;
pub mod keys;
pub mod leases;
pub mod outbox;
pub mod s3;
pub mod sqs;
pub mod subscriptions;
pub mod table;
pub mod tenancy;
pub mod users;
pub mod wiring;

pub use table::DynamoStore;
pub use wiring::{app_from_env, Clients};
