//! Contract suites: one per port, each behaviour run against the in-memory fake AND the adapter on moto.

mod alerts;
mod backfill;
mod bookings;
mod calendar;
mod destinations;
mod inbound;
mod integrations;
mod leases;
mod outbox;
mod queue;
mod subscriptions;
mod users;
mod workspaces;
