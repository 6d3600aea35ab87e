//! In-memory fake of `BackfillStore` on `MemoryStore` (state in `with_ext`): the same
//! conditional reschedule and the same due order as the DynamoDB adapter.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::memory::MemoryStore;
use shared::error::AppResult;
use shared::inbound::backfill::BackfillPlan;
use shared::inbound::ports::BackfillStore;

#[derive(Default)]
struct BackfillState {
    plans: BTreeMap<(String, String), BackfillPlan>,
}

fn jk(ws: &str, job: &str) -> (String, String) {
    (ws.to_owned(), job.to_owned())
}

#[async_trait]
impl BackfillStore for MemoryStore {
    async fn put_backfill(&self, plan: &BackfillPlan) -> AppResult<()> {
        self.with_ext(|st: &mut BackfillState| {
            st.plans
                .insert(jk(&plan.workspace_id, &plan.job_id), plan.clone());
        });
        Ok(())
    }

    async fn get_backfill(&self, ws: &str, job_id: &str) -> AppResult<Option<BackfillPlan>> {
        Ok(self.with_ext(|st: &mut BackfillState| st.plans.get(&jk(ws, job_id)).cloned()))
    }

    async fn delete_backfill(&self, ws: &str, job_id: &str) -> AppResult<()> {
        self.with_ext(|st: &mut BackfillState| st.plans.remove(&jk(ws, job_id)));
        Ok(())
    }

    async fn reschedule_backfill(
        &self,
        ws: &str,
        job_id: &str,
        expected: Option<i64>,
        next: Option<i64>,
    ) -> AppResult<bool> {
        Ok(self.with_ext(
            |st: &mut BackfillState| match st.plans.get_mut(&jk(ws, job_id)) {
                Some(plan) if plan.next_run_at == expected => {
                    plan.next_run_at = next;
                    true
                }
                _ => false,
            },
        ))
    }

    async fn set_backfill_cursor(&self, ws: &str, job_id: &str, cursor: &str) -> AppResult<bool> {
        Ok(self.with_ext(
            |st: &mut BackfillState| match st.plans.get_mut(&jk(ws, job_id)) {
                Some(plan) => {
                    plan.cursor = cursor.to_owned();
                    plan.updated_at = shared::time::now_string();
                    true
                }
                None => false,
            },
        ))
    }

    async fn list_due_backfills(&self, now: i64, limit: u32) -> AppResult<Vec<BackfillPlan>> {
        Ok(self.with_ext(|st: &mut BackfillState| {
            let mut due: Vec<BackfillPlan> = st
                .plans
                .values()
                .filter(|p| p.next_run_at.is_some_and(|t| t <= now))
                .cloned()
                .collect();
            due.sort_by(|a, b| {
                (a.next_run_at, &a.workspace_id, &a.job_id).cmp(&(
                    b.next_run_at,
                    &b.workspace_id,
                    &b.job_id,
                ))
            });
            due.truncate(limit.clamp(1, 1000) as usize);
            due
        }))
    }
}
