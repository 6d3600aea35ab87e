//! Outbound webhook deliveries end to end over moto: booking → outbox → SQS fan-out →
//! one delivery per matching subscription → signed attempts against local targets.
//!
//! - A receiver using the stock Python `standardwebhooks` library verifies our deliveries,
//!   including a retry sent more than 5 minutes after the first attempt, and both signatures
//!   during a secret rotation (`tests/webhook_receiver.py`).
//! - The fault matrix runs against a small raw-TCP target in this file: 500 then success,
//!   always 500, 410, slower than `timeoutMs`, connection reset, 302, a body over 1 KiB.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use shared::config::Config;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::subscriptions::{Delivery, DeliveryFilter};
use shared_testkit::harness::{Api, TestApp};
use shared_testkit::memory::sqs_event;
use shared_testkit::moto::{moto_app, pump_once, MotoApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// --- a scriptable raw-TCP target -------------------------------------------------------------

#[derive(Clone, Debug)]
enum Behaviour {
    Status(u16),
    /// Waits, then answers with the status.
    Slow(Duration, u16),
    /// Closes the connection with a TCP reset after reading the request.
    Reset,
    /// 302 to this location.
    Redirect(String),
    /// 200 with a body of this many bytes.
    LargeBody(usize),
}

#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct FaultState {
    script: Mutex<Vec<Behaviour>>,
    default: Mutex<Option<Behaviour>>,
    requests: Mutex<Vec<Request>>,
}

#[derive(Clone)]
struct FaultTarget {
    base: String,
    state: Arc<FaultState>,
}

impl FaultTarget {
    /// Answers 200 unless scripted.
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(FaultState::default());
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move { serve(stream, st).await });
            }
        });
        FaultTarget { base, state }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// The next requests get these behaviours in order, then the default.
    fn script(&self, behaviours: Vec<Behaviour>) {
        self.state.script.lock().unwrap().extend(behaviours);
    }

    fn set_default(&self, b: Behaviour) {
        *self.state.default.lock().unwrap() = Some(b);
    }

    fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn serve(mut stream: tokio::net::TcpStream, st: Arc<FaultState>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    st.requests.lock().unwrap().push(Request {
        path,
        headers,
        body,
    });
    let behaviour = {
        let mut script = st.script.lock().unwrap();
        if script.is_empty() {
            st.default
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(Behaviour::Status(200))
        } else {
            script.remove(0)
        }
    };
    let respond = |status: u16, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    let reply = match behaviour {
        Behaviour::Status(s) => respond(s, "", "ok"),
        Behaviour::Slow(d, s) => {
            tokio::time::sleep(d).await;
            respond(s, "", "late")
        }
        Behaviour::Reset => {
            // Linger 0 makes the close a TCP reset; with zero it never blocks.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
            return;
        }
        Behaviour::Redirect(to) => respond(302, &format!("location: {to}\r\n"), ""),
        Behaviour::LargeBody(n) => respond(200, "", &"a".repeat(n)),
    };
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

// --- the Python standardwebhooks receiver ------------------------------------------------------

struct Receiver {
    child: Child,
    base: String,
}

impl Receiver {
    fn start(secrets: &[&str]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/it/flows/webhook_receiver.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg("--exit-on-stdin-eof");
        for s in secrets {
            cmd.arg("--secret").arg(s);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 tests/webhook_receiver.py (pip install standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("receiver did not start (is standardwebhooks installed?): {line:?}")
        });
        Receiver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    async fn verdicts(&self) -> Vec<Value> {
        reqwest::get(format!("{}/verdicts", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- environment -----------------------------------------------------------------------------------

struct Env {
    m: MotoApp,
    ws: String,
    bookings: Api,
    hooks: Api,
}

const EXAM: &str = "40577087837";

async fn env() -> Env {
    let m = moto_app().await;
    let (ws, key) = shared_testkit::moto::workspace(&m.app, "w").await;
    let bookings = Api::new(bookings_api::router(m.app.clone()), &key);
    let hooks = Api::new(subscriptions_api::router(m.app.clone()), &key);
    bookings.put_exam(EXAM, 100).await;
    Env {
        m,
        ws,
        bookings,
        hooks,
    }
}

/// A fault target set up by `behave`, subscribed to with `extra` settings; one booking made
/// and the delivery queue drained: the environment, the target and the subscription.
async fn one_delivery(
    behave: impl FnOnce(&FaultTarget),
    extra: Value,
) -> (Env, FaultTarget, Value) {
    let e = env().await;
    let target = FaultTarget::start().await;
    behave(&target);
    let w = e.subscribe(&target.url("hook"), extra).await;
    e.book("contact-1").await;
    e.drain().await;
    (e, target, w)
}

impl Env {
    /// Creates a subscription; returns its JSON (with the secret).
    async fn subscribe(&self, url: &str, extra: Value) -> Value {
        let mut body = json!({ "name": "CRM", "url": url, "events": ["booking.created"] });
        if let (Some(b), Value::Object(x)) = (body.as_object_mut(), extra) {
            b.extend(x);
        }
        let r = self.hooks.post("/api/admin/webhooks", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["webhook"].clone()
    }

    async fn patch(&self, id: &str, body: Value) -> Value {
        let r = self
            .hooks
            .patch(&format!("/api/admin/webhooks/{id}"), body)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["webhook"].clone()
    }

    async fn webhook(&self, id: &str) -> Value {
        let r = self.hooks.get(&format!("/api/admin/webhooks/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    async fn book(&self, contact: &str) -> Value {
        let body = json!({ "mockExamId": EXAM, "contactId": contact });
        let r = self.bookings.post("/api/bookings", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["booking"].clone()
    }

    /// The newest delivery of subscription `w`.
    async fn first_delivery(&self, w: &Value) -> Delivery {
        let filter = DeliveryFilter::subscription(&id_of(w));
        self.m
            .app
            .deliveries
            .list_deliveries(&self.ws, &filter, None, 1)
            .await
            .unwrap()
            .items[0]
            .clone()
    }

    /// The delivery-queue message that runs delivery `d`.
    fn delivery_message(&self, d: &Delivery) -> String {
        serde_json::to_string(&QueueEnvelope::now(QueueMessage::Delivery {
            workspace_id: self.ws.clone(),
            delivery_id: d.id.clone(),
        }))
        .unwrap()
    }

    async fn rotate_secret(&self, w: &Value) -> shared_testkit::harness::Reply {
        let path = format!("/api/admin/webhooks/{}/rotate-secret", id_of(w));
        self.hooks.post(&path, None).await
    }

    /// Runs the delivery queue like the Lambda event source until it stays empty.
    async fn drain(&self) {
        let runner = delivery_worker::runner(self.m.app.clone());
        for _ in 0..60 {
            let n = pump_once(&self.m.sqs, &self.m.delivery_queue_url, |ev| runner.run(ev)).await;
            if n == 0 {
                return;
            }
        }
        panic!("the delivery queue did not drain");
    }

    /// Only the fan-out step: the delivery messages it enqueues are left on the queue.
    async fn pump_one_round(&self) -> usize {
        let runner = delivery_worker::runner(self.m.app.clone());
        pump_once(&self.m.sqs, &self.m.delivery_queue_url, |ev| runner.run(ev)).await
    }
}

fn id_of(w: &Value) -> String {
    w["id"].as_str().unwrap().to_owned()
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect()
}

// --- signatures, verified by the stock Python library ----------------------------------------

#[tokio::test]
async fn a_booking_is_delivered_signed_and_the_standardwebhooks_library_verifies_it() {
    let e = env().await;
    let w = e
        .subscribe("http://127.0.0.1:9/placeholder", json!({}))
        .await;
    let secret = w["secret"].as_str().unwrap().to_owned();
    let receiver = Receiver::start(&[&secret]);
    e.patch(&id_of(&w), json!({ "url": receiver.url() })).await;

    let booking = e.book("contact-1").await;
    e.drain().await;

    let verdicts = receiver.verdicts().await;
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    let v = &verdicts[0];
    assert_eq!(v["standard"][0]["ok"], true, "{v}");
    assert_eq!(v["legacy"]["x-webhook-signature"], json!([true]), "{v}");
    assert_eq!(v["event"], "booking.created");
    let payload: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
    assert_eq!(payload["event"], "booking.created");
    assert_eq!(payload["data"]["booking"]["id"], booking["id"]);
    assert_eq!(payload["data"]["booking"]["status"], "active");
    assert_eq!(payload["data"]["user"], Value::Null);
    assert_eq!(payload["metadata"]["action"], "created");
    assert_eq!(payload["metadata"]["workspaceId"], e.ws.as_str());
    assert!(payload["metadata"]["eventId"]
        .as_str()
        .unwrap()
        .starts_with("msg_"));
    assert!(shared::time::parse(payload["timestamp"].as_str().unwrap()).is_some());

    let got = e.webhook(&id_of(&w)).await;
    let hook = &got["webhook"];
    assert_eq!(hook["successCount"], 1);
    assert_eq!(hook["failedCount"], 0);
    assert_eq!(hook["lastDeliveryStatus"], "success");
    assert!(hook["lastDeliveryAt"].is_string());
    let d = &got["deliveries"][0];
    assert_eq!(d["id"], v["webhookId"], "webhook-id is the delivery id");
    assert_eq!(d["status"], "success");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["statusCode"], 200);
    assert_eq!(d["responseBody"], "verified");
    assert_eq!(d["attemptLog"][0]["attempt"], 1);
}

#[tokio::test]
async fn a_retry_more_than_five_minutes_after_the_first_attempt_still_verifies() {
    let e = env().await;
    let w = e
        .subscribe(
            "http://127.0.0.1:9/placeholder",
            json!({ "retryAttempts": 3, "events": ["booking.completed"] }),
        )
        .await;
    let secret = w["secret"].as_str().unwrap().to_owned();
    let receiver = Receiver::start(&[&secret]);
    e.patch(&id_of(&w), json!({ "url": receiver.url() })).await;
    // An event and its delivery from 6 minutes ago, whose first attempt ran then (its clock
    // says so): that attempt's signature is 6 minutes old when it arrives, and the receiver
    // rejects it as the library should.
    let six_minutes_ago = shared::time::now() - chrono::Duration::minutes(6);
    let booking = e.book("contact-1").await;
    let event = shared::bookings::events::booking_only(
        shared::bookings::events::BOOKING_COMPLETED,
        &serde_json::from_value(booking).unwrap(),
        &shared::time::format(six_minutes_ago),
    );
    let payload = shared::subscriptions::payload_body(&e.ws, &event, "api").unwrap();
    let delivery = shared::subscriptions::Delivery::pending(
        &e.ws,
        &id_of(&w),
        &event,
        payload,
        six_minutes_ago,
        30,
    );
    let delivery_id = delivery.id.clone();
    assert!(e.m.app.deliveries.create_delivery(&delivery).await.unwrap());
    shared::subscriptions::delivery::run_at(&e.m.app, &e.ws, &delivery_id, six_minutes_ago)
        .await
        .unwrap();
    // The retry runs now and is signed with its own, fresh timestamp.
    e.drain().await;

    let verdicts = receiver.verdicts().await;
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert_eq!(verdicts[0]["standard"][0]["ok"], false);
    assert_eq!(
        verdicts[0]["standard"][0]["error"],
        "Message timestamp too old"
    );
    assert_eq!(verdicts[1]["standard"][0]["ok"], true, "{}", verdicts[1]);
    assert_eq!(
        verdicts[0]["webhookId"], verdicts[1]["webhookId"],
        "webhook-id is stable"
    );
    assert_eq!(
        verdicts[0]["body"], verdicts[1]["body"],
        "body is byte-identical"
    );
    let t0: i64 = verdicts[0]["timestamp"].as_str().unwrap().parse().unwrap();
    let t1: i64 = verdicts[1]["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        t1 - t0 >= 355,
        "the retry carries its own timestamp ({t0} → {t1})"
    );

    let d =
        e.m.app
            .deliveries
            .get_delivery(&e.ws, &delivery_id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(d.status, shared::subscriptions::DeliveryStatus::Success);
    assert_eq!(d.attempts, 2);
    assert_eq!(d.attempt_log[0].status_code, Some(401));
    assert_eq!(d.attempt_log[1].status_code, Some(200));
}

#[tokio::test]
async fn during_a_rotation_both_secrets_verify() {
    let e = env().await;
    let w = e
        .subscribe("http://127.0.0.1:9/placeholder", json!({}))
        .await;
    let old = w["secret"].as_str().unwrap().to_owned();
    let r = e.rotate_secret(&w).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new = r.body["webhook"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    let receiver = Receiver::start(&[&old, &new]);
    e.patch(&id_of(&w), json!({ "url": receiver.url() })).await;
    e.book("contact-1").await;
    e.drain().await;

    let verdicts = receiver.verdicts().await;
    assert_eq!(verdicts.len(), 1);
    let v = &verdicts[0];
    // Standard Webhooks: a receiver holding either secret verifies.
    assert_eq!(v["standard"][0]["ok"], true, "old secret: {v}");
    assert_eq!(v["standard"][1]["ok"], true, "new secret: {v}");
    // Legacy: the newest secret in X-Webhook-Signature, the old one in …-Previous.
    assert_eq!(v["legacy"]["x-webhook-signature"], json!([false, true]));
    assert_eq!(
        v["legacy"]["x-webhook-signature-previous"],
        json!([true, false])
    );
}

#[tokio::test]
async fn after_the_overlap_only_the_new_secret_signs() {
    let e = env().await;
    let target = FaultTarget::start().await;
    let w = e.subscribe(&target.url("hook"), json!({})).await;
    e.rotate_secret(&w).await;
    e.book("contact-1").await;
    assert!(e.pump_one_round().await >= 1);
    let d = e.first_delivery(&w).await;
    let later = shared::time::now() + chrono::Duration::hours(25);
    shared::subscriptions::delivery::run_at(&e.m.app, &e.ws, &d.id, later)
        .await
        .unwrap();
    let req = &target.requests()[0];
    assert_eq!(req.headers["webhook-signature"].split(' ').count(), 1);
    assert!(!req.headers.contains_key("x-webhook-signature-previous"));
    assert_eq!(
        req.headers["webhook-timestamp"],
        later.timestamp().to_string()
    );
}

// --- fault matrix -------------------------------------------------------------------------------

#[tokio::test]
async fn a_500_then_success_delivers_on_the_retry_with_the_same_id_and_body() {
    let (e, target, w) = one_delivery(
        |t| t.script(vec![Behaviour::Status(500)]),
        json!({ "retryAttempts": 3 }),
    )
    .await;

    let reqs = target.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].headers["webhook-id"], reqs[1].headers["webhook-id"]);
    assert_eq!(
        reqs[0].headers["x-webhook-delivery"],
        reqs[0].headers["webhook-id"]
    );
    assert_eq!(reqs[0].body, reqs[1].body, "byte-identical body");
    assert_eq!(reqs[0].headers["user-agent"], shared::outbound::USER_AGENT);
    assert_eq!(reqs[0].headers["content-type"], "application/json");
    let got = e.webhook(&id_of(&w)).await;
    let d = &got["deliveries"][0];
    assert_eq!(d["status"], "success");
    assert_eq!(d["attempts"], 2);
    assert_eq!(statuses(d), vec![json!(500), json!(200)]);
    assert_eq!(d["attemptLog"][0]["error"], "http status 500");
    assert_eq!(d["nextAttemptAt"], Value::Null);
    assert_eq!(got["webhook"]["successCount"], 1);
    assert_eq!(got["webhook"]["failedCount"], 0);
    assert_eq!(got["webhook"]["consecutiveFailures"], 0);
}

#[tokio::test]
async fn always_500_fails_after_every_retry_and_disables_after_max_consecutive_failures() {
    let (e, target, w) = one_delivery(
        |t| t.set_default(Behaviour::Status(500)),
        json!({ "retryAttempts": 2, "maxConsecutiveFailures": 2 }),
    )
    .await;
    assert_eq!(target.requests().len(), 3, "1 + retryAttempts calls");
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["deliveries"][0]["status"], "failed");
    assert_eq!(got["deliveries"][0]["attempts"], 3);
    assert_eq!(got["webhook"]["failedCount"], 1);
    assert_eq!(got["webhook"]["consecutiveFailures"], 1);
    assert_eq!(got["webhook"]["active"], true);

    e.book("contact-2").await;
    e.drain().await;
    assert_eq!(target.requests().len(), 6);
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["webhook"]["active"], false);
    assert_eq!(got["webhook"]["failedCount"], 2);
    assert_eq!(got["webhook"]["lastDeliveryStatus"], "failed");
    assert!(
        got["webhook"]["disabledReason"]
            .as_str()
            .unwrap()
            .contains("2 consecutive failed deliveries"),
        "{}",
        got["webhook"]
    );

    // Disabled: the next event is not delivered at all.
    e.book("contact-3").await;
    e.drain().await;
    assert_eq!(target.requests().len(), 6);

    // Re-enabled and recovered: the failed deliveries go out again (the target is back).
    target.set_default(Behaviour::Status(200));
    let w2 = e.patch(&id_of(&w), json!({ "active": true })).await;
    assert_eq!(w2["disabledReason"], Value::Null);
    assert_eq!(w2["consecutiveFailures"], 0);
    let r = e
        .hooks
        .post(
            &format!("/api/admin/webhooks/{}/recover", id_of(&w)),
            json!({ "since": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["recovered"], 2);
    e.drain().await;
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["webhook"]["successCount"], 2);
    let statuses: Vec<&str> = got["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["success", "success"]);
    assert_eq!(
        got["deliveries"][0]["attempts"], 4,
        "attempt numbers continue across rounds"
    );
}

#[tokio::test]
async fn a_410_fails_the_delivery_and_disables_the_webhook_at_once() {
    let (e, target, w) = one_delivery(
        |t| t.set_default(Behaviour::Status(410)),
        json!({ "retryAttempts": 5 }),
    )
    .await;
    assert_eq!(target.requests().len(), 1, "no retry after 410");
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["webhook"]["active"], false);
    assert!(got["webhook"]["disabledReason"]
        .as_str()
        .unwrap()
        .contains("410"));
    assert_eq!(got["webhook"]["failedCount"], 1);
    assert_eq!(got["deliveries"][0]["status"], "failed");
    assert_eq!(got["deliveries"][0]["statusCode"], 410);
}

#[tokio::test]
async fn a_target_slower_than_timeout_ms_is_a_failed_attempt() {
    let (e, _target, w) = one_delivery(
        |t| t.set_default(Behaviour::Slow(Duration::from_millis(2500), 200)),
        json!({ "retryAttempts": 0, "timeoutMs": 1000 }),
    )
    .await;
    let d = &e.webhook(&id_of(&w)).await["deliveries"][0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["statusCode"], Value::Null);
    assert!(d["error"].as_str().unwrap().contains("timed out"), "{d}");
    let ms = d["durationMs"].as_u64().unwrap();
    assert!((1000..2400).contains(&ms), "{ms}");
}

#[tokio::test]
async fn a_connection_reset_is_a_failed_attempt_then_retried() {
    let (e, _target, w) = one_delivery(
        |t| t.script(vec![Behaviour::Reset]),
        json!({ "retryAttempts": 1 }),
    )
    .await;
    let d = &e.webhook(&id_of(&w)).await["deliveries"][0];
    assert_eq!(d["status"], "success");
    assert_eq!(statuses(d), vec![Value::Null, json!(200)]);
    let err = d["attemptLog"][0]["error"].as_str().unwrap();
    assert!(!err.is_empty(), "{d}");
}

#[tokio::test]
async fn a_302_is_not_followed() {
    let elsewhere = FaultTarget::start().await;
    let (e, _target, w) = one_delivery(
        |t| t.set_default(Behaviour::Redirect(elsewhere.url("moved"))),
        json!({ "retryAttempts": 0 }),
    )
    .await;
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
    let d = &e.webhook(&id_of(&w)).await["deliveries"][0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["statusCode"], 302);
    assert_eq!(d["error"], "redirect not followed (302)");
}

#[tokio::test]
async fn a_response_body_over_1_kib_is_truncated_in_the_log() {
    let (e, _target, w) = one_delivery(
        |t| t.set_default(Behaviour::LargeBody(64 * 1024)),
        json!({}),
    )
    .await;
    let d = &e.webhook(&id_of(&w)).await["deliveries"][0];
    assert_eq!(d["status"], "success");
    assert_eq!(d["responseBody"].as_str().unwrap().len(), 1024);
    assert_eq!(
        d["attemptLog"][0]["responseBody"].as_str().unwrap().len(),
        1024
    );
}

// --- fan-out ------------------------------------------------------------------------------------

#[tokio::test]
async fn only_matching_active_subscriptions_of_the_workspace_receive_each_event() {
    let e = env().await;
    let target = FaultTarget::start().await;
    e.subscribe(&target.url("all"), json!({ "events": ["*"] }))
        .await;
    e.subscribe(&target.url("bookings"), json!({ "events": ["booking.*"] }))
        .await;
    e.subscribe(&target.url("qr"), json!({ "events": ["qr.*"] }))
        .await;
    e.subscribe(
        &target.url("exam"),
        json!({ "events": ["mock_exam.bookings_changed"] }),
    )
    .await;
    e.subscribe(
        &target.url("off"),
        json!({ "events": ["*"], "active": false }),
    )
    .await;
    // Another workspace's subscription never sees this workspace's events.
    let (_ws2, key2) = shared_testkit::moto::workspace(&e.m.app, "other").await;
    let r = e
        .hooks
        .with_key(&key2)
        .post(
            "/api/admin/webhooks",
            json!({ "name": "x", "url": target.url("foreign"), "events": ["*"] }),
        )
        .await;
    assert_eq!(r.status, 201);

    let booking = e.book("contact-1").await;
    let id = booking["id"].as_str().unwrap();
    for (path, body) in [
        ("complete", None),
        ("qr/scan", Some(json!({ "scannedBy": "staff-1" }))),
    ] {
        let r = e
            .bookings
            .post(&format!("/api/bookings/{id}/{path}"), body)
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    e.drain().await;

    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    for r in target.requests() {
        got.entry(r.path.clone())
            .or_default()
            .push(r.headers["x-webhook-event"].clone());
    }
    for v in got.values_mut() {
        v.sort();
    }
    assert_eq!(
        got.get("/all").cloned().unwrap_or_default(),
        vec![
            "booking.completed",
            "booking.created",
            "booking.updated",
            "mock_exam.bookings_changed",
            "qr.scanned"
        ]
    );
    assert_eq!(
        got.get("/qr").cloned().unwrap_or_default(),
        vec!["qr.scanned"]
    );
    assert_eq!(
        got.get("/bookings").cloned().unwrap_or_default(),
        // The scan is also a booking change (DESIGN §8).
        vec!["booking.completed", "booking.created", "booking.updated"]
    );
    assert_eq!(
        got.get("/exam").cloned().unwrap_or_default(),
        vec!["mock_exam.bookings_changed"]
    );
    assert!(!got.contains_key("/off"));
    assert!(!got.contains_key("/foreign"));
    // The payload of mock_exam.bookings_changed carries the exam.
    let exam_event = target
        .requests()
        .into_iter()
        .find(|r| r.path == "/exam")
        .unwrap();
    assert_eq!(exam_event.json()["data"]["mockExam"]["id"], EXAM);
    assert_eq!(exam_event.json()["data"]["mockExam"]["totalBookings"], 1);
}

#[tokio::test]
async fn fanning_out_the_same_record_twice_delivers_once() {
    let e = env().await;
    let target = FaultTarget::start().await;
    let w = e.subscribe(&target.url("hook"), json!({})).await;
    e.book("contact-1").await;
    // Capture the fan-out message, then run it twice (a duplicate SQS delivery).
    let resp =
        e.m.sqs
            .receive_message()
            .queue_url(&e.m.delivery_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
    let bodies: Vec<String> = resp
        .messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .filter(|b| b.contains("fan_out"))
        .collect();
    assert_eq!(bodies.len(), 1);
    let runner = delivery_worker::runner(e.m.app.clone());
    for _ in 0..2 {
        let r = runner.run(sqs_event([&bodies[0]], 1)).await;
        assert!(r.batch_item_failures.is_empty());
    }
    e.drain().await;
    assert_eq!(target.requests().len(), 1);
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(got["webhook"]["successCount"], 1);
}

#[tokio::test]
async fn duplicate_delivery_messages_send_one_call() {
    let e = env().await;
    let target = FaultTarget::start().await;
    target.set_default(Behaviour::Slow(Duration::from_millis(300), 200));
    let w = e.subscribe(&target.url("hook"), json!({})).await;
    e.book("contact-1").await;
    assert!(e.pump_one_round().await >= 1);
    let d = e.first_delivery(&w).await;
    let msg = e.delivery_message(&d);
    let runner = delivery_worker::runner(e.m.app.clone());
    let r = runner.run(sqs_event([&msg, &msg, &msg], 1)).await;
    assert!(r.batch_item_failures.is_empty());
    e.drain().await;
    assert_eq!(target.requests().len(), 1);
    let d =
        e.m.app
            .deliveries
            .get_delivery(&e.ws, &d.id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(d.attempts, 1);
}

#[tokio::test]
async fn a_delivery_whose_webhook_was_disabled_meanwhile_fails_without_a_call() {
    let e = env().await;
    let target = FaultTarget::start().await;
    let w = e.subscribe(&target.url("hook"), json!({})).await;
    e.book("contact-1").await;
    assert!(e.pump_one_round().await >= 1);
    e.patch(&id_of(&w), json!({ "active": false })).await;
    e.drain().await;
    assert!(target.requests().is_empty());
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["deliveries"][0]["status"], "failed");
    assert!(got["deliveries"][0]["error"]
        .as_str()
        .unwrap()
        .contains("disabled"));
    assert_eq!(
        got["webhook"]["failedCount"], 0,
        "not the endpoint's failure"
    );
}

#[tokio::test]
async fn a_delivery_message_on_its_last_receive_marks_the_delivery_failed() {
    let e = env().await;
    let target = FaultTarget::start().await;
    let w = e.subscribe(&target.url("hook"), json!({})).await;
    e.book("contact-1").await;
    assert!(e.pump_one_round().await >= 1);
    let d = e.first_delivery(&w).await;
    let msg = e.delivery_message(&d);
    let record = shared::sqs_runner::SqsRecord {
        message_id: "m".into(),
        body: msg,
        receive_count: 5,
    };
    let runner = delivery_worker::runner(e.m.app.clone());
    let envelope: QueueEnvelope = serde_json::from_str(&record.body).unwrap();
    shared::sqs_runner::RecordHandler::on_final_failure(
        runner.handler(),
        Some(&envelope),
        &record,
        "boom",
    )
    .await;
    let got = e.webhook(&id_of(&w)).await;
    assert_eq!(got["deliveries"][0]["status"], "failed");
    assert!(got["deliveries"][0]["error"]
        .as_str()
        .unwrap()
        .contains("dead-letter"));
    assert_eq!(got["webhook"]["failedCount"], 1);
}

// --- retry timing (fakes: the queue shows the delays) ------------------------------------------

#[tokio::test]
async fn retry_delays_double_with_jitter_and_chain_past_900_seconds() {
    let mut config = Config::for_tests("t", "q");
    config.retry_delay_scale = 1.0;
    let t = TestApp::with_config(config)
        .await
        .serve(subscriptions_api::router);
    let (app, queue, ws) = (&t.app, &t.queue, t.ws.clone());
    let target = FaultTarget::start().await;
    target.set_default(Behaviour::Status(503));
    let r = t
        .post(
            "/api/admin/webhooks",
            json!({ "name": "n", "url": target.url("h"), "events": ["*"], "retryAttempts": 3, "retryDelay": 600 }),
        )
        .await;
    let sub = id_of(&r.body["webhook"]);
    let event =
        shared::outbox::DomainEvent::new("booking.created", json!({}), &shared::time::now_string());
    let payload = shared::subscriptions::payload_body(&ws, &event, "api").unwrap();
    let d = shared::subscriptions::Delivery::pending(
        &ws,
        &sub,
        &event,
        payload,
        shared::time::now(),
        30,
    );
    app.deliveries.create_delivery(&d).await.unwrap();

    // Call 1 fails: retry 1 waits 600 s ±20 % (one SQS delay).
    shared::subscriptions::delivery::run(app, &ws, &d.id)
        .await
        .unwrap();
    let msgs = queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1);
    let env1: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    assert!(
        (480..=720).contains(&msgs[0].1.as_secs()),
        "{:?}",
        msgs[0].1
    );
    assert_eq!(env1.not_before, None);

    // Call 2 (clock moved to when it is due) fails: retry 2 waits 1200 s ±20 % — chained.
    let due = shared::time::parse(
        app.deliveries
            .get_delivery(&ws, &d.id)
            .await
            .unwrap()
            .unwrap()
            .next_attempt_at
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    shared::subscriptions::delivery::run_at(app, &ws, &d.id, due)
        .await
        .unwrap();
    let msgs = queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0].1,
        Duration::from_secs(900),
        "SQS delays stop at 900 s"
    );
    let env2: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    let wait = env2.not_before.unwrap() - shared::time::now().timestamp();
    assert!(
        (900..=1500).contains(&wait),
        "chained remaining wait {wait}"
    );
    let stored = app
        .deliveries
        .get_delivery(&ws, &d.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.attempts, 2);
    assert_eq!(
        stored.status,
        shared::subscriptions::DeliveryStatus::Pending
    );

    // A message arriving before the attempt is due is put back, not sent early.
    shared::subscriptions::delivery::run(app, &ws, &d.id)
        .await
        .unwrap();
    assert_eq!(target.requests().len(), 2);
    assert_eq!(queue.drain(QueueName::Delivery).len(), 1);
}
