//! Each function's router or message handler in-process, over the in-memory fakes.

mod alerts;
mod backfill;
mod bookings;
mod calendar;
mod cancellations;
mod console;
mod destinations;
mod inbound_receiver;
mod inbound_worker;
mod path_ids;
mod subscription_options;
mod subscriptions;
mod sync_jobs;
mod update_events;
mod users;
mod workspaces;
