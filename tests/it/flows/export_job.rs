//! Export jobs end to end over moto: DynamoDB users, the export queue on SQS, the export
//! worker's batch runner, S3 multipart upload, the presigned download, and the audit record
//! whose SHA-256 must equal the downloaded bytes'. Memory is measured as the growth of the
//! process's peak RSS during the job (`/proc/self/clear_refs` resets the peak first).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use shared::config::Config;
use shared::queue::QueueName;
use shared::users::{User, UserInput};
use shared::App;
use shared_aws::sqs::SqsQueue;
use shared_testkit::harness::{workspace, Api};
use shared_testkit::moto::{
    batch_put, fresh_bucket, fresh_queue, fresh_store, pump_once, s3_blob_store, s3_client,
    sqs_client,
};

/// Memory figures are per process: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Stack {
    app: App,
    api: Api,
    sqs: aws_sdk_sqs::Client,
    export_queue: String,
    ws: String,
}

async fn stack_over(store: Arc<impl shared::app::Stores>, table: &str) -> Stack {
    let sqs = sqs_client().await;
    let delivery = fresh_queue(&sqs, 30).await;
    let export_queue = fresh_queue(&sqs, 60).await;
    let s3 = s3_client().await;
    let bucket = fresh_bucket(&s3).await;
    let queue = SqsQueue::new(
        sqs.clone(),
        HashMap::from([
            (QueueName::Delivery, delivery.clone()),
            (QueueName::Export, export_queue.clone()),
        ]),
    );
    let app = App::new(Config::for_tests(table, &delivery), store, Arc::new(queue))
        .with_blobs(Arc::new(s3_blob_store(s3, &bucket)));
    let (ws, key) = workspace(&app, "exports").await;
    let api = Api::new(users_api::router(app.clone()), &key);
    Stack {
        app,
        api,
        sqs,
        export_queue,
        ws,
    }
}

fn user(i: usize) -> User {
    let input: UserInput = serde_json::from_value(json!({
        "firstName": format!("First{i}"),
        "lastName": format!("Last \"{i}\", the {}", if i.is_multiple_of(7) { "=SUM(A1)" } else { "plain" }),
        "email": format!("user{i}@example.com"),
        "phone": format!("+1 555 {i:06}"),
        "instagramUsername": format!("insta_{i}"),
        "tags": if i.is_multiple_of(3) { vec!["vip", "newsletter"] } else { vec!["newsletter"] },
        "exportConsent": {"given": i.is_multiple_of(2)},
        "optIns": {"messenger": true, "whatsapp": i.is_multiple_of(5)},
        "customFields": {"favorite_drink": "Cappuccino", "visit_count": (i % 50).to_string()},
    }))
    .unwrap();
    let mut u = input.create("2026-01-01T00:00:00.000Z").unwrap();
    // Distinct, ordered creation times.
    let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap()
        + chrono::Duration::milliseconds(i as i64);
    u.created_at = shared::time::format(t.with_timezone(&chrono::Utc));
    u.updated_at = u.created_at.clone();
    u
}

/// Writes users with BatchWriteItem (moto's transactions slow down with table size,
/// DESIGN §7): the user items and their index entries, exactly as the adapter stores them.
async fn seed_dynamo(store: &shared_aws::table::DynamoStore, ws: &str, n: usize) {
    use shared_aws::users::{entry_item, index_entries, user_item};
    let mut requests = Vec::new();
    for i in 0..n {
        let u = user(i);
        requests.push(user_item(ws, &u).unwrap());
        for k in index_entries(ws, &u) {
            requests.push(entry_item(&k, &u.id));
        }
    }
    let mut counter = shared_aws::table::key_attrs(&shared_aws::keys::user_counter(ws));
    counter.insert("users".into(), shared_aws::table::n(n as i64));
    requests.push(counter);
    batch_put(store, &requests).await;
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak() {
    // "5" resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Asks for an async export, runs the worker on the export queue, downloads the file.
async fn run_export_job(s: &Stack, query: &str) -> (Value, Vec<u8>, Duration, u64) {
    let r = s
        .api
        .get(&format!("/api/admin/export/users/csv?async=true&{query}"))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.str_at("/export/id");
    let runner = export_worker::runner(s.app.clone());
    let base = rss_kib("VmRSS:");
    reset_peak();
    let started = Instant::now();
    let mut handled = 0;
    for _ in 0..10 {
        handled += pump_once(&s.sqs, &s.export_queue, |ev| runner.run(ev)).await;
        if handled > 0 {
            break;
        }
    }
    let took = started.elapsed();
    let peak_growth = rss_kib("VmHWM:").saturating_sub(base);
    assert_eq!(handled, 1, "the job message was consumed");
    let r = s.api.get(&format!("/api/admin/exports/{id}")).await;
    let ex = r.body["export"].clone();
    assert_eq!(ex["status"], "done", "{ex}");
    let url = ex["downloadUrl"].as_str().unwrap().to_owned();
    let bytes = reqwest::get(&url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    (ex, bytes, took, peak_growth)
}

#[tokio::test(flavor = "multi_thread")]
async fn export_job_on_10000_users_streams_to_s3_with_the_audited_hash_and_bounded_memory() {
    let _serial = SERIAL.lock().await;
    let store = Arc::new(fresh_store().await);
    let table = store.table().to_owned();
    let s = stack_over(store.clone(), &table).await;
    let seeding = Instant::now();
    seed_dynamo(&store, &s.ws, 10_000).await;
    eprintln!("seeded 10000 users in {:?}", seeding.elapsed());

    let (ex, bytes, took, growth) = run_export_job(&s, "").await;
    eprintln!(
        "export job: 10000 users, {} bytes in {took:?}, peak RSS growth {growth} KiB",
        bytes.len()
    );
    assert_eq!(ex["rowCount"], 10_000);
    assert_eq!(
        ex["sha256"],
        sha(&bytes),
        "audited hash = hash of the downloaded bytes"
    );
    assert_eq!(ex["bytes"], bytes.len());
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(&rows[0][1], "First9999", "newest first");
    assert!(rows.iter().filter(|r| r[2].starts_with("Last")).count() == 10_000);
    // Bounded: the job holds one store page and one 8 MiB part, not the file.
    assert!(growth < 64 * 1024, "peak RSS grew by {growth} KiB");

    // Consent-filtered job: only consenting users, and the audit says which filter ran.
    let (ex, bytes, _, _) = run_export_job(&s, "exportConsentOnly=true&limit=1000").await;
    assert_eq!(ex["rowCount"], 1_000);
    assert_eq!(ex["filters"]["exportConsentOnly"], true);
    assert_eq!(ex["sha256"], sha(&bytes));
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    assert!(rdr.records().map(Result::unwrap).all(|r| &r[15] == "true"));

    // Direct export over the same data: the header hash equals the bytes served, and the
    // audit lists every export (two jobs + this one).
    let r = s
        .api
        .get("/api/admin/export/users/csv?hasTag=vip&limit=500")
        .await;
    assert_eq!(r.status, 200);
    let listed = s.api.get("/api/admin/exports").await;
    let exports = listed.body["exports"].as_array().unwrap().clone();
    assert_eq!(exports.len(), 3);
    assert_eq!(exports[0]["mode"], "direct");
    assert_eq!(exports[0]["rowCount"], 500);
    assert_eq!(
        exports[0]["sha256"].as_str().unwrap(),
        r.headers["x-export-sha256"].to_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_direct_export_past_the_response_cap_becomes_a_job() {
    let _serial = SERIAL.lock().await;
    let store = Arc::new(shared_testkit::memory::MemoryStore::new());
    let s = stack_over(store.clone(), "unused").await;
    seed_fake(&store, &s.ws, 12_000).await;
    let r = s.api.get("/api/admin/export/users/json").await;
    assert_eq!(r.status, 202, "a JSON export of 12,000 users exceeds 5 MB");
    assert_eq!(r.body["export"]["status"], "pending");
    assert_eq!(r.body["export"]["mode"], "job");
}

async fn seed_fake(store: &shared_testkit::memory::MemoryStore, ws: &str, n: usize) {
    use shared::users::UserStore;
    for i in 0..n {
        let u = user(i);
        store
            .create_user(
                ws,
                &u,
                &shared::outbox::OutboxRecord::new(ws, &u.created_at),
            )
            .await
            .unwrap();
    }
}

/// The figure for the report: `USERS_N` users (default 100,000) in the in-memory store
/// (seeded before the measurement starts), S3 on moto. Run with
/// `cargo test -p integration-tests --test export_job -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "takes minutes; run for the memory/time figure"]
async fn export_job_memory_and_time_at_scale() {
    let _serial = SERIAL.lock().await;
    let n: usize = std::env::var("USERS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let store = Arc::new(shared_testkit::memory::MemoryStore::new());
    let s = stack_over(store.clone(), "unused").await;
    seed_fake(&store, &s.ws, n).await;
    let (ex, bytes, took, growth) = run_export_job(&s, "").await;
    eprintln!(
        "export job: {n} users, {} bytes, {took:?}, peak RSS growth {growth} KiB",
        bytes.len()
    );
    assert_eq!(ex["rowCount"], n);
    assert_eq!(ex["sha256"], sha(&bytes));
}
