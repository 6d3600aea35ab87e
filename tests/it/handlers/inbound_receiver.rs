//! The public receiver against the fakes: signatures at the receiver level (DESIGN §5 vectors,
//! good / wrong secret / stale / future / missing / malformed / several v1 / one byte changed),
//! idempotency, filters, status codes.

use shared_testkit::harness::TestApp;

use serde_json::json;
use shared::inbound::domain::{EventStatus, InboundEvent, Source, SyncJob, WebhookConfig};
use shared::queue::QueueName;
use shared::signing;
use shared_testkit::fixtures::{stripe_event, sync_job};
use shared_testkit::harness::{call_raw, Reply};

const STRIPE_SECRET: &str = "whsec_test_secret";
const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";
const STD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

struct Env {
    t: TestApp,
}

shared_testkit::deref_test_app!(Env);

async fn env() -> Env {
    Env {
        t: TestApp::new().await.serve(inbound_receiver::router),
    }
}

/// An environment with a Stripe job and a `customer.updated` event `evt` for it.
async fn stripe_env(evt: &str) -> (Env, SyncJob, Vec<u8>) {
    let e = env().await;
    let job = e.stripe_job().await;
    (e, job, stripe(evt, "customer.updated"))
}

/// The default webhook config with `tweak` applied.
fn config(tweak: impl FnOnce(&mut WebhookConfig)) -> WebhookConfig {
    let mut c = WebhookConfig::default();
    tweak(&mut c);
    c
}

impl Env {
    async fn job(&self, source: Source, secret: &str, config: WebhookConfig) -> SyncJob {
        let job = SyncJob {
            webhook_config: config,
            ..sync_job(&self.ws, source, secret)
        };
        self.app.sync_jobs.create_sync_job(&job).await.unwrap();
        job
    }

    async fn stripe_job(&self) -> SyncJob {
        self.job(Source::Stripe, STRIPE_SECRET, WebhookConfig::default())
            .await
    }

    async fn post(&self, job: &SyncJob, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        call_raw(
            &self.router,
            "POST",
            &format!("/api/webhooks/{}/{}", job.workspace_id, job.id),
            headers,
            body.to_vec(),
        )
        .await
    }

    /// Posts `body` signed now with the Stripe job secret.
    async fn post_signed(&self, job: &SyncJob, body: &[u8]) -> Reply {
        let sig = signing::sign_stripe(STRIPE_SECRET, now(), body);
        self.post(job, &[("stripe-signature", &sig)], body).await
    }

    /// The stored event `provider_id` of `job`, if any.
    async fn stored(&self, job: &SyncJob, provider_id: &str) -> Option<InboundEvent> {
        self.app
            .inbound_events
            .get_event(&self.ws, &job.id, provider_id, now())
            .await
            .unwrap()
    }

    fn inbound_messages(&self) -> usize {
        self.queue.len(QueueName::Inbound)
    }
}

fn now() -> i64 {
    shared::time::now().timestamp()
}

fn stripe(id: &str, ty: &str) -> Vec<u8> {
    let customer = json!({ "id": "cus_1", "object": "customer", "email": "a@example.com" });
    stripe_event(id, ty, now(), customer).into_bytes()
}

fn assert_invalid_signature(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.error_code(), "invalid_signature", "{}", r.body);
}

// --- DESIGN §5 vectors at the receiver ---------------------------------------------------------

#[tokio::test]
async fn stripe_design_vector_passes_the_receivers_signature_check() {
    let e = env().await;
    // The vector is from 2023: its timestamp is only acceptable with the check turned off.
    let unchecked = config(|c| c.tolerance_seconds = 0);
    let job = e.job(Source::Stripe, STRIPE_SECRET, unchecked).await;
    let body = br#"{"id":"evt_test","object":"event"}"#;
    let header = "t=1700000000,v1=8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724";
    assert_eq!(
        signing::sign_stripe(STRIPE_SECRET, 1_700_000_000, body),
        header
    );
    let r = e.post(&job, &[("stripe-signature", header)], body).await;
    // Verified; the vector's body has no `type`, which is the next thing checked.
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error_message().contains("type"));
    let wrong = header.replace("v1=8", "v1=9");
    assert_invalid_signature(&e.post(&job, &[("stripe-signature", &wrong)], body).await);
}

#[tokio::test]
async fn close_design_vector_passes_the_receivers_signature_check() {
    let e = env().await;
    let unchecked = config(|c| c.tolerance_seconds = 0);
    let job = e.job(Source::Close, CLOSE_KEY, unchecked).await;
    let body = br#"{"event": {"id": "ev_4YUAT9G7PQNYEX0V7HpiZa", "date_created": "2019-01-01T13:33:00.842000", "data": {"object_type": "activity.note", "action": "created", "note": "test content"}}, "subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL"}"#;
    let sig = "e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed";
    assert_eq!(
        signing::sign_close(CLOSE_KEY, "1557751596", body).unwrap(),
        sig
    );
    let headers = |ts| [("close-sig-hash", sig), ("close-sig-timestamp", ts)];
    let r = e.post(&job, &headers("1557751596"), body).await;
    // Verified; the vector's event lacks object_type (it sits in data), named in the 400.
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error_message().contains("event.object_type"));
    let r = e.post(&job, &headers("1557751597"), body).await;
    assert_invalid_signature(&r);
}

// --- Stripe signatures -----------------------------------------------------------------------

#[tokio::test]
async fn good_stripe_signature_is_stored_and_enqueued() {
    let (e, job, body) = stripe_env("evt_good").await;
    let sig = signing::sign_stripe(STRIPE_SECRET, now(), &body);
    let r = e
        .post(
            &job,
            &[("stripe-signature", &sig), ("authorization", "Bearer nope")],
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["received"], true);
    let id = r.body["eventId"].as_str().unwrap();
    assert!(id.starts_with("iev_"));
    assert!(r.body.get("duplicate").is_none());
    let stored = e.stored(&job, "evt_good").await.unwrap();
    assert_eq!(stored.id, id);
    assert_eq!(stored.status, EventStatus::Pending);
    assert_eq!(
        stored.raw_body.as_bytes(),
        &body[..],
        "raw body kept byte for byte"
    );
    assert!(stored.headers.contains_key("stripe-signature"));
    assert!(
        !stored.headers.contains_key("authorization"),
        "credentials are not stored"
    );
    let msgs = e.queue.drain(QueueName::Inbound);
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].0.contains(id), "ids only: {}", msgs[0].0);
    assert!(
        !msgs[0].0.contains("a@example.com"),
        "no payload on the queue"
    );
}

#[tokio::test]
async fn wrong_stripe_secret_is_401() {
    let (e, job, body) = stripe_env("evt_1").await;
    let sig = signing::sign_stripe("whsec_other", now(), &body);
    assert_invalid_signature(&e.post(&job, &[("stripe-signature", &sig)], &body).await);
    assert_eq!(e.inbound_messages(), 0);
}

#[tokio::test]
async fn stale_and_future_stripe_timestamps_are_401() {
    let (e, job, body) = stripe_env("evt_1").await;
    for t in [now() - 301, now() + 301] {
        let sig = signing::sign_stripe(STRIPE_SECRET, t, &body);
        assert_invalid_signature(&e.post(&job, &[("stripe-signature", &sig)], &body).await);
    }
    // Inside the tolerance either way is fine.
    let sig = signing::sign_stripe(STRIPE_SECRET, now() - 250, &body);
    let r = e.post(&job, &[("stripe-signature", &sig)], &body).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn missing_stripe_header_is_401() {
    let (e, job, body) = stripe_env("evt_1").await;
    let r = e.post(&job, &[], &body).await;
    assert_invalid_signature(&r);
    assert!(r.error_message().contains("Stripe-Signature"));
}

#[tokio::test]
async fn malformed_stripe_headers_are_401() {
    let (e, job, body) = stripe_env("evt_1").await;
    let good = signing::sign_stripe(STRIPE_SECRET, now(), &body);
    let v1 = good.split(",v1=").nth(1).unwrap().to_owned();
    for bad in [
        "garbage".to_owned(),
        format!("t=abc,v1={v1}"),
        format!("v1={v1}"),
        format!("t={},v1=zz", now()),
        format!("t={},v0={v1}", now()),
    ] {
        assert_invalid_signature(&e.post(&job, &[("stripe-signature", &bad)], &body).await);
    }
}

#[tokio::test]
async fn several_v1_with_one_valid_is_accepted() {
    let (e, job, body) = stripe_env("evt_multi").await;
    let t = now();
    let good = signing::sign_stripe(STRIPE_SECRET, t, &body);
    let good_v1 = good.split(",v1=").nth(1).unwrap();
    let old_v1 = signing::sign_stripe("whsec_rolled_old", t, &body);
    let old_v1 = old_v1.split(",v1=").nth(1).unwrap();
    let header = format!("t={t},v1={old_v1},v1={good_v1},v0=deadbeef");
    let r = e.post(&job, &[("stripe-signature", &header)], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn body_changed_by_one_byte_is_401_and_not_stored() {
    let (e, job, body) = stripe_env("evt_tamper").await;
    let sig = signing::sign_stripe(STRIPE_SECRET, now(), &body);
    let mut tampered = body.clone();
    let i = tampered.iter().position(|b| *b == b'@').unwrap();
    tampered[i] = b'#';
    assert_invalid_signature(&e.post(&job, &[("stripe-signature", &sig)], &tampered).await);
    assert!(e.stored(&job, "evt_tamper").await.is_none());
}

// --- Close and generic -----------------------------------------------------------------------

fn close_event(id: &str) -> Vec<u8> {
    json!({
        "subscription_id": "whsub_1",
        "event": {
            "id": id, "date_created": "2024-01-01T10:00:00.000000", "date_updated": "2024-01-01T10:00:00.000000",
            "object_type": "activity.note", "object_id": "acti_1", "action": "created",
            "data": { "id": "acti_1", "note": "hi" }, "previous_data": {},
        }
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn close_signatures_good_wrong_stale_missing() {
    let e = env().await;
    let job = e
        .job(Source::Close, CLOSE_KEY, WebhookConfig::default())
        .await;
    let body = close_event("ev_1");
    let ts = now().to_string();
    let sig = signing::sign_close(CLOSE_KEY, &ts, &body).unwrap();
    let post = async |hash: &str, ts: &str| {
        let headers = [("close-sig-hash", hash), ("close-sig-timestamp", ts)];
        e.post(&job, &headers, &body).await
    };
    let r = post(&sig, &ts).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = e.stored(&job, "ev_1").await.unwrap();
    assert_eq!(stored.event_type, "activity.note.created");

    let other = signing::sign_close(&"ab".repeat(32), &ts, &body).unwrap();
    assert_invalid_signature(&post(&other, &ts).await);
    let old = (now() - 301).to_string();
    let sig_old = signing::sign_close(CLOSE_KEY, &old, &body).unwrap();
    assert_invalid_signature(&post(&sig_old, &old).await);
    assert_invalid_signature(&e.post(&job, &[("close-sig-hash", &sig)], &body).await);
    assert_invalid_signature(&post("nothex", &ts).await);
}

#[tokio::test]
async fn generic_standard_webhooks_signatures() {
    let e = env().await;
    let job = e
        .job(Source::Generic, STD_SECRET, WebhookConfig::default())
        .await;
    let secret = signing::WebhookSecret::parse(STD_SECRET).unwrap();
    let body = br#"{"type":"user.updated","timestamp":"2024-01-01T00:00:00Z","data":{"id":"u1"}}"#;
    let ts = now();
    let sig = signing::sign(&secret, "msg_1", ts, body);
    let ts_s = ts.to_string();
    let signed = |id| {
        [
            ("webhook-id", id),
            ("webhook-timestamp", ts_s.as_str()),
            ("webhook-signature", sig.as_str()),
        ]
    };
    let r = e.post(&job, &signed("msg_1"), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The same signature under another id does not verify.
    let r = e.post(&job, &signed("msg_2"), body).await;
    assert_invalid_signature(&r);
    let r = e.post(&job, &signed("msg_1")[..2], body).await;
    assert_invalid_signature(&r);
    // DESIGN §5's Standard Webhooks vector, with the timestamp check off.
    let unchecked = config(|c| c.tolerance_seconds = 0);
    let vec_job = e.job(Source::Generic, STD_SECRET, unchecked).await;
    let r = e
        .post(
            &vec_job,
            &[
                ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
                ("webhook-timestamp", "1649367553"),
                (
                    "webhook-signature",
                    "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
                ),
            ],
            br#"{"email":"test@example.com","username":"test_user"}"#,
        )
        .await;
    // Verified; it has no `type`.
    assert_eq!(r.status, 400, "{}", r.body);
}

// --- idempotency, filters, status codes ---------------------------------------------------------

#[tokio::test]
async fn duplicate_answers_the_stored_event_and_is_not_stored_again() {
    let (e, job, body) = stripe_env("evt_dup").await;
    let sig = signing::sign_stripe(STRIPE_SECRET, now(), &body);
    let first = e.post(&job, &[("stripe-signature", &sig)], &body).await;
    let second = e.post(&job, &[("stripe-signature", &sig)], &body).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["duplicate"], true);
    assert_eq!(second.body["eventId"], first.body["eventId"]);
    let page = e
        .app
        .inbound_events
        .list_events(&e.ws, &job.id, None, None, 10, now())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn five_concurrent_copies_store_one_event() {
    let (e, job, body) = stripe_env("evt_race").await;
    let sig = signing::sign_stripe(STRIPE_SECRET, now(), &body);
    let headers = [("stripe-signature", sig.as_str())];
    let replies = futures::future::join_all((0..5).map(|_| e.post(&job, &headers, &body))).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200);
            r.body["eventId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every copy answers the one stored event");
    let dups = replies
        .iter()
        .filter(|r| r.body["duplicate"] == true)
        .count();
    assert_eq!(dups, 4);
}

#[tokio::test]
async fn filtered_out_type_is_stored_as_ignored_and_not_enqueued() {
    let e = env().await;
    let filtered = config(|c| c.event_filters = vec!["customer.*".into()]);
    let job = e.job(Source::Stripe, STRIPE_SECRET, filtered).await;
    let body = stripe("evt_inv", "invoice.paid");
    let r = e.post_signed(&job, &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["ignored"], true);
    assert_eq!(e.inbound_messages(), 0);
    let ev = e.stored(&job, "evt_inv").await.unwrap();
    assert_eq!(ev.status, EventStatus::Ignored);
    // Deeper types match the prefix filter.
    let body = stripe("evt_sub", "customer.subscription.updated");
    let r = e.post_signed(&job, &body).await;
    assert!(r.body.get("ignored").is_none(), "{}", r.body);
    assert_eq!(e.inbound_messages(), 1);
}

#[tokio::test]
async fn batch_wait_becomes_the_sqs_delay() {
    let e = env().await;
    let waiting = config(|c| c.batch_wait_seconds = 30);
    let job = e.job(Source::Stripe, STRIPE_SECRET, waiting).await;
    let body = stripe("evt_w", "customer.updated");
    assert_eq!(e.post_signed(&job, &body).await.status, 200);
    let msgs = e.queue.drain(QueueName::Inbound);
    assert_eq!(msgs[0].1, std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn disabled_job_is_409_unknown_job_404_large_body_413() {
    let e = env().await;
    let mut job = e.stripe_job().await;
    let body = stripe("evt_1", "customer.updated");
    let sig = signing::sign_stripe(STRIPE_SECRET, now(), &body);
    job.enabled = false;
    job.version += 1;
    e.app.sync_jobs.update_sync_job(&job).await.unwrap();
    let r = e.post(&job, &[("stripe-signature", &sig)], &body).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error_code(), "job_disabled");

    let mut unknown = job.clone();
    for id in [
        shared::ids::new_id(shared::ids::SYNC_JOB),
        "job_../../etc".into(),
    ] {
        unknown.id = id;
        let r = e.post(&unknown, &[("stripe-signature", &sig)], &body).await;
        assert_eq!(r.status, 404, "{}", unknown.id);
    }

    let big = vec![b' '; shared::http::MAX_INBOUND_BODY + 1];
    let r = e.post(&job, &[("stripe-signature", &sig)], &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error_code(), "payload_too_large");
}

#[tokio::test]
async fn signed_body_that_is_not_json_is_400_and_not_stored() {
    let e = env().await;
    let job = e.stripe_job().await;
    let r = e.post_signed(&job, b"not json at all").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "invalid_json");
    assert_eq!(e.inbound_messages(), 0);
}

#[tokio::test]
async fn a_body_near_one_mib_is_stored_whole() {
    let e = env().await;
    let job = e.stripe_job().await;
    let filler = "x".repeat(900 * 1024);
    let body = json!({
        "id": "evt_big", "object": "event", "created": now(), "type": "customer.updated",
        "data": { "object": { "id": "cus_big", "object": "customer", "notes": filler } },
    })
    .to_string()
    .into_bytes();
    let r = e.post_signed(&job, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ev = e.stored(&job, "evt_big").await.unwrap();
    assert_eq!(ev.raw_body.len(), body.len());
}

/// DESIGN §8: an event nested deeper than a record can be stored is refused at the door
/// (400 `validation_error`, nothing stored, nothing queued), after its signature verified.
#[tokio::test]
async fn an_event_nested_deeper_than_a_record_may_be_is_refused() {
    let e = env().await;
    let job = e.stripe_job().await;
    let nested = |depth: usize| {
        let inner = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        format!(
            r#"{{"id":"evt_deep_{depth}","object":"event","type":"customer.updated","created":1,"data":{{"object":{{"id":"cus_1","object":"customer","x":{inner}}}}}}}"#
        )
        .into_bytes()
    };
    let mut ok = false;
    // The envelope adds 3 levels: 27 inside is 30 in all, 28 inside is one too many.
    for (inside, status) in [(27, 200), (28, 400)] {
        let body = nested(inside);
        let sig = signing::sign_stripe(STRIPE_SECRET, now(), &body);
        let r = e.post(&job, &[("stripe-signature", &sig)], &body).await;
        assert_eq!(r.status, status, "{inside}: {}", r.body);
        if status == 400 {
            assert_eq!(r.body["error"]["code"], "validation_error");
            assert!(r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("levels"));
        } else {
            ok = true;
        }
    }
    assert!(ok);
    let page = e
        .app
        .inbound_events
        .list_events(&e.ws, &job.id, None, None, 10, now())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "only the acceptable one is stored");
    // A bad signature is still what a deep forgery hears first.
    let body = nested(200);
    let r = e
        .post(&job, &[("stripe-signature", "t=1,v1=00")], &body)
        .await;
    assert_invalid_signature(&r);
}
