//! Outbound webhook subscriptions (seed 001, DESIGN §4): CRUD, the delivery log, test sends,
//! manual retry, recovery of failed deliveries and secret rotation. The rules and use cases
//! are in `shared::subscriptions` (`input`, `service`); deliveries run in the delivery worker.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::http::Path;

use shared::http::{success, Auth, JsonBody, OptionalJsonBody, QueryMap};
use shared::ids::{DeliveryId, WebhookId};
use shared::paging::{parse_limit, Pagination};
use shared::subscriptions::input::{self, CreateBody, PatchBody};
use shared::subscriptions::{self, service, Delivery, DeliveryFilter};
use shared::{App, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route(
            "/api/admin/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/api/admin/webhooks/{id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/api/admin/webhooks/{id}/test", post(test_webhook))
        .route("/api/admin/webhooks/{id}/deliveries", get(list_deliveries))
        .route("/api/admin/deliveries", get(list_workspace_deliveries))
        .route(
            "/api/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry_delivery),
        )
        .route("/api/admin/webhooks/{id}/recover", post(recover))
        .route(
            "/api/admin/webhooks/{id}/rotate-secret",
            post(rotate_secret),
        );
    shared::http::finish_router(routes, app)
}

// --- CRUD ----------------------------------------------------------------------------------------

async fn create_webhook(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> AppResult<Response> {
    let sub = input::new_subscription(&app, &auth.workspace_id, body)?;
    app.subscriptions.create_subscription(&sub).await?;
    tracing::info!(webhook_id = %sub.id, "webhook created");
    Ok(success(
        StatusCode::CREATED,
        json!({ "webhook": sub.view(true) }),
    ))
}

async fn list_webhooks(State(app): State<App>, auth: Auth, q: QueryMap) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"))?;
    let page = app
        .subscriptions
        .list_subscriptions(&auth.workspace_id, q.cursor(), limit)
        .await?;
    let webhooks: Vec<Value> = page.items.iter().map(|s| s.view(false)).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "webhooks": webhooks, "pagination": Pagination::of(&page, limit) }),
    ))
}

async fn get_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let sub = service::load(&app, ws, &WebhookId::parse(&id)?).await?;
    let recent = app
        .deliveries
        .list_deliveries(
            ws,
            &DeliveryFilter::subscription(&sub.id),
            None,
            subscriptions::RECENT_DELIVERIES,
        )
        .await?;
    let deliveries: Vec<Value> = recent.items.iter().map(Delivery::view).collect();
    let mut view = sub.view(false);
    // Seed 001: "Response includes last 50 deliveries" — on the webhook, and at top level.
    view["deliveries"] = json!(deliveries);
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": view, "deliveries": deliveries }),
    ))
}

async fn update_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> AppResult<Response> {
    let id = &WebhookId::parse(&id)?;
    let patch = input::validate_patch(&app, body)?;
    let sub = app
        .subscriptions
        .update_subscription(&auth.workspace_id, id, &patch, &shared::time::now_string())
        .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": sub.view(false) }),
    ))
}

async fn delete_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = &WebhookId::parse(&id)?;
    let sub = app
        .subscriptions
        .delete_subscription(&auth.workspace_id, id)
        .await?;
    tracing::info!(webhook_id = %sub.id, "webhook deleted");
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": sub.view(false) }),
    ))
}

async fn rotate_secret(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    let sub = service::rotate_secret(&app, &auth.workspace_id, &WebhookId::parse(&id)?).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": sub.view(true) }),
    ))
}

// --- deliveries ----------------------------------------------------------------------------------

async fn list_deliveries(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let mut filter = input::delivery_filter(|k| q.get(k), false)?;
    let sub = service::load(&app, ws, &WebhookId::parse(&id)?).await?;
    filter.subscription_id = Some(sub.id);
    deliveries_page(&app, ws, &filter, &q).await
}

/// The workspace-wide delivery log (DESIGN §8), optionally one `webhookId`'s.
async fn list_workspace_deliveries(
    State(app): State<App>,
    auth: Auth,
    q: QueryMap,
) -> AppResult<Response> {
    let filter = input::delivery_filter(|k| q.get(k), true)?;
    deliveries_page(&app, &auth.workspace_id, &filter, &q).await
}

async fn deliveries_page(
    app: &App,
    ws: &str,
    filter: &DeliveryFilter,
    q: &QueryMap,
) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"))?;
    let cursor = q.cursor();
    let page = app
        .deliveries
        .list_deliveries(ws, filter, cursor, limit)
        .await?;
    let deliveries: Vec<Value> = page.items.iter().map(Delivery::view).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "deliveries": deliveries, "pagination": Pagination::of(&page, limit) }),
    ))
}

async fn retry_delivery(
    State(app): State<App>,
    auth: Auth,
    Path((id, delivery_id)): Path<(String, String)>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    let (id, delivery_id) = (WebhookId::parse(&id)?, DeliveryId::parse(&delivery_id)?);
    let delivery = service::retry_delivery(&app, &auth.workspace_id, &id, &delivery_id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "delivery": delivery.view() }),
    ))
}

#[derive(Deserialize)]
struct RecoverBody {
    since: String,
}

async fn recover(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecoverBody>,
) -> AppResult<Response> {
    let id = WebhookId::parse(&id)?;
    let since = input::parse_since(&body.since)?;
    let recovered = service::recover(&app, &auth.workspace_id, &id, since).await?;
    Ok(success(
        StatusCode::OK,
        json!({
            "recovered": recovered.delivery_ids.len(),
            "deliveryIds": recovered.delivery_ids,
            "since": shared::time::format(since),
            "hasMore": recovered.has_more,
        }),
    ))
}

// --- test send -----------------------------------------------------------------------------------

async fn test_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    let id = WebhookId::parse(&id)?;
    let (record, delivery_id) = service::send_test(&app, &auth.workspace_id, &id).await?;
    Ok(success(
        StatusCode::OK,
        json!({
            "attempt": {
                "statusCode": record.status_code,
                "durationMs": record.duration_ms,
                "error": record.error,
                "responseBody": record.response_body,
            },
            "deliveryId": delivery_id,
        }),
    ))
}
