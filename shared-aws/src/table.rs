//! DynamoDB adapter: one table, keys from `keys.rs`, invariants as condition expressions,
//! multi-item changes as TransactWriteItems whose cancellation reasons map to typed errors.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::keys::{self, Key};
use shared::bookings::ports::{
    BookingStore, BookingTransition, CancelOutcome, CreateBookingOutcome, ExamCounter, NewBooking,
};
use shared::bookings::{
    ActiveBookingRef, Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam,
};
use shared::error::{AppError, AppResult};
use shared::integrations::ports::IntegrationStore;
use shared::integrations::{AttemptStats, Integration, IntegrationInput, IntegrationKind};
use shared::lease::Lease;
use shared::lease::LeaseStore;
use shared::outbox::ports::OutboxStore;
use shared::outbox::OutboxRecord;
use shared::paging::Page;
use shared::signing::WebhookSecret;
use shared::tenancy::ports::WorkspaceStore;
use shared::tenancy::{ApiKey, Workspace};

pub type Item = HashMap<String, AttributeValue>;

/// Outbox records are kept a week after creation (the sweeper needs minutes).
const OUTBOX_TTL_SECS: i64 = 7 * 24 * 3600;
/// Hour buckets of integration attempts outlive the 24 h window by a day.
const STATS_TTL_SECS: i64 = 48 * 3600;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
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
            .map_err(|e| AppError::internal("dynamodb GetItem", e))?;
        Ok(out.item)
    }

    pub async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> AppResult<Option<T>> {
        self.get(key).await?.map(|i| decode(i)).transpose()
    }

    /// Runs a transaction; on cancellation returns the per-item reason codes.
    pub async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> AppResult<Result<(), Vec<TxReason>>> {
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
                    } else {
                        Ok(Err(reasons))
                    }
                }
                None if is_conflict(&e) => Err(AppError::TransactionConflict),
                None => Err(AppError::internal("dynamodb TransactWriteItems", e)),
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
                .map_err(|e| AppError::internal("dynamodb Query", e))?;
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
                    .map_err(|e| AppError::internal("dynamodb BatchWriteItem delete", e))?;
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

    /// One page of a GSI1 partition, oldest key first.
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
            .set_exclusive_start_key(cursor.map(decode_cursor).transpose()?)
            .send()
            .await
            .map_err(|e| AppError::internal("dynamodb Query gsi1", e))?;
        let next = next_cursor(resp.last_evaluated_key);
        Ok((resp.items.unwrap_or_default(), next))
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
        Err(e) => Err(AppError::internal(context, e)),
    }
}

pub fn unexpected_cancel(context: &'static str, reasons: &[TxReason]) -> AppError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    AppError::internal(context, format!("transaction cancelled: {codes:?}"))
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

// --- workspaces and keys -----------------------------------------------------------------

#[async_trait]
impl WorkspaceStore for DynamoStore {
    async fn create_workspace(&self, ws: &Workspace, first_key: &ApiKey) -> AppResult<()> {
        let ws_item = encode(
            ws,
            &keys::workspace(&ws.id),
            &[
                (keys::GSI1PK, s(keys::WORKSPACES_INDEX_PK)),
                (keys::GSI1SK, s(&ws.id)),
                ("activeKeys", n(1)),
            ],
        )?;
        let items = vec![
            put(&self.table, ws_item, Some("attribute_not_exists(pk)"), &[])?,
            put(
                &self.table,
                encode(first_key, &keys::api_key(&ws.id, &first_key.id), &[])?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
            put(
                &self.table,
                encode(first_key, &keys::api_key_hash(&first_key.hash), &[])?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) => Err(unexpected_cancel("create workspace", &r)),
        }
    }

    async fn get_workspace(&self, id: &str) -> AppResult<Option<Workspace>> {
        self.get_as(&keys::workspace(id)).await
    }

    async fn list_workspaces(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Workspace>> {
        let (items, next_cursor) = self
            .query_gsi1_page(keys::WORKSPACES_INDEX_PK, cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<AppResult<_>>()?,
            next_cursor,
        })
    }

    async fn add_api_key(&self, key: &ApiKey) -> AppResult<()> {
        let items = vec![
            update(
                &self.table,
                UpdateSpec {
                    key: &keys::workspace(&key.workspace_id),
                    expression: "ADD activeKeys :one",
                    condition: Some("attribute_exists(pk)"),
                    names: &[],
                    values: vec![(":one", n(1))],
                    return_old_on_failure: false,
                },
            )?,
            put(
                &self.table,
                encode(key, &keys::api_key(&key.workspace_id, &key.id), &[])?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
            put(
                &self.table,
                encode(key, &keys::api_key_hash(&key.hash), &[])?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) if r[0].failed() => Err(AppError::NotFound("workspace")),
            Err(r) => Err(unexpected_cancel("add api key", &r)),
        }
    }

    async fn find_api_key(&self, hash_hex: &str) -> AppResult<Option<ApiKey>> {
        let key: Option<ApiKey> = self.get_as(&keys::api_key_hash(hash_hex)).await?;
        Ok(key.filter(|k| k.revoked_at.is_none()))
    }

    async fn list_api_keys(&self, workspace_id: &str) -> AppResult<Vec<ApiKey>> {
        let items = self
            .query_all(
                &keys::workspace(workspace_id).pk,
                keys::API_KEY_SK_PREFIX,
                false,
            )
            .await?;
        let mut keys: Vec<ApiKey> = items
            .into_iter()
            .map(decode)
            .collect::<AppResult<Vec<ApiKey>>>()?;
        keys.retain(|k| k.revoked_at.is_none());
        keys.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(keys)
    }

    async fn revoke_api_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now: &str,
    ) -> AppResult<ApiKey> {
        let listed = keys::api_key(workspace_id, key_id);
        let Some(mut key) = self.get_as::<ApiKey>(&listed).await? else {
            return Err(AppError::NotFound("api key"));
        };
        if key.revoked_at.is_some() {
            return Err(AppError::NotFound("api key"));
        }
        let items = vec![
            update(
                &self.table,
                UpdateSpec {
                    key: &keys::workspace(workspace_id),
                    expression: "ADD activeKeys :minus",
                    condition: Some("activeKeys > :one"),
                    names: &[],
                    values: vec![(":minus", n(-1)), (":one", n(1))],
                    return_old_on_failure: false,
                },
            )?,
            update(
                &self.table,
                UpdateSpec {
                    key: &listed,
                    expression: "SET revokedAt = :now",
                    condition: Some("attribute_exists(pk) AND (attribute_not_exists(revokedAt) OR revokedAt = :null)"),
                    names: &[],
                    values: vec![(":now", s(now)), (":null", AttributeValue::Null(true))],
                    return_old_on_failure: false,
                },
            )?,
            delete(&self.table, &keys::api_key_hash(&key.hash), "attribute_exists(pk)", &[])?,
        ];
        match self.transact(items).await? {
            Ok(()) => {
                key.revoked_at = Some(now.to_owned());
                Ok(key)
            }
            Err(r) if r[1].failed() || r[2].failed() => Err(AppError::NotFound("api key")),
            Err(r) if r[0].failed() => Err(AppError::validation(
                "the last active API key of a workspace cannot be revoked",
            )),
            Err(r) => Err(unexpected_cancel("revoke api key", &r)),
        }
    }

    async fn touch_api_key(&self, key: &ApiKey, now: &str) -> AppResult<()> {
        for k in [
            keys::api_key(&key.workspace_id, &key.id),
            keys::api_key_hash(&key.hash),
        ] {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_attrs(&k)))
                .update_expression("SET lastUsedAt = :now")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":now", s(now))
                .send()
                .await;
            conditional(res, "dynamodb touch api key")?;
        }
        Ok(())
    }
}

// --- mock exams and bookings ---------------------------------------------------------------

const EXAM_NAMES: &[(&str, &str)] = &[
    ("#t", "totalBookings"),
    ("#c", "capacity"),
    ("#v", "version"),
];

fn booking_item(ws: &str, b: &Booking, marker_contact: &str) -> AppResult<Item> {
    let mut item = encode(
        b,
        &keys::booking(ws, &b.id),
        &[
            ("workspaceId", s(ws)),
            (
                "markerSk",
                s(keys::active_booking(ws, &b.mock_exam_id, marker_contact).sk),
            ),
        ],
    )?;
    // Users (GDPR erase, `includeBookings`): a contact's bookings are found on gsi2.
    // The erase removes these two attributes together with the contactId.
    if let Some(contact) = b.contact_id.as_deref().filter(|c| !c.is_empty()) {
        item.insert(
            keys::GSI2PK.into(),
            s(keys::contact_bookings_pk(ws, contact)),
        );
        item.insert(keys::GSI2SK.into(), s(&b.id));
    }
    Ok(item)
}

pub fn outbox_put(table: &str, outbox: &OutboxRecord) -> AppResult<TransactWriteItem> {
    let mut item = encode(
        outbox,
        &keys::outbox(&outbox.id),
        &[
            (keys::GSI1PK, s(keys::OUTBOX_PENDING_INDEX_PK)),
            (
                keys::GSI1SK,
                s(format!("{}#{}", outbox.created_at, outbox.id)),
            ),
            (
                keys::TTL,
                n(shared::time::parse(&outbox.created_at)
                    .map(|t| t.timestamp())
                    .unwrap_or_else(|| chrono::Utc::now().timestamp())
                    + OUTBOX_TTL_SECS),
            ),
        ],
    )?;
    // Users (GDPR erase): a record whose events carry a user is findable by that user on gsi2.
    if let Some(user) = shared::users::outbox_user(outbox) {
        item.insert(
            keys::GSI2PK.into(),
            s(keys::user_outbox_pk(&outbox.workspace_id, user)),
        );
        item.insert(keys::GSI2SK.into(), s(&outbox.id));
    }
    put(table, item, Some("attribute_not_exists(pk)"), &[])
}

#[async_trait]
impl BookingStore for DynamoStore {
    async fn put_exam(
        &self,
        ws: &str,
        exam_id: &str,
        input: &ExamInput,
        now: &str,
    ) -> AppResult<MockExam> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::mock_exam(ws, exam_id))))
            .update_expression(
                "SET #name = :name, #c = :cap, examDate = :date, updatedAt = :now, id = :id, \
                 createdAt = if_not_exists(createdAt, :now), #t = if_not_exists(#t, :zero), \
                 #v = if_not_exists(#v, :zero), lastSyncedVersion = if_not_exists(lastSyncedVersion, :zero), \
                 gsi1pk = :g1pk, gsi1sk = :id",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#c", "capacity")
            .expression_attribute_names("#t", "totalBookings")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":name", s(&input.name))
            .expression_attribute_values(":cap", n(input.capacity))
            .expression_attribute_values(
                ":date",
                input
                    .exam_date
                    .as_ref()
                    .map(s)
                    .unwrap_or(AttributeValue::Null(true)),
            )
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":id", s(exam_id))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":g1pk", s(keys::exams_index_pk(ws)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| AppError::internal("dynamodb put exam", e))?;
        decode(out.attributes.unwrap_or_default())
    }

    async fn get_exam(&self, ws: &str, exam_id: &str) -> AppResult<Option<MockExam>> {
        self.get_as(&keys::mock_exam(ws, exam_id)).await
    }

    async fn list_exams(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<MockExam>> {
        let (items, next_cursor) = self
            .query_gsi1_page(&keys::exams_index_pk(ws), cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<AppResult<_>>()?,
            next_cursor,
        })
    }

    async fn create_booking(&self, new: &NewBooking) -> AppResult<CreateBookingOutcome> {
        let ws = new.workspace_id.as_str();
        let b = &new.booking;
        let contact = b.contact_id.as_deref().unwrap_or_default();
        let exam_key = keys::mock_exam(ws, &b.mock_exam_id);
        let marker = ActiveBookingRef {
            booking_id: b.id.clone(),
            contact_id: contact.to_owned(),
        };
        let mut items = vec![
            update(
                &self.table,
                UpdateSpec {
                    key: &exam_key,
                    expression: "SET #t = #t + :one, #v = #v + :one, updatedAt = :now",
                    condition: Some("attribute_exists(pk) AND #t < #c"),
                    names: EXAM_NAMES,
                    values: vec![(":one", n(1)), (":now", s(&new.now))],
                    return_old_on_failure: true,
                },
            )?,
            put(
                &self.table,
                encode(
                    &marker,
                    &keys::active_booking(ws, &b.mock_exam_id, contact),
                    &[],
                )?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
            put(
                &self.table,
                booking_item(ws, b, contact)?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
            outbox_put(&self.table, &new.outbox)?,
        ];
        if let Some((key_hash, record)) = &new.idempotency {
            let now_secs = shared::time::parse(&new.now)
                .map(|t| t.timestamp())
                .unwrap_or_default();
            items.push(put(
                &self.table,
                encode(
                    record,
                    &keys::idempotency(ws, "booking", key_hash),
                    &[(keys::TTL, n(record.expires_at))],
                )?,
                Some("attribute_not_exists(pk) OR expires_at < :now"),
                &[(":now", n(now_secs))],
            )?);
        }
        let reasons = match self.transact(items).await? {
            Ok(()) => return Ok(CreateBookingOutcome::Created),
            Err(r) => r,
        };
        if reasons.get(4).is_some_and(TxReason::failed) {
            if let Some((key_hash, _)) = &new.idempotency {
                return match self.get_idempotency(ws, key_hash).await? {
                    Some(rec) => Ok(CreateBookingOutcome::IdempotencyKeyExists(rec)),
                    // Expired between the condition and the read: try again.
                    None => Err(AppError::TransactionConflict),
                };
            }
        }
        if reasons[1].failed() {
            return Err(AppError::AlreadyBooked);
        }
        if reasons[0].failed() {
            let exists = match &reasons[0].item {
                Some(item) => !item.is_empty(),
                None => self.get(&exam_key).await?.is_some(),
            };
            return Err(if exists {
                AppError::CapacityExceeded
            } else {
                AppError::NotFound("mock exam")
            });
        }
        Err(unexpected_cancel("create booking", &reasons))
    }

    async fn get_idempotency(
        &self,
        ws: &str,
        key_hash: &str,
    ) -> AppResult<Option<IdempotencyRecord>> {
        let rec: Option<IdempotencyRecord> = self
            .get_as(&keys::idempotency(ws, "booking", key_hash))
            .await?;
        let now = chrono::Utc::now().timestamp();
        // TTL deletion is lazy (days): an expired record is treated as absent.
        Ok(rec.filter(|r| r.expires_at >= now))
    }

    async fn get_booking(&self, ws: &str, booking_id: &str) -> AppResult<Option<Booking>> {
        self.get_as(&keys::booking(ws, booking_id)).await
    }

    async fn cancel_booking(
        &self,
        ws: &str,
        booking_id: &str,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<CancelOutcome> {
        let bkey = keys::booking(ws, booking_id);
        let Some(item) = self.get(&bkey).await? else {
            return Err(AppError::NotFound("booking"));
        };
        let marker_sk = str_attr(&item, "markerSk");
        let booking: Booking = decode(item)?;
        match booking.status {
            BookingStatus::Cancelled => return Ok(CancelOutcome::AlreadyCancelled(booking)),
            BookingStatus::Completed => {
                return Err(AppError::validation(format!(
                    "booking {booking_id} is completed and cannot be cancelled"
                )))
            }
            BookingStatus::Active => {}
        }
        let Some(marker_sk) = marker_sk else {
            return Err(AppError::internal_msg("booking item has no markerSk"));
        };
        let marker = Key {
            pk: keys::active_bookings_partition(ws, &booking.mock_exam_id),
            sk: marker_sk,
        };
        let items = vec![
            update(
                &self.table,
                UpdateSpec {
                    key: &bkey,
                    expression: "SET #s = :cancelled, cancelledAt = :now, updatedAt = :now",
                    condition: Some("#s = :active"),
                    names: &[("#s", "status")],
                    values: vec![
                        (":cancelled", s("cancelled")),
                        (":active", s("active")),
                        (":now", s(now)),
                    ],
                    return_old_on_failure: false,
                },
            )?,
            delete(
                &self.table,
                &marker,
                "bookingId = :bid",
                &[(":bid", s(booking_id))],
            )?,
            update(
                &self.table,
                UpdateSpec {
                    key: &keys::mock_exam(ws, &booking.mock_exam_id),
                    expression: "SET #t = #t - :one, #v = #v + :one, updatedAt = :now",
                    condition: Some("attribute_exists(pk)"),
                    names: &[("#t", "totalBookings"), ("#v", "version")],
                    values: vec![(":one", n(1)), (":now", s(now))],
                    return_old_on_failure: false,
                },
            )?,
            outbox_put(&self.table, outbox)?,
        ];
        match self.transact(items).await? {
            Ok(()) => {
                let mut b = booking;
                b.status = BookingStatus::Cancelled;
                b.cancelled_at = Some(now.to_owned());
                b.updated_at = Some(now.to_owned());
                Ok(CancelOutcome::Cancelled(b))
            }
            Err(r) if r[0].failed() => match self.get_booking(ws, booking_id).await? {
                Some(b) if b.status == BookingStatus::Cancelled => {
                    Ok(CancelOutcome::AlreadyCancelled(b))
                }
                _ => Err(AppError::TransactionConflict),
            },
            Err(r) => Err(unexpected_cancel("cancel booking", &r)),
        }
    }

    async fn transition_booking(
        &self,
        ws: &str,
        booking_id: &str,
        transition: BookingTransition,
        scanned_by: Option<&str>,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<Booking> {
        let bkey = keys::booking(ws, booking_id);
        let Some(mut booking) = self.get_as::<Booking>(&bkey).await? else {
            return Err(AppError::NotFound("booking"));
        };
        let expected = booking.status;
        shared::bookings::apply_transition(&mut booking, transition, scanned_by, now)?;
        let qr = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&booking.qr_code)
            .map_err(|e| AppError::internal("encode qr", e))?;
        let completed = booking
            .completed_at
            .as_ref()
            .map(s)
            .unwrap_or(AttributeValue::Null(true));
        let items = vec![
            update(
                &self.table,
                UpdateSpec {
                    key: &bkey,
                    expression:
                        "SET #s = :status, updatedAt = :now, completedAt = :completed, qrCode = :qr",
                    condition: Some("#s = :expected"),
                    names: &[("#s", "status")],
                    values: vec![
                        (":status", s(status_str(booking.status))),
                        (":expected", s(status_str(expected))),
                        (":now", s(now)),
                        (":completed", completed),
                        (":qr", qr),
                    ],
                    return_old_on_failure: false,
                },
            )?,
            outbox_put(&self.table, outbox)?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(booking),
            Err(r) if r[0].failed() => Err(AppError::TransactionConflict),
            Err(r) => Err(unexpected_cancel("transition booking", &r)),
        }
    }

    async fn list_active_bookings(
        &self,
        ws: &str,
        exam_id: &str,
    ) -> AppResult<Vec<ActiveBookingRef>> {
        self.query_all(
            &keys::active_bookings_partition(ws, exam_id),
            keys::ACTIVE_BOOKING_SK_PREFIX,
            true,
        )
        .await?
        .into_iter()
        .map(decode)
        .collect()
    }

    async fn list_exam_counters(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ExamCounter>> {
        let (items, next_cursor) = self
            .query_gsi1_page(&keys::exams_index_pk(ws), cursor, limit)
            .await?;
        let exam_pk_prefix = keys::active_bookings_partition(ws, "");
        let items = items
            .iter()
            .filter_map(|item| {
                let exam_id = str_attr(item, "id").or_else(|| {
                    str_attr(item, keys::PK)?
                        .strip_prefix(&exam_pk_prefix)
                        .map(str::to_owned)
                })?;
                Some(ExamCounter {
                    exam_id,
                    total_bookings: num_attr(item, "totalBookings"),
                    version: num_attr(item, "version"),
                    last_synced_version: num_attr(item, "lastSyncedVersion").unwrap_or(0),
                })
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    async fn mark_synced(&self, ws: &str, exam_id: &str, version: i64) -> AppResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::mock_exam(ws, exam_id))))
            .update_expression("SET lastSyncedVersion = :v")
            .condition_expression("attribute_exists(pk) AND lastSyncedVersion < :v")
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(AppError::internal("dynamodb mark synced", e)),
        }
    }

    async fn fix_counter(
        &self,
        ws: &str,
        exam_id: &str,
        expected_version: i64,
        count: i64,
        now: &str,
    ) -> AppResult<bool> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::mock_exam(ws, exam_id))))
            .update_expression("SET #t = :count, #v = #v + :one, updatedAt = :now")
            .condition_expression("#v = :expected")
            .expression_attribute_names("#t", "totalBookings")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":count", n(count))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await;
        conditional(res, "dynamodb fix counter")
    }
}

fn status_str(s: BookingStatus) -> &'static str {
    match s {
        BookingStatus::Active => "active",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Completed => "completed",
    }
}

// --- integrations ----------------------------------------------------------------------------

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn put_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
        input: &IntegrationInput,
        new_secret: &WebhookSecret,
        now: &str,
    ) -> AppResult<Integration> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::integration(ws, kind.as_str()))))
            .update_expression(
                "SET #type = :kind, webhookUrl = :url, enabled = :enabled, retryAttempts = :ra, \
                 retryDelay = :rd, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), \
                 secret = if_not_exists(secret, :secret)",
            )
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":kind", s(kind.as_str()))
            .expression_attribute_values(":url", s(&input.webhook_url))
            .expression_attribute_values(":enabled", AttributeValue::Bool(input.enabled))
            .expression_attribute_values(":ra", n(i64::from(input.retry_attempts)))
            .expression_attribute_values(":rd", n(i64::from(input.retry_delay)))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":secret", s(new_secret.expose()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| AppError::internal("dynamodb put integration", e))?;
        decode(out.attributes.unwrap_or_default())
    }

    async fn get_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
    ) -> AppResult<Option<Integration>> {
        self.get_as(&keys::integration(ws, kind.as_str())).await
    }

    async fn record_attempt(
        &self,
        ws: &str,
        kind: IntegrationKind,
        now: &str,
        error: Option<&str>,
    ) -> AppResult<()> {
        let field = if error.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        let ttl = shared::time::parse(now)
            .map(|t| t.timestamp())
            .unwrap_or_default()
            + STATS_TTL_SECS;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::integration_stats(
                ws,
                kind.as_str(),
                &hour_bucket(now),
            ))))
            .update_expression("ADD #f :one SET expires_at = :ttl")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(ttl))
            .send()
            .await
            .map_err(|e| AppError::internal("dynamodb record attempt", e))?;
        if let Some(err) = error {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_attrs(&keys::integration(ws, kind.as_str()))))
                .update_expression("SET lastError = :e, lastErrorAt = :now")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":e", s(err))
                .expression_attribute_values(":now", s(now))
                .send()
                .await;
            conditional(res, "dynamodb record last error")?;
        }
        Ok(())
    }

    async fn attempt_stats(
        &self,
        ws: &str,
        kind: IntegrationKind,
        since: &str,
    ) -> AppResult<AttemptStats> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk >= :from")
            .expression_attribute_values(
                ":pk",
                s(keys::integration_stats_partition(ws, kind.as_str())),
            )
            .expression_attribute_values(":from", s(format!("H#{}", hour_bucket(since))))
            .send()
            .await
            .map_err(|e| AppError::internal("dynamodb query stats", e))?;
        let mut stats = AttemptStats::default();
        for item in resp.items.unwrap_or_default() {
            stats.succeeded += num_attr(&item, "succeeded").unwrap_or(0).max(0) as u64;
            stats.failed += num_attr(&item, "failed").unwrap_or(0).max(0) as u64;
        }
        Ok(stats)
    }
}

// --- leases ------------------------------------------------------------------------------------

#[async_trait]
impl LeaseStore for DynamoStore {
    async fn try_acquire(&self, lease: &Lease, owner: &str, ttl: Duration) -> AppResult<bool> {
        let key = &keys::lease(lease);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let until = now_ms + ttl.as_millis() as i64;
        let mut item = key_attrs(key);
        item.insert("owner".into(), s(owner));
        item.insert("leaseUntil".into(), n(until));
        item.insert(keys::TTL.into(), n(until / 1000 + 3600));
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR leaseUntil < :now")
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        conditional(res, "dynamodb acquire lease")
    }

    async fn release(&self, lease: &Lease, owner: &str) -> AppResult<()> {
        let key = &keys::lease(lease);
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(AppError::internal("dynamodb release lease", e)),
        }
    }
}

// --- outbox ------------------------------------------------------------------------------------

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn get_outbox(&self, id: &str) -> AppResult<Option<OutboxRecord>> {
        self.get_as(&keys::outbox(id)).await
    }

    async fn mark_enqueued(&self, id: &str, now: &str) -> AppResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::outbox(id))))
            .update_expression("SET enqueuedAt = :now REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(AppError::NotFound("outbox record")),
            Err(e) => Err(AppError::internal("dynamodb mark enqueued", e)),
        }
    }

    async fn list_unenqueued(
        &self,
        created_before: &str,
        limit: u32,
    ) -> AppResult<Vec<OutboxRecord>> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :before")
            .expression_attribute_values(":pk", s(keys::OUTBOX_PENDING_INDEX_PK))
            .expression_attribute_values(":before", s(created_before))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| AppError::internal("dynamodb query outbox", e))?;
        resp.items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<AppResult<Vec<OutboxRecord>>>()
            .map(|mut v| {
                v.retain(|r| r.enqueued_at.is_none());
                v
            })
    }
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
        .global_secondary_indexes(gsi(keys::GSI2, keys::GSI2PK, keys::GSI2SK)?);
    for a in [
        keys::PK,
        keys::SK,
        keys::GSI1PK,
        keys::GSI1SK,
        keys::GSI2PK,
        keys::GSI2SK,
    ] {
        req = req.attribute_definitions(attr(a)?);
    }
    req.send()
        .await
        .map_err(|e| AppError::internal("dynamodb CreateTable", e))?;
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
        .map_err(|e| AppError::internal("dynamodb UpdateTimeToLive", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

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
