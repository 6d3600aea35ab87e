//! The one integration test binary: `cargo test -p integration-tests` (or `--test it`).
//!
//! - `contract`: the contract suite of every port, against the fake and moto;
//! - `handlers`: every function's router / message handler in-process over the fakes;
//! - `flows`: end-to-end flows over moto and local HTTP targets.
//!
//! One moto pair serves the whole binary; every test takes fresh tables and queues.

mod contract;
mod flows;
mod handlers;
