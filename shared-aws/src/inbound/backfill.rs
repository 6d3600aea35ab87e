//! DynamoDB adapter of `BackfillStore`: one plan item per job in the job's partition; a plan
//! with a next run is in the sparse gsi2 partition `BACKFILL#DUE`, positioned by that time, so
//! the scheduler reads only what is due. Rescheduling is conditional on the next run read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::keys;
use crate::table::{decode, encode, is_conditional_failure, key_attrs, n, s, DynamoStore};
use shared::error::AppResult;
use shared::inbound::backfill::BackfillPlan;
use shared::inbound::ports::BackfillStore;

const ATTR_NEXT_RUN: &str = "nextRunAt";

fn due_attrs(plan_next: Option<i64>, ws: &str, job: &str) -> Vec<(&'static str, AttributeValue)> {
    match plan_next {
        Some(t) => vec![
            (keys::GSI2PK, s(keys::BACKFILL_DUE_INDEX_PK)),
            (keys::GSI2SK, s(keys::backfill_due_position(t, ws, job))),
        ],
        None => Vec::new(),
    }
}

#[async_trait]
impl BackfillStore for DynamoStore {
    async fn put_backfill(&self, plan: &BackfillPlan) -> AppResult<()> {
        let key = keys::backfill_plan(&plan.workspace_id, &plan.job_id);
        let extra = due_attrs(plan.next_run_at, &plan.workspace_id, &plan.job_id);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(encode(plan, &key, &extra)?))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb PutItem backfill plan", e))?;
        Ok(())
    }

    async fn get_backfill(&self, ws: &str, job_id: &str) -> AppResult<Option<BackfillPlan>> {
        self.get_as(&keys::backfill_plan(ws, job_id)).await
    }

    async fn delete_backfill(&self, ws: &str, job_id: &str) -> AppResult<()> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::backfill_plan(ws, job_id))))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb DeleteItem backfill plan", e))?;
        Ok(())
    }

    async fn reschedule_backfill(
        &self,
        ws: &str,
        job_id: &str,
        expected: Option<i64>,
        next: Option<i64>,
    ) -> AppResult<bool> {
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::backfill_plan(ws, job_id))))
            .expression_attribute_names("#n", ATTR_NEXT_RUN);
        req = match expected {
            Some(t) => req
                .condition_expression("attribute_exists(pk) AND #n = :expected")
                .expression_attribute_values(":expected", n(t)),
            None => req.condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#n) OR attribute_type(#n, :nul))",
            ).expression_attribute_values(":nul", s("NULL")),
        };
        req = match next {
            Some(t) => req
                .update_expression("SET #n = :next, #gp = :gp, #gs = :gs")
                .expression_attribute_names("#gp", keys::GSI2PK)
                .expression_attribute_names("#gs", keys::GSI2SK)
                .expression_attribute_values(":next", n(t))
                .expression_attribute_values(":gp", s(keys::BACKFILL_DUE_INDEX_PK))
                .expression_attribute_values(":gs", s(keys::backfill_due_position(t, ws, job_id))),
            None => req
                .update_expression("SET #n = :none REMOVE #gp, #gs")
                .expression_attribute_names("#gp", keys::GSI2PK)
                .expression_attribute_names("#gs", keys::GSI2SK)
                .expression_attribute_values(":none", AttributeValue::Null(true)),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(crate::errors::sdk(
                "dynamodb UpdateItem backfill schedule",
                e,
            )),
        }
    }

    async fn set_backfill_cursor(&self, ws: &str, job_id: &str, cursor: &str) -> AppResult<bool> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::backfill_plan(ws, job_id))))
            .update_expression("SET #c = :c, #u = :u")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#c", "cursor")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_values(":c", s(cursor))
            .expression_attribute_values(":u", s(shared::time::now_string()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(crate::errors::sdk("dynamodb UpdateItem backfill cursor", e)),
        }
    }

    async fn list_due_backfills(&self, now: i64, limit: u32) -> AppResult<Vec<BackfillPlan>> {
        let resp = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI2)
            .key_condition_expression("#p = :p AND #s < :until")
            .expression_attribute_names("#p", keys::GSI2PK)
            .expression_attribute_names("#s", keys::GSI2SK)
            .expression_attribute_values(":p", s(keys::BACKFILL_DUE_INDEX_PK))
            .expression_attribute_values(":until", s(keys::backfill_due_until(now)))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb Query due backfills", e))?;
        resp.items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect()
    }
}
