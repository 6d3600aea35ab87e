//! Named leases: "at most one of us does this now". A lease is a domain value; the store
//! decides how to keep it (a conditional put in DynamoDB, a map entry in the fake).

use std::time::Duration;

use async_trait::async_trait;

use crate::error::AppResult;

/// What a lease guards.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lease {
    /// One HubSpot counter sync per exam in flight.
    CounterSync { workspace: String, exam: String },
    /// One sweeper re-sends an orphaned outbox record.
    OutboxResend { outbox: String },
    /// One sweeper re-queues an overdue webhook delivery per grace period.
    DeliveryRedrive { workspace: String, delivery: String },
    /// One sweeper re-drives a stuck GHL mapping per grace period.
    SyncMappingRedrive { workspace: String, event: String },
    /// One backfill run per sync job at a time.
    Backfill { workspace: String, job: String },
}

impl Lease {
    pub fn counter_sync(workspace: &str, exam: &str) -> Self {
        Self::CounterSync {
            workspace: workspace.to_owned(),
            exam: exam.to_owned(),
        }
    }

    pub fn outbox_resend(outbox: &str) -> Self {
        Self::OutboxResend {
            outbox: outbox.to_owned(),
        }
    }

    pub fn delivery_redrive(workspace: &str, delivery: &str) -> Self {
        Self::DeliveryRedrive {
            workspace: workspace.to_owned(),
            delivery: delivery.to_owned(),
        }
    }

    pub fn sync_mapping_redrive(workspace: &str, event: &str) -> Self {
        Self::SyncMappingRedrive {
            workspace: workspace.to_owned(),
            event: event.to_owned(),
        }
    }
}

impl Lease {
    pub fn backfill(workspace: &str, job: &str) -> Self {
        Self::Backfill {
            workspace: workspace.to_owned(),
            job: job.to_owned(),
        }
    }
}

impl std::fmt::Display for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CounterSync { workspace, exam } => write!(f, "counter-sync {workspace}/{exam}"),
            Self::OutboxResend { outbox } => write!(f, "outbox-resend {outbox}"),
            Self::DeliveryRedrive {
                workspace,
                delivery,
            } => write!(f, "delivery-redrive {workspace}/{delivery}"),
            Self::SyncMappingRedrive { workspace, event } => {
                write!(f, "sync-mapping-redrive {workspace}/{event}")
            }
            Self::Backfill { workspace, job } => write!(f, "backfill {workspace}/{job}"),
        }
    }
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the named lease for `ttl` unless it is held (by anyone) and not yet expired.
    async fn try_acquire(&self, lease: &Lease, owner: &str, ttl: Duration) -> AppResult<bool>;
    /// Releases it if `owner` still holds it.
    async fn release(&self, lease: &Lease, owner: &str) -> AppResult<()>;
}
