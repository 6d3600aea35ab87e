//! DynamoDB adapter of `DestinationTableStore`: a sync job's own destination table (DESIGN §8).
//! One TransactWriteItems writes the ordering ledger (the record's metadata in our table,
//! conditional on `Record::supersedes`, label `ledger`) and the destination item (label
//! `destination`), so an older event or a late upsert after a delete never reaches the table.
//! A table that refuses (missing, access denied, other key schema, item too large) is
//! `Refused` with a readable reason, never a 5xx.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use serde_json::Value;

use super::records::{record_item, supersedes_condition};
use crate::keys;
use crate::table::{s, DynamoStore, Item};
use shared::error::{AppError, AppResult};
use shared::inbound::destination::{table_item, TableTarget, TableWrite};
use shared::inbound::domain::Record;
use shared::inbound::ports::DestinationTableStore;

/// Positions of the two items (transaction reasons come back in item order).
const LEDGER: usize = 0;
const DESTINATION: usize = 1;

fn destination_key(target: &TableTarget, r: &Record) -> Item {
    Item::from([(
        target.key_attribute.clone(),
        s(keys::destination_item(&r.object_type, &r.object_id)),
    )])
}

fn ledger_put(
    store: &DynamoStore,
    ws: &str,
    job_id: &str,
    r: &Record,
) -> AppResult<TransactWriteItem> {
    let ledger = Record {
        data: None,
        ..r.clone()
    };
    let mut b = Put::builder()
        .table_name(store.table())
        .set_item(Some(record_item(ws, job_id, &ledger)?))
        .condition_expression(supersedes_condition(r))
        .expression_attribute_values(":ec", s(&r.meta.event_created))
        .expression_attribute_values(":seq", s(&r.meta.inbound_event_id));
    if !r.meta.deleted {
        b = b.expression_attribute_values(":f", AttributeValue::Bool(false));
    }
    let put = b.build().map_err(|e| AppError::internal("build Put", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn destination_write(target: &TableTarget, r: &Record) -> AppResult<TransactWriteItem> {
    if r.meta.deleted {
        let del = Delete::builder()
            .table_name(&target.table_name)
            .set_key(Some(destination_key(target, r)))
            .build()
            .map_err(|e| AppError::internal("build Delete", e))?;
        return Ok(TransactWriteItem::builder().delete(del).build());
    }
    let mut item: Item = to_item(Value::Object(table_item(r)))
        .map_err(|e| AppError::internal("encode destination item", e))?;
    item.extend(destination_key(target, r));
    let put = Put::builder()
        .table_name(&target.table_name)
        .set_item(Some(item))
        .build()
        .map_err(|e| AppError::internal("build Put", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Why the table refused, in words for the event's error; None: not a refusal (transient or ours).
fn refusal(table: &str, code: &str, message: &str) -> Option<String> {
    match code {
        "ResourceNotFoundException" => Some(format!(
            "destination table {table} does not exist (create it in this account and region, or PATCH the job's destination)"
        )),
        "AccessDeniedException" | "UnrecognizedClientException" => Some(format!(
            "access to destination table {table} was denied (the worker may write only to tables named with the DestinationTablePrefix)"
        )),
        "ValidationException" | "ValidationError" => Some(format!(
            "destination table {table} refused the item: {}",
            if message.is_empty() { "validation error (check keyAttribute against the table's key schema, and the item size)" } else { message }
        )),
        _ => None,
    }
}

#[async_trait]
impl DestinationTableStore for DynamoStore {
    async fn apply_to_table(
        &self,
        ws: &str,
        job_id: &str,
        target: &TableTarget,
        r: &Record,
    ) -> AppResult<TableWrite> {
        let items = vec![
            ledger_put(self, ws, job_id, r)?,
            destination_write(target, r)?,
        ];
        let err = match self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Ok(TableWrite::Applied),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
            err.as_service_error()
        {
            let reasons = c.cancellation_reasons();
            let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
            if code(LEDGER) == "ConditionalCheckFailed" {
                return Ok(TableWrite::Unchanged);
            }
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(AppError::TransactionConflict);
            }
            // The destination item's own reason (a key schema mismatch, an item too large):
            // DynamoDB says ValidationError, moto names the Python error.
            if let Some(r) = reasons.get(DESTINATION) {
                let code = r.code().unwrap_or("None");
                if code != "None" && !code.starts_with("Throttling") {
                    let detail = match r.message() {
                        Some(m) if !m.is_empty() => format!("{code}: {m}"),
                        _ => code.to_owned(),
                    };
                    return Ok(TableWrite::Refused(format!(
                        "destination table {} refused the item ({detail}); check keyAttribute against the table's key schema, and the item size",
                        target.table_name
                    )));
                }
            }
            return Err(crate::errors::sdk(
                "dynamodb TransactWriteItems destination",
                err,
            ));
        }
        let (code, message) = match err.as_service_error() {
            Some(se) => (
                se.code().unwrap_or("").to_owned(),
                se.message().unwrap_or("").to_owned(),
            ),
            None => (String::new(), String::new()),
        };
        match refusal(&target.table_name, &code, &message) {
            Some(why) => Ok(TableWrite::Refused(why)),
            None => Err(crate::errors::sdk(
                "dynamodb TransactWriteItems destination",
                err,
            )),
        }
    }

    async fn get_table_item(
        &self,
        target: &TableTarget,
        object_type: &str,
        object_id: &str,
    ) -> AppResult<Option<Value>> {
        let key = Item::from([(
            target.key_attribute.clone(),
            s(keys::destination_item(object_type, object_id)),
        )]);
        let out = self
            .client()
            .get_item()
            .table_name(&target.table_name)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb GetItem destination", e))?;
        out.item
            .map(|i| {
                from_item::<Value>(i).map_err(|e| AppError::internal("decode destination item", e))
            })
            .transpose()
    }
}
