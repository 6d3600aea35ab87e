//! The users' use cases (seed 001): create, change and erase a user with its events in the
//! same transaction (outbox), each handed to the queue after the commit, and the filtered admin
//! list. Exports are in `export.rs`.

use serde_json::Value;

use super::query::{list_page, ListParams};
use super::{
    created_event, deleted_event, outbox_with, select_fields, update_events, User, UserInput,
};
use crate::app::App;
use crate::bookings::Booking;
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::paging::Pagination;

/// Creates a user and its `user.created` event.
pub async fn create(app: &App, ws: &str, input: UserInput) -> AppResult<User> {
    let now = crate::time::now_string();
    let user = input.create(&now)?;
    let outbox = outbox_with(ws, vec![created_event(&user, &now)], &now);
    crate::retry::on_conflict(&app.config, || app.users.create_user(ws, &user, &outbox)).await?;
    crate::outbox::hand_off(app, &outbox).await;
    Ok(user)
}

/// A user and their bookings.
pub async fn get(app: &App, ws: &str, id: &UserId) -> AppResult<(User, Vec<Booking>)> {
    let user = app
        .users
        .get_user(ws, id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let bookings = app.users.bookings_of(ws, id).await?;
    Ok((user, bookings))
}

/// Applies a PATCH; a change that changes nothing writes nothing and emits no event.
/// Returns the user as stored afterwards, with their bookings.
pub async fn update(
    app: &App,
    ws: &str,
    id: &UserId,
    input: &UserInput,
) -> AppResult<(User, Vec<Booking>)> {
    let (user, outbox) = crate::retry::on_conflict(&app.config, || async {
        let old = app
            .users
            .get_user(ws, id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let now = crate::time::now_string();
        let mut new = old.clone();
        input.apply(&mut new, &now)?;
        let events = update_events(&old, &new, &now);
        if events.is_empty() {
            return Ok((old, None));
        }
        new.version = old.version + 1;
        new.updated_at = now.clone();
        let outbox = outbox_with(ws, events, &now);
        app.users.update_user(ws, &old, &new, &outbox).await?;
        Ok((new, Some(outbox)))
    })
    .await?;
    if let Some(o) = &outbox {
        crate::outbox::hand_off(app, o).await;
    }
    let bookings = app.users.bookings_of(ws, id).await?;
    Ok((user, bookings))
}

/// The GDPR erase: the user goes, their bookings are unlinked and the personal data in
/// outbox records and delivery logs is redacted; a `user.deleted` event is emitted.
pub async fn erase(app: &App, ws: &str, id: &UserId) -> AppResult<()> {
    let now = crate::time::now_string();
    let outbox = outbox_with(ws, vec![deleted_event(id, &now)], &now);
    let report =
        crate::retry::on_conflict(&app.config, || app.users.erase_user(ws, id, &outbox, &now))
            .await?;
    tracing::info!(
        bookings_unlinked = report.bookings_unlinked,
        outbox_records_redacted = report.outbox_records_redacted,
        deliveries_redacted = report.deliveries_redacted,
        "user erased"
    );
    crate::outbox::hand_off(app, &outbox).await;
    Ok(())
}

/// One page of the admin list as the API shows it (includes and field selection applied).
pub async fn list(app: &App, ws: &str, params: &ListParams) -> AppResult<(Vec<Value>, Pagination)> {
    let page = list_page(app.users.as_ref(), ws, params).await?;
    let mut users = Vec::with_capacity(page.users.len());
    for u in &page.users {
        let bookings = if params.includes.needs_bookings() {
            Some(app.users.bookings_of(ws, &u.id).await?)
        } else {
            None
        };
        let view = u.view_with(params.includes, bookings.as_deref());
        users.push(match &params.fields {
            Some(f) => select_fields(view, f),
            None => view,
        });
    }
    let pagination = Pagination::new(params.limit, page.next_cursor)
        .with_offset(params.offset)
        .with_total(page.total);
    Ok((users, pagination))
}
