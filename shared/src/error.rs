//! The one error type of the product and its one HTTP mapping.
//!
//! Every handler returns `Result<_, AppError>`; `IntoResponse` turns it into
//! `{"success":false,"error":{"code","message"}}`. Anything that is not the client's fault
//! becomes a bare 500 `internal`: the detail goes to the log, never into the response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Validation(String),
    #[error("missing, unknown or revoked API key")]
    Unauthorized,
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the mock exam is full")]
    CapacityExceeded,
    #[error("this contact already holds an active booking for this mock exam")]
    AlreadyBooked,
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("the sync job is disabled")]
    JobDisabled,
    #[error("request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyKeyReused,
    /// Surfaced to clients after bounded retries of [`AppError::TransactionConflict`].
    #[error("the resource is busy, retry after {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// DynamoDB cancelled a transaction because another one touched the same item.
    /// Retryable; never reaches a client as such.
    #[error("transaction conflict")]
    TransactionConflict,
    /// A backfill of this sync job is already running.
    #[error("a backfill of this sync job is already running")]
    BackfillRunning,
    #[error("internal error: {context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Option<BoxError>,
    },
}

impl AppError {
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }

    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Internal {
            context,
            source: Some(source.into()),
        }
    }

    pub fn internal_msg(context: &'static str) -> Self {
        Self::Internal {
            context,
            source: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::CapacityExceeded | Self::AlreadyBooked | Self::EmailTaken | Self::JobDisabled => {
                StatusCode::CONFLICT
            }
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Busy { .. } | Self::TransactionConflict => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BackfillRunning => StatusCode::CONFLICT,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Validation(_) => "validation_error",
            Self::Unauthorized => "unauthorized",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::NotFound(_) => "not_found",
            Self::CapacityExceeded => "capacity_exceeded",
            Self::AlreadyBooked => "already_booked",
            Self::EmailTaken => "email_taken",
            Self::JobDisabled => "job_disabled",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Busy { .. } | Self::TransactionConflict => "busy",
            Self::Internal { .. } => "internal",
            Self::BackfillRunning => "backfill_running",
        }
    }

    /// The message a client may see. Internal errors say only "internal error".
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal { .. } => "internal error".to_owned(),
            Self::TransactionConflict => "the resource is busy, retry shortly".to_owned(),
            other => other.to_string(),
        }
    }

    /// `{"code","message"}` as used in envelopes and in per-item batch results.
    pub fn body(&self) -> serde_json::Value {
        json!({ "code": self.code(), "message": self.public_message() })
    }

    /// Full chain of causes for logs (never for responses).
    pub fn log_detail(&self) -> String {
        let mut out = self.to_string();
        let mut src = std::error::Error::source(self);
        while let Some(s) = src {
            out.push_str(": ");
            out.push_str(&s.to_string());
            src = s.source();
        }
        out
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self.log_detail(), "request failed");
        } else {
            tracing::info!(code = self.code(), error = %self, "request rejected");
        }
        let body = json!({ "success": false, "error": self.body() });
        let mut resp = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Self::Busy { retry_after_secs } => Some(*retry_after_secs),
            Self::TransactionConflict => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::internal("json serialization", e)
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_leak_detail() {
        let e = AppError::internal("dynamo get", std::io::Error::other("secret table arn"));
        assert_eq!(e.public_message(), "internal error");
        assert_eq!(e.code(), "internal");
        assert!(e.log_detail().contains("secret table arn"));
        assert!(!e.body().to_string().contains("arn"));
    }

    #[test]
    fn busy_maps_to_503_with_retry_after() {
        let resp = AppError::Busy {
            retry_after_secs: 2,
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn codes_follow_the_contract() {
        assert_eq!(AppError::CapacityExceeded.status(), StatusCode::CONFLICT);
        assert_eq!(AppError::AlreadyBooked.code(), "already_booked");
        assert_eq!(AppError::IdempotencyKeyReused.status().as_u16(), 422);
        assert_eq!(AppError::PayloadTooLarge(10).status().as_u16(), 413);
        assert_eq!(AppError::Unauthorized.status().as_u16(), 401);
    }
}
