//! One rule for what an SDK failure means to the caller: a service that is slow, throttling,
//! unreachable or failing on its side is `busy` (503 with `Retry-After`: the request may be
//! retried as it is); anything else is `internal` (500, logged with its context). Every
//! DynamoDB, SQS and S3 call of this crate maps its error through [`sdk`].

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use shared::error::AppError;

/// Service error codes that mean "too much, try again shortly" (DynamoDB, SQS, S3).
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalFailure",
    "TransactionInProgressException",
];

/// How long a client should wait before retrying a `busy` answer.
const RETRY_AFTER_SECS: u64 = 1;

/// `context` names the operation in the log line (never in the response).
pub fn sdk<E, R>(context: &'static str, e: SdkError<E, R>) -> AppError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if is_retryable(&e) {
        tracing::warn!(
            context,
            error = %aws_smithy_types::error::display::DisplayErrorContext(&e),
            "AWS call failed on the service's side or timed out: answered busy"
        );
        return AppError::Busy {
            retry_after_secs: RETRY_AFTER_SECS,
        };
    }
    AppError::internal(context, e)
}

pub fn is_retryable<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => s.err().code().is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service(code: &str) -> SdkError<GetItemError, Response> {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        SdkError::service_error(
            err,
            Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn throttling_and_timeouts_are_busy_other_errors_internal() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
        ] {
            assert!(
                matches!(
                    sdk("t", service(code)),
                    AppError::Busy {
                        retry_after_secs: 1
                    }
                ),
                "{code}"
            );
        }
        let timeout: SdkError<GetItemError, Response> = SdkError::timeout_error("stalled");
        assert!(matches!(sdk("t", timeout), AppError::Busy { .. }));
        let e = sdk("t", service("ValidationException"));
        assert_eq!(e.code(), "internal");
        assert_eq!(sdk("t", service("ThrottlingException")).code(), "busy");
    }
}
