//! The application state every function shares: config plus one implementation of each port.
//! `main.rs` builds it from the environment (DynamoDB/SQS); tests build it over the fakes or
//! over moto.

use std::ops::Deref;
use std::sync::Arc;

use crate::adapters;
use crate::calendar::CalendarStore;
use crate::config::{Config, ConfigError};
use crate::inbound::ports::{InboundEventStore, RecordStore, SyncExecutionStore, SyncJobStore};
use crate::outbound::OutboundClient;
use crate::ports::{
    BookingStore, IntegrationStore, LeaseStore, OutboxStore, Queue, WorkspaceStore,
};
use crate::users::{BlobStore, ExportStore, UserStore};
use crate::webhooks::{DeliveryStore, SubscriptionStore};

pub struct AppInner {
    pub config: Config,
    pub workspaces: Arc<dyn WorkspaceStore>,
    pub bookings: Arc<dyn BookingStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub outbox: Arc<dyn OutboxStore>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub sync_jobs: Arc<dyn SyncJobStore>,
    pub inbound_events: Arc<dyn InboundEventStore>,
    pub records: Arc<dyn RecordStore>,
    pub sync_executions: Arc<dyn SyncExecutionStore>,
    pub calendar: Arc<dyn CalendarStore>,
    pub users: Arc<dyn UserStore>,
    pub exports: Arc<dyn ExportStore>,
    /// Export files (S3); `NoBlobStore` unless set with `with_blobs` (or `from_env` with a bucket).
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn Queue>,
    pub http: OutboundClient,
}

/// Cheap to clone; handed to every handler as axum state.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Anything that implements every store port (the DynamoDB adapter and the memory fake).
pub trait Stores:
    WorkspaceStore
    + BookingStore
    + IntegrationStore
    + LeaseStore
    + OutboxStore
    + CalendarStore
    + UserStore
    + ExportStore
    + SubscriptionStore
    + DeliveryStore
    + SyncJobStore
    + InboundEventStore
    + RecordStore
    + SyncExecutionStore
    + 'static
{
}
impl<T> Stores for T where
    T: WorkspaceStore
        + BookingStore
        + IntegrationStore
        + LeaseStore
        + OutboxStore
        + CalendarStore
        + UserStore
        + ExportStore
        + SubscriptionStore
        + DeliveryStore
        + SyncJobStore
        + InboundEventStore
        + RecordStore
        + SyncExecutionStore
        + 'static
{
}

impl App {
    pub fn new<S: Stores>(config: Config, stores: Arc<S>, queue: Arc<dyn Queue>) -> Self {
        let http = OutboundClient::new(config.allow_private_targets);
        Self(Arc::new(AppInner {
            config,
            workspaces: stores.clone(),
            calendar: stores.clone(),
            users: stores.clone(),
            exports: stores.clone(),
            blobs: Arc::new(crate::users::NoBlobStore),
            bookings: stores.clone(),
            integrations: stores.clone(),
            leases: stores.clone(),
            outbox: stores.clone(),
            subscriptions: stores.clone(),
            sync_jobs: stores.clone(),
            inbound_events: stores.clone(),
            records: stores.clone(),
            sync_executions: stores.clone(),
            deliveries: stores,
            queue,
            http,
        }))
    }

    /// Production wiring: typed config from the environment, SDK clients built once at init.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = adapters::aws_config().await;
        let store = Arc::new(adapters::dynamo_store(&sdk, &config));
        let queue = Arc::new(adapters::sqs_queue(&sdk, &config));
        let blobs = config
            .export_bucket
            .clone()
            .map(|bucket| crate::users::s3::S3BlobStore::from_sdk(&sdk, bucket));
        let app = Self::new(config, store, queue);
        Ok(match blobs {
            Some(b) => app.with_blobs(Arc::new(b)),
            None => app,
        })
    }

    /// Sets the export file store. A builder step: call it before the `App` is cloned.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.blobs = blobs,
            None => tracing::error!("with_blobs called on a shared App: ignored"),
        }
        self
    }

    /// Over in-memory fakes; returns them too so tests can inspect and inject faults.
    #[cfg(any(test, feature = "test-util"))]
    pub fn in_memory(
        config: Config,
    ) -> (
        Self,
        Arc<crate::fakes::MemoryStore>,
        Arc<crate::fakes::MemoryQueue>,
    ) {
        let store = Arc::new(crate::fakes::MemoryStore::new());
        let queue = Arc::new(crate::fakes::MemoryQueue::new());
        (
            Self::new(config, store.clone(), queue.clone())
                .with_blobs(Arc::new(crate::users::fake::MemoryBlobStore::default())),
            store,
            queue,
        )
    }
}
