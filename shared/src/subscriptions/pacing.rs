//! Pacing of a subscription's `rateLimitPerSecond` across concurrent workers (DESIGN §8).
//!
//! The subscription's pacing item holds the earliest time (unix ms) the next call may start.
//! A worker takes a slot by moving it forward one interval with a conditional write on the
//! value it read, so two workers never take the same slot. A slot a short wait away is waited
//! for in place; a slot further away sends the message back to the queue with that delay,
//! taking nothing, so a delivery over the rate is deferred, never dropped and never counted as
//! an attempt. A call starts at its slot, or later by at most the slot write's latency (a slot
//! that was free when read is taken for "now").

use std::time::Duration;

use super::Subscription;
use crate::app::App;
use crate::error::AppResult;

/// Slots at most this far away are waited for in the worker; further ones go back to the queue.
pub const MAX_INLINE_WAIT: Duration = Duration::from_millis(1500);
/// Conditional writes lost to other workers before the message is handed back to the queue.
const MAX_RACES: u32 = 8;

/// What the pacing allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Call now (a wait for the slot has already been served).
    Go,
    /// Hand the message back to the queue for this long; nothing was taken.
    Later(Duration),
}

/// The gap between two calls at `per_second`.
pub fn interval(per_second: u32) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)))
}

/// Takes a send slot for `subscription` (waiting for it when it is near).
pub async fn take_slot(app: &App, subscription: &Subscription) -> AppResult<Pace> {
    let Some(rate) = subscription.rate_limit_per_second else {
        return Ok(Pace::Go);
    };
    let step = i64::try_from(interval(rate).as_micros()).unwrap_or(i64::MAX);
    let (ws, id) = (&subscription.workspace_id, &subscription.id);
    for _ in 0..MAX_RACES {
        let current = app.subscriptions.pacing_slot(ws, id).await?;
        // Read the clock after the read: an idle slot starts as close to the call as it can.
        let now_us = crate::time::now().timestamp_micros();
        let slot = current.map_or(now_us, |next| next.max(now_us));
        let wait = Duration::from_micros(u64::try_from(slot - now_us).unwrap_or(0));
        if wait > MAX_INLINE_WAIT {
            return Ok(Pace::Later(wait - MAX_INLINE_WAIT / 2));
        }
        if app
            .subscriptions
            .advance_pacing_slot(ws, id, current, slot + step)
            .await?
        {
            // Until the slot itself: the write took time too.
            let left = slot - crate::time::now().timestamp_micros();
            if left > 0 {
                tokio::time::sleep(Duration::from_micros(left.unsigned_abs())).await;
            }
            return Ok(Pace::Go);
        }
    }
    // Heavy contention: come back when the slots taken meanwhile have passed.
    Ok(Pace::Later(interval(rate) * MAX_RACES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_the_inverse_of_the_rate() {
        assert_eq!(interval(1), Duration::from_secs(1));
        assert_eq!(interval(4), Duration::from_millis(250));
        assert_eq!(interval(1000), Duration::from_millis(1));
    }
}
