//! DynamoDB adapter of the user and export ports (single table, keys in `keys.rs`).
//!
//! A user item sits on gsi1 (by created) and gsi2 (by updated); tag, consent and opt-in
//! entries are separate items, and the email's uniqueness item is keyed by its hash. All of
//! them change in the user's transaction together with the outbox record of its events.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use crate::keys::{self, Key};
use crate::outbox::outbox_put;
use crate::table::{
    decode, delete, encode, is_conditional_failure, key_attrs, n, put, s, str_attr, update,
    DynamoStore, Item, Tx, UpdateSpec,
};
use shared::bookings::{Booking, BookingStatus};
use shared::error::{AppError, AppResult};
use shared::outbox::OutboxRecord;
use shared::users::query::{IndexScan, ScanPage, UserIndex};
use shared::users::{redact_event, EraseReport, User, UserStore};

/// DynamoDB's TransactWriteItems limit.
const MAX_TX_ITEMS: usize = 100;

/// The user item as stored (public for seeding tools and tests).
pub fn user_item(ws: &str, u: &User) -> AppResult<Item> {
    encode(
        u,
        &keys::user(ws, &u.id),
        &[
            ("workspaceId", s(ws)),
            (keys::GSI1PK, s(keys::users_by_created_pk(ws))),
            (keys::GSI1SK, s(u.created_position())),
            (keys::GSI2PK, s(keys::users_by_updated_pk(ws))),
            (keys::GSI2SK, s(u.updated_position())),
        ],
    )
}

/// The tag / consent / opt-in entries a user has (sk = its creation position).
pub fn index_entries(ws: &str, u: &User) -> Vec<Key> {
    let pos = u.created_position();
    let mut out: Vec<Key> = u
        .tag_keys()
        .into_iter()
        .map(|t| keys::user_index_entry(keys::user_tag_partition(ws, &t), &pos))
        .collect();
    if u.export_consent.given {
        out.push(keys::user_index_entry(
            keys::user_consent_partition(ws),
            &pos,
        ));
    }
    for p in u.opt_ins.platforms() {
        out.push(keys::user_index_entry(
            keys::user_optin_partition(ws, p),
            &pos,
        ));
    }
    out
}

pub fn entry_item(key: &Key, user_id: &str) -> Item {
    let mut item = key_attrs(key);
    item.insert("userId".into(), s(user_id));
    item
}

fn index_partition(ws: &str, index: &UserIndex) -> Option<String> {
    match index {
        UserIndex::Created | UserIndex::Updated => None,
        UserIndex::Tag(t) => Some(keys::user_tag_partition(ws, t)),
        UserIndex::Consent => Some(keys::user_consent_partition(ws)),
        UserIndex::OptIn(p) => Some(keys::user_optin_partition(ws, p)),
    }
}

fn user_id_of(position: &str) -> &str {
    position.rsplit('#').next().unwrap_or(position)
}

impl DynamoStore {
    /// Every item of a GSI partition.
    async fn query_index_all(&self, index: &str, pk_attr: &str, pk: &str) -> AppResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(index)
                .key_condition_expression("#p = :pk")
                .expression_attribute_names("#p", pk_attr)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb Query index", e))?;
            out.extend(resp.items.unwrap_or_default());
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Users by id, in the order given; missing or erased ones are left out.
    async fn batch_get_users(&self, ws: &str, ids: &[String]) -> AppResult<Vec<User>> {
        let mut found: HashMap<String, User> = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|id| key_attrs(&keys::user(ws, id)))
                .collect();
            let mut rounds = 0;
            while !pending.is_empty() {
                rounds += 1;
                if rounds > 8 {
                    return Err(AppError::TransactionConflict);
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| AppError::internal("build BatchGet", e))?;
                let resp = self
                    .client()
                    .batch_get_item()
                    .request_items(self.table(), ka)
                    .send()
                    .await
                    .map_err(|e| crate::errors::sdk("dynamodb BatchGetItem", e))?;
                for item in resp
                    .responses
                    .and_then(|mut r| r.remove(self.table()))
                    .unwrap_or_default()
                {
                    if item.contains_key("deleted") {
                        continue;
                    }
                    let u: User = decode(item)?;
                    found.insert(u.id.clone(), u);
                }
                if let Some(un) = resp
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(self.table()))
                {
                    pending = un.keys;
                    if !pending.is_empty() {
                        tokio::time::sleep(std::time::Duration::from_millis(20 * rounds)).await;
                    }
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    async fn user_item_raw(&self, ws: &str, id: &str) -> AppResult<Option<Item>> {
        Ok(self
            .get(&keys::user(ws, id))
            .await?
            .filter(|i| !i.contains_key("deleted")))
    }

    /// Removes `contact` from one booking (and re-keys its active marker).
    async fn unlink_booking(&self, ws: &str, item: Item, contact: &str) -> AppResult<bool> {
        let marker_sk = str_attr(&item, "markerSk");
        let booking: Booking = decode(item)?;
        if booking.contact_id.as_deref() != Some(contact) {
            return Ok(false);
        }
        let bkey = keys::booking(ws, &booking.id);
        let old_marker = keys::active_booking(ws, &booking.mock_exam_id, contact);
        let re_key = booking.status == BookingStatus::Active
            && marker_sk.as_deref() == Some(old_marker.sk.as_str());
        let new_marker = keys::erased_active_booking(ws, &booking.mock_exam_id, &booking.id);
        let mut items = Tx::new().with(
            "booking",
            update(
                self.table(),
                UpdateSpec {
                    key: &bkey,
                    expression: if re_key {
                        "SET contactId = :null, markerSk = :marker REMOVE gsi2pk, gsi2sk"
                    } else {
                        "SET contactId = :null REMOVE gsi2pk, gsi2sk"
                    },
                    condition: Some("contactId = :c"),
                    names: &[],
                    values: {
                        let mut v = vec![(":null", AttributeValue::Null(true)), (":c", s(contact))];
                        if re_key {
                            v.push((":marker", s(&new_marker.sk)));
                        }
                        v
                    },
                    return_old_on_failure: false,
                },
            )?,
        );
        if re_key {
            items.add(
                "old_marker",
                delete(
                    self.table(),
                    &old_marker,
                    "bookingId = :bid",
                    &[(":bid", s(&booking.id))],
                )?,
            );
            let mut marker = key_attrs(&new_marker);
            marker.insert("bookingId".into(), s(&booking.id));
            marker.insert("contactId".into(), s(""));
            items.add(
                "new_marker",
                put(self.table(), marker, Some("attribute_not_exists(pk)"), &[])?,
            );
        }
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            // Cancelled or re-keyed meanwhile: the caller's retry reads it again.
            Err(_) => Err(AppError::TransactionConflict),
        }
    }

    async fn unlink_bookings(&self, ws: &str, contact: &str) -> AppResult<usize> {
        let items = self
            .query_index_all(
                keys::GSI2,
                keys::GSI2PK,
                &keys::contact_bookings_pk(ws, contact),
            )
            .await?;
        let mut n = 0;
        for item in items {
            // GSI reads are eventually consistent: read the booking itself.
            let Some(id) = str_attr(&item, "id") else {
                continue;
            };
            let Some(fresh) = self.get(&keys::booking(ws, &id)).await? else {
                continue;
            };
            if self.unlink_booking(ws, fresh, contact).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Redacts the outbox records carrying the user and the deliveries made from them.
    async fn redact_outbound(&self, ws: &str, user_id: &str) -> AppResult<(usize, usize)> {
        let items = self
            .query_index_all(keys::GSI2, keys::GSI2PK, &keys::user_outbox_pk(ws, user_id))
            .await?;
        let subscriptions: Vec<String> = self
            .query_all(
                &keys::subscriptions_partition(ws),
                keys::SUBSCRIPTION_SK_PREFIX,
                false,
            )
            .await?
            .iter()
            .filter_map(|i| str_attr(i, "id"))
            .collect();
        let (mut records, mut deliveries) = (0, 0);
        for item in items {
            let Some(id) = str_attr(&item, "id") else {
                continue;
            };
            let Some(mut record) = self.get_as::<OutboxRecord>(&keys::outbox(&id)).await? else {
                continue;
            };
            let mut redacted = Vec::new();
            for e in &mut record.events {
                if redact_event(e, user_id) {
                    redacted.push(e.clone());
                }
            }
            let events = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&record.events)
                .map_err(|e| AppError::internal("encode events", e))?;
            self.client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(key_attrs(&keys::outbox(&id))))
                .update_expression("SET events = :e REMOVE gsi2pk, gsi2sk")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":e", events)
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb redact outbox", e))?;
            records += 1;
            // Deliveries already fanned out hold the payload: their ids derive from
            // (event id, subscription id), so each can be found without an index.
            for e in &redacted {
                for sub in &subscriptions {
                    let dkey =
                        keys::delivery(ws, &shared::subscriptions::delivery_id_for(&e.id, sub));
                    let Some(d) = self.get(&dkey).await? else {
                        continue;
                    };
                    let Some(payload) = str_attr(&d, "payload") else {
                        continue;
                    };
                    let mut body: serde_json::Value =
                        serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
                    if !body.is_object() {
                        continue;
                    }
                    body["data"] = e.data.clone();
                    let res = self
                        .client()
                        .update_item()
                        .table_name(self.table())
                        .set_key(Some(key_attrs(&dkey)))
                        .update_expression("SET payload = :p")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":p", s(body.to_string()))
                        .send()
                        .await;
                    match res {
                        Ok(_) => deliveries += 1,
                        Err(err) if is_conditional_failure(&err) => {}
                        Err(err) => {
                            return Err(crate::errors::sdk("dynamodb redact delivery", err))
                        }
                    }
                }
            }
        }
        Ok((records, deliveries))
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, ws: &str, user: &User, outbox: &OutboxRecord) -> AppResult<()> {
        let t = self.table();
        let mut items = Tx::new().with(
            "user",
            put(
                t,
                user_item(ws, user)?,
                Some("attribute_not_exists(pk)"),
                &[],
            )?,
        );
        if let Some(e) = user.email_key() {
            items.add(
                "email",
                put(
                    t,
                    entry_item(&keys::user_email(ws, &e), &user.id),
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            );
        }
        for k in index_entries(ws, user) {
            items.add("index_entry", put(t, entry_item(&k, &user.id), None, &[])?);
        }
        items.add(
            "counter",
            update(
                t,
                UpdateSpec {
                    key: &keys::user_counter(ws),
                    expression: "ADD #u :one",
                    condition: None,
                    names: &[("#u", "users")],
                    values: vec![(":one", n(1))],
                    return_old_on_failure: false,
                },
            )?,
        );
        items.add("outbox", outbox_put(t, outbox)?);
        if items.len() > MAX_TX_ITEMS {
            return Err(AppError::validation(
                "the user has too many tags and opt-ins to store at once",
            ));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) if r.failed("email") => Err(AppError::EmailTaken),
            Err(r) => Err(r.unexpected("create user")),
        }
    }

    async fn get_user(&self, ws: &str, id: &str) -> AppResult<Option<User>> {
        self.user_item_raw(ws, id).await?.map(decode).transpose()
    }

    async fn update_user(
        &self,
        ws: &str,
        old: &User,
        new: &User,
        outbox: &OutboxRecord,
    ) -> AppResult<()> {
        let t = self.table();
        let mut items = Tx::new().with(
            "user",
            put(
                t,
                user_item(ws, new)?,
                Some("attribute_exists(pk) AND version = :v AND attribute_not_exists(deleted)"),
                &[(":v", n(old.version))],
            )?,
        );
        let (oe, ne) = (old.email_key(), new.email_key());
        if oe != ne {
            if let Some(e) = &oe {
                items.add(
                    "old_email",
                    delete(
                        t,
                        &keys::user_email(ws, e),
                        "userId = :id",
                        &[(":id", s(&old.id))],
                    )?,
                );
            }
            if let Some(e) = &ne {
                items.add(
                    "email",
                    put(
                        t,
                        entry_item(&keys::user_email(ws, e), &new.id),
                        Some("attribute_not_exists(pk)"),
                        &[],
                    )?,
                );
            }
        }
        let (before, after) = (index_entries(ws, old), index_entries(ws, new));
        for k in before.iter().filter(|k| !after.contains(k)) {
            items.add(
                "stale_index_entry",
                delete(
                    t,
                    k,
                    "attribute_exists(pk) OR attribute_not_exists(pk)",
                    &[],
                )?,
            );
        }
        for k in after.iter().filter(|k| !before.contains(k)) {
            items.add("index_entry", put(t, entry_item(k, &new.id), None, &[])?);
        }
        if !outbox.events.is_empty() {
            items.add("outbox", outbox_put(t, outbox)?);
        }
        if items.len() > MAX_TX_ITEMS {
            return Err(AppError::validation(
                "too many tag and opt-in changes at once",
            ));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) if r.failed("email") => Err(AppError::EmailTaken),
            Err(r) if r.failed("user") => match self.get_user(ws, &old.id).await? {
                Some(_) => Err(AppError::TransactionConflict),
                None => Err(AppError::NotFound("user")),
            },
            Err(r) => Err(r.unexpected("update user")),
        }
    }

    async fn erase_user(
        &self,
        ws: &str,
        id: &str,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<EraseReport> {
        let Some(user) = self.get_user(ws, id).await? else {
            return Err(AppError::NotFound("user"));
        };
        // Links and copies first (each step idempotent), the tombstone last: a failure
        // part-way leaves the user in place, so the DELETE can simply be repeated.
        let mut bookings_unlinked = self.unlink_bookings(ws, id).await?;
        let (outbox_records_redacted, deliveries_redacted) = self.redact_outbound(ws, id).await?;
        let t = self.table();
        let mut tomb = key_attrs(&keys::user(ws, id));
        tomb.insert("id".into(), s(id));
        tomb.insert("deleted".into(), AttributeValue::Bool(true));
        tomb.insert("deletedAt".into(), s(now));
        tomb.insert("workspaceId".into(), s(ws));
        let mut items = Tx::new().with(
            "user",
            put(
                t,
                tomb,
                Some("attribute_exists(pk) AND version = :v AND attribute_not_exists(deleted)"),
                &[(":v", n(user.version))],
            )?,
        );
        if let Some(e) = user.email_key() {
            items.add(
                "email",
                delete(
                    t,
                    &keys::user_email(ws, &e),
                    "userId = :id",
                    &[(":id", s(id))],
                )?,
            );
        }
        for k in index_entries(ws, &user) {
            items.add(
                "index_entry",
                delete(
                    t,
                    &k,
                    "attribute_exists(pk) OR attribute_not_exists(pk)",
                    &[],
                )?,
            );
        }
        items.add(
            "counter",
            update(
                t,
                UpdateSpec {
                    key: &keys::user_counter(ws),
                    expression: "ADD #u :minus",
                    condition: None,
                    names: &[("#u", "users")],
                    values: vec![(":minus", n(-1))],
                    return_old_on_failure: false,
                },
            )?,
        );
        items.add("outbox", outbox_put(t, outbox)?);
        match self.transact(items).await? {
            Ok(()) => {}
            Err(r) if r.failed("user") => {
                return match self.get_user(ws, id).await? {
                    Some(_) => Err(AppError::TransactionConflict),
                    None => Err(AppError::NotFound("user")),
                }
            }
            Err(r) => return Err(r.unexpected("erase user")),
        }
        // A booking made while the erase ran: unlink it too.
        bookings_unlinked += self.unlink_bookings(ws, id).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e.log_detail(), "second booking pass of an erase failed");
            0
        });
        Ok(EraseReport {
            bookings_unlinked,
            outbox_records_redacted,
            deliveries_redacted,
        })
    }

    async fn scan_users(&self, ws: &str, scan: &IndexScan) -> AppResult<ScanPage> {
        let partition = index_partition(ws, &scan.index);
        let (index_name, pk_attr, sk_attr, pk) = match (&scan.index, &partition) {
            (UserIndex::Created, _) => (
                Some(keys::GSI1),
                keys::GSI1PK,
                keys::GSI1SK,
                keys::users_by_created_pk(ws),
            ),
            (UserIndex::Updated, _) => (
                Some(keys::GSI2),
                keys::GSI2PK,
                keys::GSI2SK,
                keys::users_by_updated_pk(ws),
            ),
            (_, Some(p)) => (None, keys::PK, keys::SK, p.clone()),
            (_, None) => return Err(AppError::internal_msg("index without partition")),
        };
        let mut cond = "#p = :pk".to_owned();
        let mut values: Vec<(&str, AttributeValue)> = vec![(":pk", s(&pk))];
        match (&scan.from, &scan.to) {
            (Some(f), Some(t)) => {
                cond.push_str(" AND #s BETWEEN :from AND :to");
                values.push((":from", s(f)));
                values.push((":to", s(t)));
            }
            (Some(f), None) => {
                cond.push_str(" AND #s >= :from");
                values.push((":from", s(f)));
            }
            (None, Some(t)) => {
                cond.push_str(" AND #s < :to");
                values.push((":to", s(t)));
            }
            (None, None) => {}
        }
        let start = scan.after.as_ref().map(|after| {
            let mut k =
                HashMap::from([(pk_attr.to_owned(), s(&pk)), (sk_attr.to_owned(), s(after))]);
            if index_name.is_some() {
                k.extend(key_attrs(&keys::user(ws, user_id_of(after))));
            }
            k
        });
        let mut req = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression(cond)
            .expression_attribute_names("#p", pk_attr)
            .scan_index_forward(!scan.descending)
            .limit(scan.max.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start);
        if let Some(i) = index_name {
            req = req.index_name(i);
        }
        if scan.from.is_some() || scan.to.is_some() {
            req = req.expression_attribute_names("#s", sk_attr);
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb Query users", e))?;
        let items = resp.items.unwrap_or_default();
        let examined = items.len();
        let last = resp
            .last_evaluated_key
            .filter(|k| !k.is_empty())
            .and_then(|k| match k.get(sk_attr) {
                Some(AttributeValue::S(v)) => Some(v.clone()),
                _ => None,
            });
        let users = if index_name.is_some() {
            items
                .into_iter()
                .filter(|i| !i.contains_key("deleted"))
                .map(|i| {
                    let pos = str_attr(&i, sk_attr).unwrap_or_default();
                    decode::<User>(i).map(|u| (pos, u))
                })
                .collect::<AppResult<Vec<_>>>()?
        } else {
            let positions: Vec<(String, String)> = items
                .iter()
                .filter_map(|i| Some((str_attr(i, keys::SK)?, str_attr(i, "userId")?)))
                .collect();
            let ids: Vec<String> = positions.iter().map(|(_, id)| id.clone()).collect();
            let mut by_id: HashMap<String, User> = self
                .batch_get_users(ws, &ids)
                .await?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect();
            positions
                .into_iter()
                .filter_map(|(pos, id)| by_id.remove(&id).map(|u| (pos, u)))
                .collect()
        };
        Ok(ScanPage {
            users,
            examined,
            last,
        })
    }

    async fn count_users(&self, ws: &str) -> AppResult<u64> {
        Ok(self
            .get(&keys::user_counter(ws))
            .await?
            .and_then(|i| crate::table::num_attr(&i, "users"))
            .unwrap_or(0)
            .max(0) as u64)
    }

    async fn bookings_of(&self, ws: &str, contact: &str) -> AppResult<Vec<Booking>> {
        let mut v: Vec<Booking> = self
            .query_index_all(
                keys::GSI2,
                keys::GSI2PK,
                &keys::contact_bookings_pk(ws, contact),
            )
            .await?
            .into_iter()
            .map(decode)
            .collect::<AppResult<_>>()?;
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }
}
