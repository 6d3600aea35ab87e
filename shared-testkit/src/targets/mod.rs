//! Local HTTP targets on loopback ports: stand-ins for HubSpot, GHL and subscribers.

pub mod ghl;
pub mod webhook;

pub use ghl::Ghl;
pub use webhook::Target;
