//! Contract of `BackfillStore` (DESIGN §8 backfill plans): every behaviour runs against the
//! in-memory fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use shared::inbound::backfill::{BackfillPlan, ProviderApiKey, Schedule};
use shared::inbound::domain::Source;
use shared::inbound::ports::BackfillStore;

shared_testkit::contract!(
    plan_put_get_delete_round_trip,
    due_plans_are_listed_earliest_first_and_only_when_due,
    reschedule_is_conditional_on_the_next_run_read,
    a_plan_without_next_run_is_not_due,
    cursor_moves_only_on_an_existing_plan,
);

fn ws() -> String {
    // Unique per test: the due index is one partition shared by every workspace.
    shared_testkit::moto::unique("ws_bf")
}

fn plan(ws: &str, job: &str, next: Option<i64>) -> BackfillPlan {
    BackfillPlan {
        workspace_id: ws.into(),
        job_id: job.into(),
        source: Source::Stripe,
        schedule: Schedule::parse("schedule", "rate(5 minutes)").unwrap(),
        api_key: ProviderApiKey::validate("apiKey", "sk_test_contract").unwrap(),
        cursor: "2024-01-01T00:00:00.000000Z".into(),
        next_run_at: next,
        created_at: "2024-01-01T00:00:00.000000Z".into(),
        updated_at: "2024-01-01T00:00:00.000000Z".into(),
    }
}

/// Due plans of `ws` only (other tests share the index partition).
async fn due_of<S: BackfillStore + ?Sized>(s: &S, ws: &str, now: i64) -> Vec<String> {
    s.list_due_backfills(now, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.workspace_id == ws)
        .map(|p| p.job_id)
        .collect()
}

async fn plan_put_get_delete_round_trip<S: BackfillStore + ?Sized>(s: &S) {
    let ws = ws();
    let p = plan(&ws, "job_a", Some(1_000));
    s.put_backfill(&p).await.unwrap();
    assert_eq!(s.get_backfill(&ws, "job_a").await.unwrap(), Some(p));
    assert_eq!(s.get_backfill(&ws, "job_b").await.unwrap(), None);
    s.delete_backfill(&ws, "job_a").await.unwrap();
    s.delete_backfill(&ws, "job_a").await.unwrap();
    assert_eq!(s.get_backfill(&ws, "job_a").await.unwrap(), None);
}

async fn due_plans_are_listed_earliest_first_and_only_when_due<S: BackfillStore + ?Sized>(s: &S) {
    let ws = ws();
    s.put_backfill(&plan(&ws, "job_late", Some(3_000)))
        .await
        .unwrap();
    s.put_backfill(&plan(&ws, "job_early", Some(1_000)))
        .await
        .unwrap();
    s.put_backfill(&plan(&ws, "job_now", Some(2_000)))
        .await
        .unwrap();
    assert_eq!(due_of(s, &ws, 999).await, Vec::<String>::new());
    assert_eq!(due_of(s, &ws, 2_000).await, vec!["job_early", "job_now"]);
    assert_eq!(
        due_of(s, &ws, 5_000).await,
        vec!["job_early", "job_now", "job_late"]
    );
}

async fn reschedule_is_conditional_on_the_next_run_read<S: BackfillStore + ?Sized>(s: &S) {
    let ws = ws();
    s.put_backfill(&plan(&ws, "job_a", Some(1_000)))
        .await
        .unwrap();
    assert!(s
        .reschedule_backfill(&ws, "job_a", Some(1_000), Some(1_300))
        .await
        .unwrap());
    // A second scheduler that read the old value claims nothing.
    assert!(!s
        .reschedule_backfill(&ws, "job_a", Some(1_000), Some(1_300))
        .await
        .unwrap());
    assert!(!s
        .reschedule_backfill(&ws, "job_gone", Some(1_000), Some(1_300))
        .await
        .unwrap());
    assert_eq!(due_of(s, &ws, 1_200).await, Vec::<String>::new());
    assert_eq!(due_of(s, &ws, 1_300).await, vec!["job_a"]);
    let stored = s.get_backfill(&ws, "job_a").await.unwrap().unwrap();
    assert_eq!(stored.next_run_at, Some(1_300));
    assert_eq!(stored.api_key, plan(&ws, "job_a", None).api_key);
}

async fn a_plan_without_next_run_is_not_due<S: BackfillStore + ?Sized>(s: &S) {
    let ws = ws();
    s.put_backfill(&plan(&ws, "job_a", None)).await.unwrap();
    s.put_backfill(&plan(&ws, "job_b", Some(10))).await.unwrap();
    assert_eq!(due_of(s, &ws, 1_000_000).await, vec!["job_b"]);
    assert!(s
        .reschedule_backfill(&ws, "job_b", Some(10), None)
        .await
        .unwrap());
    assert_eq!(due_of(s, &ws, 1_000_000).await, Vec::<String>::new());
    assert!(s
        .reschedule_backfill(&ws, "job_b", None, Some(20))
        .await
        .unwrap());
    assert_eq!(due_of(s, &ws, 1_000_000).await, vec!["job_b"]);
}

async fn cursor_moves_only_on_an_existing_plan<S: BackfillStore + ?Sized>(s: &S) {
    let ws = ws();
    s.put_backfill(&plan(&ws, "job_a", Some(1_000)))
        .await
        .unwrap();
    let t = "2024-02-01T00:00:00.000000Z";
    assert!(s.set_backfill_cursor(&ws, "job_a", t).await.unwrap());
    let stored = s.get_backfill(&ws, "job_a").await.unwrap().unwrap();
    assert_eq!(stored.cursor, t);
    assert_eq!(stored.next_run_at, Some(1_000), "the schedule is untouched");
    assert!(!s.set_backfill_cursor(&ws, "job_gone", t).await.unwrap());
    assert_eq!(s.get_backfill(&ws, "job_gone").await.unwrap(), None);
}
