//! The application state every function shares: config plus one implementation of each port.
//! `main.rs` builds it from the environment (DynamoDB/SQS); tests build it over the fakes or
//! over moto.

use std::ops::Deref;
use std::sync::Arc;

use crate::adapters;
use crate::config::{Config, ConfigError};
use crate::outbound::OutboundClient;
use crate::ports::{
    BookingStore, IntegrationStore, LeaseStore, OutboxStore, Queue, WorkspaceStore,
};

pub struct AppInner {
    pub config: Config,
    pub workspaces: Arc<dyn WorkspaceStore>,
    pub bookings: Arc<dyn BookingStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub outbox: Arc<dyn OutboxStore>,
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
    WorkspaceStore + BookingStore + IntegrationStore + LeaseStore + OutboxStore + 'static
{
}
impl<T> Stores for T where
    T: WorkspaceStore + BookingStore + IntegrationStore + LeaseStore + OutboxStore + 'static
{
}

impl App {
    pub fn new<S: Stores>(config: Config, stores: Arc<S>, queue: Arc<dyn Queue>) -> Self {
        let http = OutboundClient::new(config.allow_private_targets);
        Self(Arc::new(AppInner {
            config,
            workspaces: stores.clone(),
            bookings: stores.clone(),
            integrations: stores.clone(),
            leases: stores.clone(),
            outbox: stores,
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
        Ok(Self::new(config, store, queue))
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
            Self::new(config, store.clone(), queue.clone()),
            store,
            queue,
        )
    }
}
