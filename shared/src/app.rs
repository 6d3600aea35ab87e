//! The application state every function shares: config plus one implementation of each port.
//! A bundle and nothing more: `shared_aws::wiring` builds it over DynamoDB/SQS/S3,
//! `shared_testkit::wiring` over the fakes.

use std::ops::Deref;
use std::sync::Arc;

use crate::alerts::AlertStore;
use crate::bookings::ports::BookingStore;
use crate::calendar::CalendarStore;
use crate::config::Config;
use crate::inbound::ports::BackfillStore;
use crate::inbound::ports::DestinationTableStore;
use crate::inbound::ports::{InboundEventStore, RecordStore, SyncExecutionStore, SyncJobStore};
use crate::integrations::ports::IntegrationStore;
use crate::lease::LeaseStore;
use crate::outbound::OutboundClient;
use crate::outbox::ports::OutboxStore;
use crate::queue::Queue;
use crate::subscriptions::{DeliveryStore, SubscriptionStore};
use crate::tenancy::ports::WorkspaceStore;
use crate::users::{BlobStore, ExportStore, UserStore};

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
    pub alerts: Arc<dyn AlertStore>,
    pub backfills: Arc<dyn BackfillStore>,
    /// Sync-job DynamoDB destination tables (DESIGN §8).
    pub destination_tables: Arc<dyn DestinationTableStore>,
    /// Export files (S3); `NoBlobStore` unless set with `with_blobs` (production: `Clients::s3`).
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn Queue>,
    pub http: OutboundClient,
    /// API keys this process has checked (`http::EarlyAuth`): key hash → workspace.
    pub seen_keys: crate::tenancy::seen::SeenKeys,
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
    + AlertStore
    + BackfillStore
    + DestinationTableStore
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
        + AlertStore
        + BackfillStore
        + DestinationTableStore
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
            alerts: stores.clone(),
            backfills: stores.clone(),
            destination_tables: stores.clone(),
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
            seen_keys: Default::default(),
        }))
    }

    /// Sets the export file store. A builder step: call it before the `App` is cloned.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.blobs = blobs,
            None => tracing::error!("with_blobs called on a shared App: ignored"),
        }
        self
    }
}
