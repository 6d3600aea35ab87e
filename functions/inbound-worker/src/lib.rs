//! The inbound-queue consumer (SQS `inbound-queue`, one message type: `InboundMessage`, the ids
//! of a stored event): the trigger only. The use case, `shared::inbound::apply`, groups the batch
//! by sync job, applies each job's write groups, records them as executions and answers the
//! partial batch failures.

use shared::inbound::apply::SyncWorker;
use shared::App;

/// The batch handler of one Lambda instance.
pub fn worker(app: App) -> SyncWorker {
    SyncWorker::new(app)
}
