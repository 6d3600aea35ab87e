//! Test kit (a dev-dependency only): in-memory fakes of every port, with the same file names
//! as the adapters of `shared-aws`; the wiring of `shared::App` over them; the contract-suite
//! macro; the moto harness; an in-process caller of routers; local HTTP targets; builders of
//! test data (`fixtures`).

pub mod alerts;
pub mod backfill;
pub mod calendar;
pub mod calls;
pub mod contract;
pub mod destinations;
pub mod fixtures;
pub mod harness;
pub mod inbound;
pub mod memory;
pub mod moto;
pub mod provider_events;
pub mod sqs;
pub mod subscriptions;
pub mod targets;
pub mod users;
pub mod wiring;

pub use memory::{MemoryQueue, MemoryStore};
pub use wiring::in_memory_app;
