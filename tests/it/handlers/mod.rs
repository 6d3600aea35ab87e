//! Each function's router or message handler in-process, over the in-memory fakes.

mod admin;
mod bookings;
mod calendar;
mod cancellations;
mod inbound_receiver;
mod sync_jobs;
mod sync_worker;
mod users;
mod webhooks;
