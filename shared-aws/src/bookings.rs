//! DynamoDB adapter of `BookingStore`: exams, bookings, active markers, counters and
//! idempotency records; every multi-item change is one TransactWriteItems.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::keys::{self, Key};
use crate::outbox::outbox_put;
use crate::table::{
    conditional, decode, delete, encode, is_conditional_failure, key_attrs, n, num_attr, put, s,
    str_attr, update, DynamoStore, IndexQuery, Item, Tx, UpdateSpec,
};
use shared::bookings::ports::{
    BookingStore, BookingTransition, CancelOutcome, CreateBookingOutcome, ExamCounter, NewBooking,
};
use shared::bookings::{
    ActiveBookingRef, Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam,
};
use shared::error::{AppError, AppResult};
use shared::outbox::OutboxRecord;
use shared::paging::Page;

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
            // The exam's bookings list (console, `GET /api/mock-exams/{id}/bookings`).
            (
                keys::GSI1PK,
                s(keys::exam_bookings_index_pk(ws, &b.mock_exam_id)),
            ),
            (keys::GSI1SK, s(&b.id)),
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
            .map_err(|e| crate::errors::sdk("dynamodb put exam", e))?;
        decode(out.attributes.unwrap_or_default())
    }

    async fn update_exam(
        &self,
        ws: &str,
        before: &MockExam,
        input: &ExamInput,
        bump_version: bool,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<()> {
        let key = keys::mock_exam(ws, &before.id);
        let date = |d: &Option<String>| d.as_ref().map(s).unwrap_or(AttributeValue::Null(true));
        let expression = if bump_version {
            "SET #name = :name, #c = :cap, examDate = :date, updatedAt = :now, #v = #v + :one"
        } else {
            "SET #name = :name, #c = :cap, examDate = :date, updatedAt = :now"
        };
        // The old date is either a string or absent/NULL (an exam saved without one).
        let date_condition = if before.exam_date.is_some() {
            "examDate = :old_date"
        } else {
            "(attribute_not_exists(examDate) OR attribute_type(examDate, :null_type))"
        };
        let condition = format!("#name = :old_name AND #c = :old_cap AND {date_condition}");
        let mut values = vec![
            (":name", s(&input.name)),
            (":cap", n(input.capacity)),
            (":date", date(&input.exam_date)),
            (":now", s(now)),
            (":old_name", s(&before.name)),
            (":old_cap", n(before.capacity)),
        ];
        match &before.exam_date {
            Some(d) => values.push((":old_date", s(d))),
            None => values.push((":null_type", s("NULL"))),
        }
        if bump_version {
            values.push((":one", n(1)));
        }
        let names: &[(&str, &str)] = if bump_version {
            &[("#name", "name"), ("#c", "capacity"), ("#v", "version")]
        } else {
            &[("#name", "name"), ("#c", "capacity")]
        };
        let items = Tx::new()
            .with(
                "exam",
                update(
                    &self.table,
                    UpdateSpec {
                        key: &key,
                        expression,
                        condition: Some(&condition),
                        names,
                        values,
                        return_old_on_failure: false,
                    },
                )?,
            )
            .with("outbox", outbox_put(&self.table, outbox)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) if r.failed("exam") => Err(AppError::TransactionConflict),
            Err(r) => Err(r.unexpected("update exam")),
        }
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

    async fn list_exam_bookings(
        &self,
        ws: &str,
        exam_id: &str,
        status: Option<BookingStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Booking>> {
        let mut q = IndexQuery::new(
            keys::GSI1,
            keys::GSI1PK,
            keys::GSI1SK,
            keys::exam_bookings_index_pk(ws, exam_id),
        );
        if let Some(st) = status {
            q = q.filter("#st = :st", ("#st", "status"), (":st", s(st.as_str())));
        }
        self.query_index_page(&q, cursor, limit, |b: &Booking| {
            status.is_none_or(|st| b.status == st)
        })
        .await
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
        let mut items = Tx::new()
            .with(
                "counter",
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
            )
            .with(
                "marker",
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
            )
            .with(
                "booking",
                put(
                    &self.table,
                    booking_item(ws, b, contact)?,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            )
            .with("outbox", outbox_put(&self.table, &new.outbox)?);
        if let Some((key_hash, record)) = &new.idempotency {
            let now_secs = shared::time::parse(&new.now)
                .map(|t| t.timestamp())
                .unwrap_or_default();
            items.add(
                "idempotency",
                put(
                    &self.table,
                    encode(
                        record,
                        &keys::idempotency(ws, "booking", key_hash),
                        &[(keys::TTL, n(record.expires_at))],
                    )?,
                    Some("attribute_not_exists(pk) OR expires_at < :now"),
                    &[(":now", n(now_secs))],
                )?,
            );
        }
        let reasons = match self.transact(items).await? {
            Ok(()) => return Ok(CreateBookingOutcome::Created),
            Err(r) => r,
        };
        if reasons.failed("idempotency") {
            if let Some((key_hash, _)) = &new.idempotency {
                return match self.get_idempotency(ws, key_hash).await? {
                    Some(rec) => Ok(CreateBookingOutcome::IdempotencyKeyExists(rec)),
                    // Expired between the condition and the read: try again.
                    None => Err(AppError::TransactionConflict),
                };
            }
        }
        if reasons.failed("marker") {
            return Err(AppError::AlreadyBooked);
        }
        if reasons.failed("counter") {
            let exists = match reasons.old_item("counter") {
                Some(item) => !item.is_empty(),
                None => self.get(&exam_key).await?.is_some(),
            };
            return Err(if exists {
                AppError::CapacityExceeded
            } else {
                AppError::NotFound("mock exam")
            });
        }
        Err(reasons.unexpected("create booking"))
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
        seen: &Booking,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<CancelOutcome> {
        let booking_id = seen.id.as_str();
        let bkey = keys::booking(ws, booking_id);
        match seen.status {
            BookingStatus::Cancelled => return Ok(CancelOutcome::AlreadyCancelled(seen.clone())),
            BookingStatus::Completed => {
                return Err(AppError::validation(format!(
                    "booking {booking_id} is completed and cannot be cancelled"
                )))
            }
            BookingStatus::Active => {}
        }
        // The marker is keyed by the contact; a GDPR erase removed the contact and re-keyed the
        // marker, whose key then is on the booking item only.
        let marker_sk = match seen.contact_id.as_deref().filter(|c| !c.is_empty()) {
            Some(contact) => keys::active_booking(ws, &seen.mock_exam_id, contact).sk,
            None => match self.get(&bkey).await? {
                None => return Err(AppError::NotFound("booking")),
                Some(item) => str_attr(&item, "markerSk")
                    .ok_or_else(|| AppError::internal_msg("booking item has no markerSk"))?,
            },
        };
        let booking = seen.clone();
        let marker = Key {
            pk: keys::active_bookings_partition(ws, &booking.mock_exam_id),
            sk: marker_sk,
        };
        let items = Tx::new()
            .with(
                "booking",
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
            )
            .with(
                "marker",
                delete(
                    &self.table,
                    &marker,
                    "bookingId = :bid",
                    &[(":bid", s(booking_id))],
                )?,
            )
            .with(
                "counter",
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
            )
            .with("outbox", outbox_put(&self.table, outbox)?);
        match self.transact(items).await? {
            Ok(()) => {
                let mut b = booking;
                b.status = BookingStatus::Cancelled;
                b.cancelled_at = Some(now.to_owned());
                b.updated_at = Some(now.to_owned());
                Ok(CancelOutcome::Cancelled(b))
            }
            // It changed since it was read (or never existed): answer from what it is now,
            // or let the caller read it again.
            Err(r) if r.failed("booking") => match self.get_booking(ws, booking_id).await? {
                None => Err(AppError::NotFound("booking")),
                Some(b) if b.status == BookingStatus::Cancelled => {
                    Ok(CancelOutcome::AlreadyCancelled(b))
                }
                Some(_) => Err(AppError::TransactionConflict),
            },
            // The marker moved (an erase re-keyed it since the booking was read): read again.
            Err(r) if r.failed("marker") => Err(AppError::TransactionConflict),
            Err(r) => Err(r.unexpected("cancel booking")),
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
        let items = Tx::new()
            .with("booking", update(
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
            )?)
            .with("outbox", outbox_put(&self.table, outbox)?);
        match self.transact(items).await? {
            Ok(()) => Ok(booking),
            Err(r) if r.failed("booking") => Err(AppError::TransactionConflict),
            Err(r) => Err(r.unexpected("transition booking")),
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
            Err(e) => Err(crate::errors::sdk("dynamodb mark synced", e)),
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
