//! DynamoDB adapter of `AlertStore`: the debounce item per (type, subject) and the
//! signature-failure counter per job and window, each changed by one conditional or atomic
//! UpdateItem and expired by TTL.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use crate::keys;
use crate::table::{is_conditional_failure, key_attrs, n, num_attr, DynamoStore};
use shared::alerts::{AlertStore, Debounce};
use shared::error::{AppError, AppResult};

/// A debounce item outlives its window by this much, so the count held back reaches the next
/// alert even when it comes days later.
const DEBOUNCE_KEEP_SECS: i64 = 7 * 86_400;

#[async_trait]
impl AlertStore for DynamoStore {
    async fn debounce_alert(
        &self,
        ws: &str,
        kind: &str,
        subject: &str,
        now: i64,
        window_secs: i64,
    ) -> AppResult<Debounce> {
        let key = key_attrs(&keys::alert_debounce(ws, kind, subject));
        let ends = now + window_secs;
        // Two conditional writes race at most with a window ending in between: try again.
        for _ in 0..3 {
            let opened = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression("SET windowEndsAt = :ends, held = :zero, expires_at = :ttl")
                .condition_expression("attribute_not_exists(pk) OR windowEndsAt <= :now")
                .expression_attribute_values(":ends", n(ends))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":ttl", n(ends + DEBOUNCE_KEEP_SECS))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::AllOld)
                .send()
                .await;
            match opened {
                Ok(out) => {
                    let held = out
                        .attributes
                        .as_ref()
                        .and_then(|a| num_attr(a, "held"))
                        .unwrap_or(0);
                    return Ok(Debounce::Send {
                        suppressed: held.max(0) as u64,
                    });
                }
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(crate::errors::sdk("dynamodb open alert window", e)),
            }
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression("ADD held :one")
                .condition_expression("windowEndsAt > :now")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match counted {
                Ok(_) => return Ok(Debounce::Held),
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(crate::errors::sdk("dynamodb count held alert", e)),
            }
        }
        Err(AppError::internal_msg(
            "alert debounce window kept changing",
        ))
    }

    async fn count_signature_failure(
        &self,
        ws: &str,
        job_id: &str,
        window_start: i64,
    ) -> AppResult<u64> {
        let ttl = window_start + 2 * shared::alerts::SIGNATURE_FAILURE_WINDOW_SECS;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::signature_failures(
                ws,
                job_id,
                window_start,
            ))))
            .update_expression("ADD rejected :one SET expires_at = :ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(ttl))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb count rejected signature", e))?;
        Ok(out
            .attributes
            .as_ref()
            .and_then(|a| num_attr(a, "rejected"))
            .unwrap_or(0)
            .max(0) as u64)
    }
}
