//! Test wiring: `shared::App` over the in-memory fakes.

use std::sync::Arc;

use shared::config::Config;
use shared::App;

use crate::memory::{MemoryQueue, MemoryStore};
use crate::users::MemoryBlobStore;

/// Over in-memory fakes; returns them too so tests can inspect and inject faults.
pub fn in_memory_app(config: Config) -> (App, Arc<MemoryStore>, Arc<MemoryQueue>) {
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(MemoryQueue::new());
    (
        App::new(config, store.clone(), queue.clone())
            .with_blobs(Arc::new(MemoryBlobStore::default())),
        store,
        queue,
    )
}
