//! Contract of `AlertStore`: the debounce window per (type, subject) and the rejected-signature
//! counter, on the in-memory fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use shared::alerts::{AlertStore, Debounce};

shared_testkit::contract!(
    the_first_alert_of_a_subject_is_sent,
    repeats_within_the_window_are_held_and_counted,
    the_next_alert_after_the_window_carries_the_held_count_once,
    subjects_types_and_workspaces_have_their_own_windows,
    rejected_signatures_are_counted_per_job_and_window,
);

const T0: i64 = 1_800_000_000;
const WINDOW: i64 = 900;

async fn the_first_alert_of_a_subject_is_sent<S: AlertStore + ?Sized>(s: &S) {
    let d = s.debounce_alert("ws_a", "ghl.sync_failed", "cal_1", T0, WINDOW);
    assert_eq!(d.await.unwrap(), Debounce::Send { suppressed: 0 });
}

async fn repeats_within_the_window_are_held_and_counted<S: AlertStore + ?Sized>(s: &S) {
    let k = "subscription.disabled";
    assert_eq!(
        s.debounce_alert("ws_a", k, "wh_1", T0, WINDOW)
            .await
            .unwrap(),
        Debounce::Send { suppressed: 0 }
    );
    for dt in [1, 60, WINDOW - 1] {
        assert_eq!(
            s.debounce_alert("ws_a", k, "wh_1", T0 + dt, WINDOW)
                .await
                .unwrap(),
            Debounce::Held,
            "{dt} s after the first"
        );
    }
}

async fn the_next_alert_after_the_window_carries_the_held_count_once<S: AlertStore + ?Sized>(
    s: &S,
) {
    let k = "hubspot.sync_failing";
    s.debounce_alert("ws_a", k, "e1", T0, WINDOW).await.unwrap();
    s.debounce_alert("ws_a", k, "e1", T0 + 10, WINDOW)
        .await
        .unwrap();
    s.debounce_alert("ws_a", k, "e1", T0 + 20, WINDOW)
        .await
        .unwrap();
    // The window ends at T0 + 900 exactly: an alert then opens the next one.
    assert_eq!(
        s.debounce_alert("ws_a", k, "e1", T0 + WINDOW, WINDOW)
            .await
            .unwrap(),
        Debounce::Send { suppressed: 2 }
    );
    assert_eq!(
        s.debounce_alert("ws_a", k, "e1", T0 + WINDOW + 1, WINDOW)
            .await
            .unwrap(),
        Debounce::Held
    );
    assert_eq!(
        s.debounce_alert("ws_a", k, "e1", T0 + 3 * WINDOW, WINDOW)
            .await
            .unwrap(),
        Debounce::Send { suppressed: 1 }
    );
}

async fn subjects_types_and_workspaces_have_their_own_windows<S: AlertStore + ?Sized>(s: &S) {
    let sent = Debounce::Send { suppressed: 0 };
    let k = "delivery.exhausted";
    assert_eq!(
        s.debounce_alert("ws_a", k, "wh_1", T0, WINDOW)
            .await
            .unwrap(),
        sent
    );
    assert_eq!(
        s.debounce_alert("ws_a", k, "wh_2", T0, WINDOW)
            .await
            .unwrap(),
        sent
    );
    assert_eq!(
        s.debounce_alert("ws_a", "subscription.disabled", "wh_1", T0, WINDOW)
            .await
            .unwrap(),
        sent
    );
    assert_eq!(
        s.debounce_alert("ws_b", k, "wh_1", T0, WINDOW)
            .await
            .unwrap(),
        sent
    );
}

async fn rejected_signatures_are_counted_per_job_and_window<S: AlertStore + ?Sized>(s: &S) {
    for n in 1..=3 {
        assert_eq!(
            s.count_signature_failure("ws_a", "job_1", T0)
                .await
                .unwrap(),
            n
        );
    }
    assert_eq!(
        s.count_signature_failure("ws_a", "job_2", T0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.count_signature_failure("ws_b", "job_1", T0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.count_signature_failure("ws_a", "job_1", T0 + 300)
            .await
            .unwrap(),
        1
    );
}
