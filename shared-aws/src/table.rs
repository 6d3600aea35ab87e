//! The table toolkit: one table (`DynamoStore`), items and their attributes, Put/Update/Delete
//! transaction items, cancellation reasons, conditional writes, cursors, and the table's
//! definition. Keys come from `keys.rs`; each feature's adapter is its own file.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::keys::{self, Key};
use shared::error::{AppError, AppResult};
use shared::paging::Page;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get(&self, key: &Key) -> AppResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb GetItem", e))?;
        Ok(out.item)
    }

    pub async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> AppResult<Option<T>> {
        self.get(key).await?.map(|i| decode(i)).transpose()
    }

    /// Runs a transaction; on cancellation returns the per-item reason codes.
    /// Runs one TransactWriteItems. A cancellation whose reasons include a conflict with
    /// another transaction is `TransactionConflict` (retryable); any other cancellation comes
    /// back as its reasons, by label.
    pub async fn transact(&self, tx: Tx) -> AppResult<Result<(), Cancellation>> {
        let (labels, items): (Vec<&'static str>, Vec<TransactWriteItem>) =
            tx.items.into_iter().unzip();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(e) => match tx_reasons(&e) {
                Some(reasons) => {
                    if reasons.iter().any(|r| r.code == "TransactionConflict") {
                        Err(AppError::TransactionConflict)
                    } else if reasons.iter().any(|r| r.code.starts_with("Throttling")) {
                        // "ThrottlingError": the table, not the request, said no.
                        Err(AppError::Busy {
                            retry_after_secs: 1,
                        })
                    } else {
                        Ok(Err(Cancellation {
                            reasons: labels.into_iter().zip(reasons).collect(),
                        }))
                    }
                }
                None if is_conflict(&e) => Err(AppError::TransactionConflict),
                None => Err(crate::errors::sdk("dynamodb TransactWriteItems", e)),
            },
        }
    }

    pub async fn query_all(
        &self,
        pk: &str,
        sk_prefix: &str,
        consistent: bool,
    ) -> AppResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :sk)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":sk", s(sk_prefix))
                .consistent_read(consistent)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb Query", e))?;
            out.extend(resp.items.unwrap_or_default());
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes these (pk, sk) items with BatchWriteItem (25 per call; what DynamoDB leaves
    /// unprocessed is retried with a short backoff). Absent items are no error.
    pub async fn delete_keys(&self, items: &[(String, String)]) -> AppResult<()> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in items.chunks(25) {
            let mut writes = Vec::with_capacity(chunk.len());
            for (pk, sk) in chunk {
                let delete = DeleteRequest::builder()
                    .key(keys::PK, s(pk))
                    .key(keys::SK, s(sk))
                    .build()
                    .map_err(|e| AppError::internal("dynamodb delete request", e))?;
                writes.push(WriteRequest::builder().delete_request(delete).build());
            }
            let mut pending = HashMap::from([(self.table.clone(), writes)]);
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| crate::errors::sdk("dynamodb BatchWriteItem delete", e))?;
                pending = out.unprocessed_items.unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
                if pending.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(AppError::internal_msg(
                        "dynamodb BatchWriteItem left items unprocessed",
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

    /// One page of a GSI1 partition, oldest key first. A cursor of another partition is a
    /// 400, never passed to DynamoDB.
    pub async fn query_gsi1_page(
        &self,
        gsi1pk: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<(Vec<Item>, Option<String>)> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(gsi1pk))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(checked_cursor(cursor, keys::GSI1PK, gsi1pk)?)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb Query gsi1", e))?;
        let next = next_cursor(resp.last_evaluated_key);
        Ok((resp.items.unwrap_or_default(), next))
    }

    /// One page of a filtered index query, newest (highest sort key) first. A filter applies
    /// after DynamoDB's `Limit`, so this queries again from where the last query stopped until
    /// `limit` items pass, the partition ends, or `MAX_FILTER_ROUNDS` (a short page keeps its
    /// cursor). `keep` is the exact rule, applied after the filter expression.
    pub async fn query_index_page<T: DeserializeOwned>(
        &self,
        q: &IndexQuery<'_>,
        cursor: Option<&str>,
        limit: u32,
        keep: impl Fn(&T) -> bool,
    ) -> AppResult<Page<T>> {
        let mut start = checked_cursor(cursor, q.pk_attr, &q.pk)?;
        let want = limit.clamp(1, 1000) as usize;
        let mut items: Vec<T> = Vec::new();
        for _ in 0..MAX_FILTER_ROUNDS {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(q.index)
                .expression_attribute_values(":pk", s(&q.pk))
                .scan_index_forward(false)
                .limit((want - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            query = match &q.sk_range {
                Some((low, high)) => query
                    .key_condition_expression(format!(
                        "{} = :pk AND {} BETWEEN :lo AND :hi",
                        q.pk_attr, q.sk_attr
                    ))
                    .expression_attribute_values(":lo", s(low))
                    .expression_attribute_values(":hi", s(high)),
                None => query.key_condition_expression(format!("{} = :pk", q.pk_attr)),
            };
            if !q.filters.is_empty() {
                query = query.filter_expression(q.filters.join(" AND "));
            }
            for (name, attr) in &q.names {
                query = query.expression_attribute_names(*name, *attr);
            }
            for (name, value) in &q.values {
                query = query.expression_attribute_values(*name, value.clone());
            }
            let resp = query
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb Query index", e))?;
            for item in resp.items.unwrap_or_default() {
                let v: T = decode(item)?;
                if keep(&v) {
                    items.push(v);
                }
            }
            start = resp.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                break;
            }
        }
        Ok(Page {
            items,
            next_cursor: next_cursor(start),
        })
    }
}

/// Queries one filtered page may take (each reads at most 1 MB).
pub const MAX_FILTER_ROUNDS: usize = 8;

/// A filtered query of one index partition over a range of its sort key (inclusive).
pub struct IndexQuery<'a> {
    pub index: &'a str,
    pub pk_attr: &'a str,
    pub sk_attr: &'a str,
    pub pk: String,
    /// Only sort keys in this range (both ends included); `None`: the whole partition.
    pub sk_range: Option<(String, String)>,
    /// Conditions of the filter expression, joined with AND.
    pub filters: Vec<&'static str>,
    pub names: Vec<(&'static str, &'static str)>,
    pub values: Vec<(&'static str, AttributeValue)>,
}

impl<'a> IndexQuery<'a> {
    pub fn new(index: &'a str, pk_attr: &'a str, sk_attr: &'a str, pk: String) -> Self {
        Self {
            index,
            pk_attr,
            sk_attr,
            pk,
            sk_range: None,
            filters: Vec::new(),
            names: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Only items that have not expired (DynamoDB deletes them only eventually).
    pub fn live(mut self) -> Self {
        self.filters.push("#ttl > :now");
        self.names.push(("#ttl", keys::TTL));
        self.values.push((":now", n(now_secs())));
        self
    }

    /// Adds the condition `expr`, naming `attr` as `name` and binding `value` to `placeholder`.
    pub fn filter(
        mut self,
        expr: &'static str,
        name: (&'static str, &'static str),
        value: (&'static str, AttributeValue),
    ) -> Self {
        self.filters.push(expr);
        self.names.push(name);
        self.values.push(value);
        self
    }
}

// --- item helpers ------------------------------------------------------------------------

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key_attrs(key: &Key) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(&key.pk)),
        (keys::SK.to_owned(), s(&key.sk)),
    ])
}

/// A domain value as an item under `key`, plus extra attributes (GSI keys, TTL).
pub fn encode<T: Serialize>(
    value: &T,
    key: &Key,
    extra: &[(&str, AttributeValue)],
) -> AppResult<Item> {
    let mut item: Item = to_item(value).map_err(|e| AppError::internal("encode item", e))?;
    item.extend(key_attrs(key));
    for (k, v) in extra {
        item.insert((*k).to_owned(), v.clone());
    }
    Ok(item)
}

pub fn decode<T: DeserializeOwned>(item: Item) -> AppResult<T> {
    from_item(item).map_err(|e| AppError::internal("decode item", e))
}

pub fn str_attr(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub fn num_attr(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

pub fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
    values: &[(&str, AttributeValue)],
) -> AppResult<TransactWriteItem> {
    let mut b = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        b = b.condition_expression(c);
    }
    for (k, v) in values {
        b = b.expression_attribute_values(*k, v.clone());
    }
    let p = b.build().map_err(|e| AppError::internal("build Put", e))?;
    Ok(TransactWriteItem::builder().put(p).build())
}

pub struct UpdateSpec<'a> {
    pub key: &'a Key,
    pub expression: &'a str,
    pub condition: Option<&'a str>,
    pub names: &'a [(&'a str, &'a str)],
    pub values: Vec<(&'a str, AttributeValue)>,
    pub return_old_on_failure: bool,
}

pub fn update(table: &str, spec: UpdateSpec<'_>) -> AppResult<TransactWriteItem> {
    let mut b = Update::builder()
        .table_name(table)
        .set_key(Some(key_attrs(spec.key)))
        .update_expression(spec.expression);
    if let Some(c) = spec.condition {
        b = b.condition_expression(c);
    }
    for (k, v) in spec.names {
        b = b.expression_attribute_names(*k, *v);
    }
    for (k, v) in spec.values {
        b = b.expression_attribute_values(k, v);
    }
    if spec.return_old_on_failure {
        b = b.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    let u = b
        .build()
        .map_err(|e| AppError::internal("build Update", e))?;
    Ok(TransactWriteItem::builder().update(u).build())
}

pub fn delete(
    table: &str,
    key: &Key,
    condition: &str,
    values: &[(&str, AttributeValue)],
) -> AppResult<TransactWriteItem> {
    let mut b = Delete::builder()
        .table_name(table)
        .set_key(Some(key_attrs(key)))
        .condition_expression(condition);
    for (k, v) in values {
        b = b.expression_attribute_values(*k, v.clone());
    }
    let d = b
        .build()
        .map_err(|e| AppError::internal("build Delete", e))?;
    Ok(TransactWriteItem::builder().delete(d).build())
}

#[derive(Debug)]
pub struct TxReason {
    pub code: String,
    pub item: Option<Item>,
}

impl TxReason {
    pub fn failed(&self) -> bool {
        self.code == "ConditionalCheckFailed"
    }
}

fn tx_reasons(e: &SdkError<TransactWriteItemsError>) -> Option<Vec<TxReason>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| TxReason {
                    code: r.code().unwrap_or("None").to_owned(),
                    item: r.item().cloned(),
                })
                .collect(),
        ),
        _ => None,
    }
}

fn is_conflict(e: &SdkError<TransactWriteItemsError>) -> bool {
    matches!(
        e.as_service_error(),
        Some(TransactWriteItemsError::TransactionInProgressException(_))
    ) || e
        .as_service_error()
        .and_then(|s| aws_sdk_dynamodb::error::ProvideErrorMetadata::code(s))
        .is_some_and(|c| c == "TransactionConflictException")
}

pub fn is_conditional_failure<E>(e: &SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// The outcome of a conditional write: written → true, condition failed → false, any other
/// error → internal (`context` names the operation in logs).
pub fn conditional<O, E>(res: Result<O, SdkError<E>>, context: &'static str) -> AppResult<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if is_conditional_failure(&e) => Ok(false),
        Err(e) => Err(crate::errors::sdk(context, e)),
    }
}

/// The items of one TransactWriteItems, each with a label: the reasons of a cancellation are
/// read by label, never by position.
#[derive(Default)]
pub struct Tx {
    items: Vec<(&'static str, TransactWriteItem)>,
}

impl Tx {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, label: &'static str, item: TransactWriteItem) -> &mut Self {
        self.items.push((label, item));
        self
    }

    pub fn with(mut self, label: &'static str, item: TransactWriteItem) -> Self {
        self.add(label, item);
        self
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Why DynamoDB cancelled a transaction: the reason of each labelled item.
#[derive(Debug)]
pub struct Cancellation {
    reasons: Vec<(&'static str, TxReason)>,
}

impl Cancellation {
    /// Did an item with this label fail its condition? (False for a label not in the
    /// transaction, or one DynamoDB gave no reason for.)
    pub fn failed(&self, label: &str) -> bool {
        self.reasons.iter().any(|(l, r)| *l == label && r.failed())
    }

    /// The item as it was, returned for the labelled item whose condition failed (with
    /// `ReturnValuesOnConditionCheckFailure`).
    pub fn old_item(&self, label: &str) -> Option<&Item> {
        self.reasons
            .iter()
            .find(|(l, r)| *l == label && r.failed())
            .and_then(|(_, r)| r.item.as_ref())
    }

    /// A cancellation none of the expected conditions explains: an internal error whose
    /// detail (labels and codes) goes to the log.
    pub fn unexpected(&self, context: &'static str) -> AppError {
        let codes: Vec<String> = self
            .reasons
            .iter()
            .map(|(l, r)| format!("{l}={}", r.code))
            .collect();
        AppError::internal(
            context,
            format!("transaction cancelled: {}", codes.join(", ")),
        )
    }
}

/// Cursors are opaque to clients: base64url of the LastEvaluatedKey's string attributes.
pub fn encode_cursor(key: &Item) -> String {
    let fields = key
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect();
    shared::paging::encode_cursor(&fields)
}

pub fn decode_cursor(cursor: &str) -> AppResult<Item> {
    Ok(shared::paging::decode_cursor(cursor)?
        .into_iter()
        .map(|(k, v)| (k, s(v)))
        .collect())
}

/// The cursor of the page after this one (`None` at the end).
pub fn next_cursor(last_evaluated_key: Option<Item>) -> Option<String> {
    last_evaluated_key
        .filter(|k| !k.is_empty())
        .map(|k| encode_cursor(&k))
}

/// A Query/Scan response as a page of decoded items.
pub fn page_of<T: DeserializeOwned>(
    items: Option<Vec<Item>>,
    last_evaluated_key: Option<Item>,
) -> AppResult<Page<T>> {
    Ok(Page {
        items: items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<AppResult<_>>()?,
        next_cursor: next_cursor(last_evaluated_key),
    })
}

/// A cursor is accepted only for the partition it was issued for (`attr` = `expected`): a
/// foreign one (another partition or workspace) is a 400, never passed to DynamoDB, where it
/// would fail as a validation error (a 500).
pub fn checked_cursor(cursor: Option<&str>, attr: &str, expected: &str) -> AppResult<Option<Item>> {
    let Some(c) = cursor else {
        return Ok(None);
    };
    let item = decode_cursor(c)?;
    match item.get(attr) {
        Some(AttributeValue::S(v)) if v == expected => Ok(Some(item)),
        _ => Err(AppError::validation("cursor is invalid")),
    }
}

pub fn null() -> AttributeValue {
    AttributeValue::Null(true)
}

/// A string, or NULL when absent.
pub fn opt_s(v: Option<&str>) -> AttributeValue {
    v.map(s).unwrap_or_else(null)
}

/// Unix seconds now (TTL comparisons).
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn hour_bucket(ts: &str) -> String {
    // "2026-11-29T08:49:04.123Z" → "2026112908"
    ts.chars().filter(|c| c.is_ascii_digit()).take(10).collect()
}

/// Creates the table exactly as `template.yaml` declares it (a test compares the two). Used by
/// the tests; the local stack and AWS create it from the template.
pub async fn create_table(client: &Client, name: &str) -> AppResult<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| AppError::internal("build attribute", e))
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(|e| AppError::internal("build key", e))
    };
    let gsi = |name: &str, pk: &str, sk: &str| -> AppResult<GlobalSecondaryIndex> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| AppError::internal("build gsi", e))
    };
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(keys::PK, KeyType::Hash)?)
        .key_schema(key(keys::SK, KeyType::Range)?)
        .global_secondary_indexes(gsi(keys::GSI1, keys::GSI1PK, keys::GSI1SK)?)
        .global_secondary_indexes(gsi(keys::GSI2, keys::GSI2PK, keys::GSI2SK)?)
        .global_secondary_indexes(gsi(keys::GSI3, keys::GSI3PK, keys::GSI3SK)?);
    for a in [
        keys::PK,
        keys::SK,
        keys::GSI1PK,
        keys::GSI1SK,
        keys::GSI2PK,
        keys::GSI2SK,
        keys::GSI3PK,
        keys::GSI3SK,
    ] {
        req = req.attribute_definitions(attr(a)?);
    }
    req.send()
        .await
        .map_err(|e| crate::errors::sdk("dynamodb CreateTable", e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(keys::TTL)
                .enabled(true)
                .build()
                .map_err(|e| AppError::internal("build ttl", e))?,
        )
        .send()
        .await
        .map_err(|e| crate::errors::sdk("dynamodb UpdateTimeToLive", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    fn reason(code: &str, item: Option<Item>) -> TxReason {
        TxReason {
            code: code.to_owned(),
            item,
        }
    }

    #[test]
    fn cancellation_reasons_are_read_by_label() {
        let old = HashMap::from([("totalBookings".to_owned(), n(50))]);
        let c = Cancellation {
            reasons: vec![
                (
                    "counter",
                    reason("ConditionalCheckFailed", Some(old.clone())),
                ),
                ("marker", reason("None", None)),
            ],
        };
        assert!(c.failed("counter"));
        assert!(!c.failed("marker"));
        assert_eq!(c.old_item("counter"), Some(&old));
        assert_eq!(c.old_item("marker"), None);
        // A label DynamoDB gave no reason for (fewer reasons than items) is not a failure.
        assert!(!c.failed("idempotency"));
        let e = c.unexpected("create booking").log_detail();
        assert!(e.contains("counter=ConditionalCheckFailed"), "{e}");
        assert!(e.contains("marker=None"), "{e}");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key: Item = HashMap::from([("pk".to_owned(), s("A")), ("sk".to_owned(), s("B"))]);
        let c = encode_cursor(&key);
        assert_eq!(decode_cursor(&c).unwrap(), key);
        assert!(decode_cursor("not base64!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("[]")).is_err());
    }

    #[test]
    fn hour_buckets_are_utc_hours() {
        assert_eq!(hour_bucket("2026-11-29T08:49:04.123Z"), "2026112908");
    }
}
