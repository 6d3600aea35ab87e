//! Signature costs on realistic bodies of about 1, 3 and 64 KiB (`shared_testkit::provider_events`:
//! real provider event shapes, signed as the provider signs them):
//! - `verify_stripe` / `verify_close` / `verify_standard`: the receiver's `verify` (job secret,
//!   header lookup, the scheme's check on the raw bytes), what the route runs before parsing.
//!   Stripe and Close get their own events; Standard Webhooks gets our own delivery bodies
//!   (what a receiver of our webhooks verifies);
//! - `sign_delivery`: every signature header of one outbound attempt (`outbound_headers`:
//!   the Standard Webhooks signature plus the legacy hex one, so two HMACs), on those same
//!   delivery bodies; `3KiB_during_rotation` signs with both secrets (four HMACs);
//! - `<size>_hmac_floor` in each group, right after the bench it is the floor of (same load):
//!   one bare HMAC-SHA256 (`hmac` + `sha2` crates) over the exact message the scheme MACs.
//!
//! Each verification is checked once, outside the timing, so no bench can time a failure.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::inbound::domain::Source;
use shared::inbound::receive::verify;
use shared::signing::{outbound_headers, WebhookSecret};
use shared_testkit::provider_events::{self, SIZES_KIB};

/// The signed timestamp; `verify` runs with the same `now`, so the tolerance check passes.
const NOW: i64 = 1_700_000_000;

fn body_of(source: Source, kib: usize) -> Vec<u8> {
    match source {
        Source::Stripe => provider_events::stripe_event(kib),
        Source::Close => provider_events::close_event(kib),
        Source::Generic => provider_events::delivery_payload(kib),
    }
}

/// The key and message of the one HMAC each scheme computes (DESIGN §5).
fn mac_input(source: Source, body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let t = NOW.to_string();
    let cat = |parts: &[&[u8]]| parts.concat();
    match source {
        Source::Stripe => (
            provider_events::STRIPE_SECRET.as_bytes().to_vec(),
            cat(&[t.as_bytes(), b".", body]),
        ),
        Source::Close => (
            hex::decode(provider_events::CLOSE_KEY).expect("hex key"),
            cat(&[t.as_bytes(), body]),
        ),
        Source::Generic => {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD
                .decode(&provider_events::STANDARD_SECRET["whsec_".len()..])
                .expect("base64 key");
            let msg = cat(&[
                provider_events::STANDARD_MSG_ID.as_bytes(),
                b".",
                t.as_bytes(),
                b".",
                body,
            ]);
            (key, msg)
        }
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn verifiers(c: &mut Criterion) {
    for (group, source) in [
        ("verify_stripe", Source::Stripe),
        ("verify_close", Source::Close),
        ("verify_standard", Source::Generic),
    ] {
        let job = provider_events::sync_job("ws_bench", source);
        let mut g = c.benchmark_group(group);
        for kib in SIZES_KIB {
            let body = body_of(source, kib);
            let headers =
                provider_events::header_map(&provider_events::signed_headers(source, &body, NOW));
            verify(&job, &headers, &body, NOW).expect("the fixture's signature verifies");
            g.throughput(Throughput::Bytes(body.len() as u64));
            g.bench_function(format!("{kib}KiB"), |b| {
                b.iter(|| verify(&job, &headers, std::hint::black_box(&body), NOW))
            });
            floor_bench(&mut g, source, kib, &body);
        }
        g.finish();
    }
}

/// `{kib}KiB_hmac_floor` in group `g`, right after the bench it is the floor of (so both run
/// under the same load): one bare HMAC over the message `source`'s scheme MACs for `body`,
/// checked once to be the very MAC the sender put in its header.
fn floor_bench(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    source: Source,
    kib: usize,
    body: &[u8],
) {
    use base64::Engine as _;
    let (key, msg) = mac_input(source, body);
    let mac = hmac_sha256(&key, &msg);
    let (hex, b64) = (
        hex::encode(mac),
        base64::engine::general_purpose::STANDARD.encode(mac),
    );
    let sent = provider_events::signed_headers(source, body, NOW);
    assert!(
        sent.iter()
            .any(|(_, v)| v.contains(&hex) || v.contains(&b64)),
        "{source:?} {kib} KiB: the floor computes the signature's MAC"
    );
    g.bench_function(format!("{kib}KiB_hmac_floor"), |b| {
        b.iter(|| hmac_sha256(&key, std::hint::black_box(&msg)))
    });
}

fn signing(c: &mut Criterion) {
    let secret = WebhookSecret::parse(provider_events::STANDARD_SECRET).expect("secret");
    let previous = WebhookSecret::generate();
    let mut g = c.benchmark_group("sign_delivery");
    for kib in SIZES_KIB {
        let body = provider_events::delivery_payload(kib);
        let sign = |previous: Option<&WebhookSecret>| {
            outbound_headers(
                &secret,
                previous,
                "dlv_01jf0000000000000000000000",
                "user.updated",
                NOW,
                std::hint::black_box(&body),
            )
        };
        // What we send is what a Standard Webhooks receiver accepts.
        let sent = sign(None);
        let get = |name: &str| {
            sent.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        shared::signing::verify_standard(
            std::slice::from_ref(&secret),
            get("webhook-id"),
            get("webhook-timestamp"),
            get("webhook-signature"),
            &body,
            NOW,
            300,
        )
        .expect("our signature verifies");
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("{kib}KiB"), |b| b.iter(|| sign(None)));
        floor_bench(&mut g, Source::Generic, kib, &body);
        if kib == 3 {
            g.bench_function("3KiB_during_rotation", |b| b.iter(|| sign(Some(&previous))));
        }
    }
    g.finish();
}

criterion_group!(benches, verifiers, signing);
criterion_main!(benches);
