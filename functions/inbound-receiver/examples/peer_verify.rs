//! Our side of the peer comparison (`infra/measure/peers.sh`): verifies the bytes and headers
//! the run generated (`input.json`, written by `infra/measure/peers/peers.py sign`) exactly as
//! the receiver does, timed in-process like the Node and Python peers: a warm-up, then
//! `rounds` rounds of `iterations` calls; prints one JSON line per case with the median ns/op.
//!
//!     cargo run --profile bench -p inbound-receiver --example peer_verify -- input.json
//!
//! Cases: `stripe_verify_parse` (signature + event id and type, what `constructEvent` does
//! before handing the event over), `stripe_verify` (signature only), `standard_verify_parse`
//! (Standard Webhooks signature + id and type, on the same bytes).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use serde_json::Value;
use shared::inbound::domain::{SigningSecret, Source};
use shared::inbound::mapping::parse_head;
use shared::inbound::receive::verify;
use shared_testkit::provider_events;

fn field<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("input.json has no string at {path}"))
}

fn time(name: &str, warmup: u64, iterations: u64, rounds: usize, mut f: impl FnMut()) {
    for _ in 0..warmup {
        f();
    }
    let mut per_op: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_nanos() as f64 / iterations as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    let median = per_op[per_op.len() / 2];
    println!(
        "{}",
        serde_json::json!({ "side": "ours", "impl": "Rust (booking-sync)", "case": name,
            "ns_per_op": median, "rounds_ns": per_op, "iterations": iterations })
    );
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: peer_verify <input.json>");
    let input: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}")),
    )
    .expect("input.json is JSON");
    let body_file = field(&input, "/body_file");
    let body = std::fs::read(body_file).unwrap_or_else(|e| panic!("read {body_file}: {e}"));
    let iterations = input["iterations"].as_u64().expect("iterations");
    let warmup = input["warmup"].as_u64().expect("warmup");
    let rounds = input["rounds"].as_u64().expect("rounds") as usize;
    let now = shared::time::now().timestamp();

    let mut stripe = provider_events::sync_job("ws_peers", Source::Stripe);
    stripe.signing_secret = Some(SigningSecret::new(field(&input, "/stripe/secret")));
    let stripe_headers = provider_events::header_map(&[(
        "stripe-signature",
        field(&input, "/stripe/header").to_owned(),
    )]);
    let mut standard = provider_events::sync_job("ws_peers", Source::Generic);
    standard.signing_secret = Some(SigningSecret::new(field(&input, "/standard/secret")));
    let msg_id = field(&input, "/standard/id");
    let standard_headers = provider_events::header_map(&[
        ("webhook-id", msg_id.to_owned()),
        (
            "webhook-timestamp",
            field(&input, "/standard/timestamp").to_owned(),
        ),
        (
            "webhook-signature",
            field(&input, "/standard/signature").to_owned(),
        ),
    ]);

    // Each case must accept the generated signature before it is timed.
    verify(&stripe, &stripe_headers, &body, now).expect("Stripe signature accepted");
    let head = parse_head(Source::Stripe, "", &body).expect("Stripe event parsed");
    assert_eq!(head.event_type, "customer.subscription.updated");
    verify(&standard, &standard_headers, &body, now).expect("Standard Webhooks signature accepted");
    parse_head(Source::Generic, msg_id, &body).expect("Standard Webhooks event parsed");

    use std::hint::black_box as b;
    time("stripe_verify_parse", warmup, iterations, rounds, || {
        verify(&stripe, &stripe_headers, b(&body), now).expect("verify");
        b(parse_head(Source::Stripe, "", b(&body)).expect("parse"));
    });
    time("stripe_verify", warmup, iterations, rounds, || {
        verify(&stripe, &stripe_headers, b(&body), now).expect("verify");
    });
    time("standard_verify_parse", warmup, iterations, rounds, || {
        verify(&standard, &standard_headers, b(&body), now).expect("verify");
        b(parse_head(Source::Generic, msg_id, b(&body)).expect("parse"));
    });
}
