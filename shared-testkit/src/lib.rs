//! Test kit (a dev-dependency only): in-memory fakes of every port, with the same file names
//! as the adapters of `shared-aws`; the wiring of `shared::App` over them; an in-process
//! caller of routers.

pub mod calendar;
pub mod harness;
pub mod inbound;
pub mod memory;
pub mod users;
pub mod webhooks;
pub mod wiring;

pub use memory::{MemoryQueue, MemoryStore};
pub use wiring::in_memory_app;
