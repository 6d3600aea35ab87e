//! Retry policies: bounded jittered retries of DynamoDB transaction conflicts, and the
//! exponential backoff of outbound deliveries (DESIGN §6).

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::config::Config;
use crate::error::{AppError, AppResult};

/// Longest wait between two delivery attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10 * 3600);

/// Runs `op` until it stops failing with `TransactionConflict`, at most
/// `conflict_max_attempts` times with full-jitter exponential backoff; then answers `Busy`
/// (503 with Retry-After) — never a wrong count, never a 500.
pub async fn on_conflict<T, F, Fut>(config: &Config, mut op: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let base = config.conflict_base_delay;
    for attempt in 0..config.conflict_max_attempts {
        match op().await {
            Err(AppError::TransactionConflict) => {
                if attempt + 1 == config.conflict_max_attempts {
                    break;
                }
                let cap = base.saturating_mul(1 << attempt.min(10));
                let wait = rand::thread_rng().gen_range(Duration::ZERO..=cap);
                tracing::debug!(
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "transaction conflict, retrying"
                );
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
    tracing::warn!(
        attempts = config.conflict_max_attempts,
        "transaction conflicts persisted"
    );
    Err(AppError::Busy {
        retry_after_secs: 1,
    })
}

/// [`on_conflict`] for an operation whose first attempt can use `first`, a value read
/// beforehand (beside other reads): `op` gets `Some(first)` on the first attempt and `None` on
/// each retry, which must read it again (the conflict means it may have changed).
pub async fn on_conflict_after<P, T, F, Fut>(config: &Config, first: P, mut op: F) -> AppResult<T>
where
    F: FnMut(Option<P>) -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let mut first = Some(first);
    on_conflict(config, || op(first.take())).await
}

/// Wait before retry `n` (1-based): `retry_delay · 2^(n−1)` ±20 %, capped at 10 h, scaled by
/// `RETRY_DELAY_SCALE` (tests run with 0).
pub fn backoff(retry_delay_secs: u32, n: u32, scale: f64) -> Duration {
    let exp = 2f64.powi(n.saturating_sub(1).min(30) as i32);
    let base = f64::from(retry_delay_secs) * exp;
    let jitter = rand::thread_rng().gen_range(0.8..=1.2);
    let secs = (base * jitter).min(MAX_BACKOFF.as_secs_f64()) * scale;
    Duration::from_secs_f64(secs.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        for _ in 0..100 {
            let d1 = backoff(60, 1, 1.0).as_secs_f64();
            assert!((48.0..=72.0).contains(&d1), "{d1}");
            let d3 = backoff(60, 3, 1.0).as_secs_f64();
            assert!((192.0..=288.0).contains(&d3), "{d3}");
            assert!(backoff(3600, 20, 1.0) <= MAX_BACKOFF);
        }
        assert_eq!(backoff(60, 2, 0.0), Duration::ZERO);
    }

    #[tokio::test]
    async fn only_the_first_attempt_gets_the_value_read_before() {
        let cfg = Config::for_tests("t", "q");
        let mut seen = Vec::new();
        let out = on_conflict_after(&cfg, 7, |first| {
            seen.push(first);
            let done = seen.len() == 3;
            async move {
                if done {
                    Ok("done")
                } else {
                    Err(AppError::TransactionConflict)
                }
            }
        })
        .await;
        assert_eq!(out.unwrap(), "done");
        assert_eq!(seen, vec![Some(7), None, None]);
    }

    #[tokio::test]
    async fn conflicts_retry_then_busy() {
        let cfg = Config::for_tests("t", "q");
        let mut calls = 0;
        let r: AppResult<()> = on_conflict(&cfg, || {
            calls += 1;
            async { Err(AppError::TransactionConflict) }
        })
        .await;
        assert!(matches!(r, Err(AppError::Busy { .. })));
        assert_eq!(calls, cfg.conflict_max_attempts);

        let mut calls = 0;
        let r = on_conflict(&cfg, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(AppError::TransactionConflict)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
    }
}
