//! Mock exams and their bookings (seed 000, DESIGN §1.1): the counter, the booking state
//! machine, idempotency records.

pub mod cancel;
pub mod events;
pub mod ports;
pub mod reconcile;
pub mod service;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use ports::BookingTransition;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MockExam {
    pub id: String,
    pub name: String,
    pub capacity: i64,
    pub total_bookings: i64,
    pub version: i64,
    pub last_synced_version: i64,
    #[serde(default)]
    pub exam_date: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExamInput {
    pub name: String,
    pub capacity: i64,
    pub exam_date: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Active,
    Cancelled,
    Completed,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Cancelled, Self::Completed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    pub id: String,
    pub code: String,
    pub scanned_at: Option<String>,
    pub scanned_by: Option<String>,
    pub validated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub id: String,
    pub mock_exam_id: String,
    /// `None` after a GDPR erase removed the link to the person.
    pub contact_id: Option<String>,
    pub status: BookingStatus,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    pub qr_code: QrCode,
}

/// An active booking as counted in its exam's partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActiveBookingRef {
    pub booking_id: String,
    pub contact_id: String,
}

/// Stored under an `Idempotency-Key`: what the first request was and what it produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub booking_id: String,
    pub expires_at: i64,
}

/// The state machine of complete / QR scan / QR validate (every store applies it).
pub fn apply_transition(
    booking: &mut Booking,
    transition: BookingTransition,
    scanned_by: Option<&str>,
    now: &str,
) -> AppResult<()> {
    if booking.status == BookingStatus::Cancelled {
        return Err(AppError::validation(format!(
            "booking {} is cancelled",
            booking.id
        )));
    }
    match transition {
        BookingTransition::Complete => {
            if booking.status == BookingStatus::Completed {
                return Err(AppError::validation(format!(
                    "booking {} is already completed",
                    booking.id
                )));
            }
            booking.status = BookingStatus::Completed;
            booking.completed_at = Some(now.to_owned());
        }
        BookingTransition::QrScan => {
            booking.qr_code.scanned_at = Some(now.to_owned());
            booking.qr_code.scanned_by = scanned_by.map(str::to_owned);
        }
        BookingTransition::QrValidate => {
            if booking.qr_code.validated_at.is_some() {
                return Err(AppError::validation(format!(
                    "the QR code of booking {} is already validated",
                    booking.id
                )));
            }
            booking.qr_code.validated_at = Some(now.to_owned());
        }
    }
    booking.updated_at = Some(now.to_owned());
    Ok(())
}
