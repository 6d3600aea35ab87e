//! Contract of `IntegrationStore`: every behaviour is written once and runs against the
//! in-memory fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use shared::integrations::ports::IntegrationStore;
use shared::integrations::{AttemptStats, Integration, IntegrationInput, IntegrationKind};
use shared::signing::WebhookSecret;
use shared::time::now_string;

shared_testkit::contract!(
    the_first_put_creates_the_integration_with_the_given_secret,
    a_second_put_keeps_the_secret_and_replaces_the_settings,
    integrations_are_kept_per_kind_and_workspace,
    attempt_stats_sum_succeeded_and_failed,
    attempts_before_the_hour_of_since_are_not_counted,
    a_failure_becomes_the_last_error,
    an_attempt_without_an_integration_creates_none,
);

const WS: &str = "ws_contract";
const HUBSPOT: IntegrationKind = IntegrationKind::Hubspot;
const GHL: IntegrationKind = IntegrationKind::Ghl;

fn input(url: &str, retry_attempts: u32) -> IntegrationInput {
    IntegrationInput {
        webhook_url: url.to_owned(),
        enabled: true,
        retry_attempts,
        retry_delay: 30,
        alert: None,
        sync_properties: false,
    }
}

/// Puts the `kind` integration of WS at `url` with `retry_attempts` and `secret`, now.
async fn put<S: IntegrationStore + ?Sized>(
    s: &S,
    kind: IntegrationKind,
    url: &str,
    retry_attempts: u32,
    secret: &WebhookSecret,
) -> Integration {
    let settings = input(url, retry_attempts);
    s.put_integration(WS, kind, &settings, secret, &now_string())
        .await
        .unwrap()
}

/// Records an attempt of `ws`'s `kind` integration at `at`, failed with `error` if any.
async fn attempt<S: IntegrationStore + ?Sized>(
    s: &S,
    ws: &str,
    kind: IntegrationKind,
    at: &str,
    error: Option<&str>,
) {
    s.record_attempt(ws, kind, at, error).await.unwrap();
}

async fn the_first_put_creates_the_integration_with_the_given_secret<
    S: IntegrationStore + ?Sized,
>(
    s: &S,
) {
    assert_eq!(s.get_integration(WS, HUBSPOT).await.unwrap(), None);
    let secret = WebhookSecret::generate();
    let now = now_string();
    let created = s
        .put_integration(
            WS,
            HUBSPOT,
            &input("https://hooks.example/a", 5),
            &secret,
            &now,
        )
        .await
        .unwrap();
    assert_eq!(created.kind, HUBSPOT);
    assert_eq!(created.webhook_url, "https://hooks.example/a");
    assert!(created.enabled);
    assert_eq!((created.retry_attempts, created.retry_delay), (5, 30));
    assert_eq!(created.secret, secret);
    assert_eq!(
        (created.created_at.as_str(), created.updated_at.as_str()),
        (now.as_str(), now.as_str())
    );
    assert_eq!(
        (
            created.last_error.as_deref(),
            created.last_error_at.as_deref()
        ),
        (None, None)
    );
    assert_eq!(s.get_integration(WS, HUBSPOT).await.unwrap(), Some(created));
}

async fn a_second_put_keeps_the_secret_and_replaces_the_settings<S: IntegrationStore + ?Sized>(
    s: &S,
) {
    let first_secret = WebhookSecret::generate();
    let first = put(s, HUBSPOT, "https://hooks.example/a", 5, &first_secret).await;
    let later = now_string();
    let settings = IntegrationInput {
        webhook_url: "https://hooks.example/b".into(),
        enabled: false,
        retry_attempts: 2,
        retry_delay: 600,
        alert: None,
        sync_properties: true,
    };
    let second = s
        .put_integration(WS, HUBSPOT, &settings, &WebhookSecret::generate(), &later)
        .await
        .unwrap();
    assert_eq!(second.secret, first_secret, "the first secret is kept");
    assert_eq!(second.webhook_url, "https://hooks.example/b");
    assert!(!second.enabled);
    assert_eq!((second.retry_attempts, second.retry_delay), (2, 600));
    assert!(!first.sync_properties && second.sync_properties);
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(second.updated_at, later);
    assert_eq!(s.get_integration(WS, HUBSPOT).await.unwrap(), Some(second));
}

async fn integrations_are_kept_per_kind_and_workspace<S: IntegrationStore + ?Sized>(s: &S) {
    let hubspot_secret = WebhookSecret::generate();
    put(s, HUBSPOT, "https://hooks.example/h", 5, &hubspot_secret).await;
    assert_eq!(s.get_integration(WS, GHL).await.unwrap(), None);
    assert_eq!(s.get_integration("ws_other", HUBSPOT).await.unwrap(), None);
    let ghl = put(
        s,
        GHL,
        "https://hooks.example/g",
        1,
        &WebhookSecret::generate(),
    )
    .await;
    assert_ne!(
        ghl.secret, hubspot_secret,
        "each integration has its own secret"
    );
    let hubspot = s.get_integration(WS, HUBSPOT).await.unwrap().unwrap();
    assert_eq!(hubspot.webhook_url, "https://hooks.example/h");
    assert_eq!(hubspot.secret, hubspot_secret);
}

async fn attempt_stats_sum_succeeded_and_failed<S: IntegrationStore + ?Sized>(s: &S) {
    put(
        s,
        HUBSPOT,
        "https://hooks.example/h",
        5,
        &WebhookSecret::generate(),
    )
    .await;
    let since = now_string();
    attempt(s, WS, HUBSPOT, &now_string(), None).await;
    attempt(s, WS, HUBSPOT, &now_string(), Some("http status 500")).await;
    attempt(s, WS, HUBSPOT, &now_string(), None).await;
    attempt(s, WS, GHL, &now_string(), Some("timeout")).await;
    attempt(s, "ws_other", HUBSPOT, &now_string(), None).await;
    let expected = AttemptStats {
        succeeded: 2,
        failed: 1,
    };
    assert_eq!(
        s.attempt_stats(WS, HUBSPOT, &since).await.unwrap(),
        expected
    );
    let ghl = AttemptStats {
        succeeded: 0,
        failed: 1,
    };
    assert_eq!(s.attempt_stats(WS, GHL, &since).await.unwrap(), ghl);
}

async fn attempts_before_the_hour_of_since_are_not_counted<S: IntegrationStore + ?Sized>(s: &S) {
    attempt(s, WS, HUBSPOT, "2026-03-01T09:59:59.999Z", Some("old")).await;
    attempt(s, WS, HUBSPOT, "2026-03-01T10:00:00.000Z", None).await;
    attempt(s, WS, HUBSPOT, "2026-03-01T10:45:00.000Z", Some("boom")).await;
    attempt(s, WS, HUBSPOT, "2026-03-02T08:00:00.000Z", None).await;
    // Buckets are whole hours: `since` 10:30 counts the whole 10:00 hour.
    for (since, succeeded, failed) in [
        ("2026-03-01T10:30:00.000Z", 2, 1),
        ("2026-03-02T00:00:00.000Z", 1, 0),
        ("2026-03-03T00:00:00.000Z", 0, 0),
    ] {
        let stats = s.attempt_stats(WS, HUBSPOT, since).await.unwrap();
        assert_eq!(stats, AttemptStats { succeeded, failed }, "since {since}");
    }
    assert_eq!(
        s.attempt_stats(WS, HUBSPOT, "2026-03-03T00:00:00.000Z")
            .await
            .unwrap(),
        AttemptStats::default()
    );
}

async fn a_failure_becomes_the_last_error<S: IntegrationStore + ?Sized>(s: &S) {
    put(
        s,
        HUBSPOT,
        "https://hooks.example/h",
        5,
        &WebhookSecret::generate(),
    )
    .await;
    attempt(s, WS, HUBSPOT, &now_string(), None).await;
    assert_eq!(
        s.get_integration(WS, HUBSPOT)
            .await
            .unwrap()
            .unwrap()
            .last_error,
        None
    );
    let first = now_string();
    attempt(s, WS, HUBSPOT, &first, Some("http status 500")).await;
    let later = now_string();
    attempt(s, WS, HUBSPOT, &later, Some("connect error")).await;
    let i = s.get_integration(WS, HUBSPOT).await.unwrap().unwrap();
    assert_eq!(i.last_error.as_deref(), Some("connect error"));
    assert_eq!(i.last_error_at.as_deref(), Some(later.as_str()));
    // A later PUT of the settings does not wipe it.
    let again = put(
        s,
        HUBSPOT,
        "https://hooks.example/h2",
        5,
        &WebhookSecret::generate(),
    )
    .await;
    assert_eq!(again.last_error.as_deref(), Some("connect error"));
}

async fn an_attempt_without_an_integration_creates_none<S: IntegrationStore + ?Sized>(s: &S) {
    let since = now_string();
    attempt(s, WS, GHL, &now_string(), Some("http status 404")).await;
    assert_eq!(s.get_integration(WS, GHL).await.unwrap(), None);
    let stats = s.attempt_stats(WS, GHL, &since).await.unwrap();
    assert_eq!(
        stats,
        AttemptStats {
            succeeded: 0,
            failed: 1
        }
    );
}
