//! Counting the AWS calls a request makes: an SDK interceptor that records each operation's
//! name, start and end; `waves` groups the calls that overlap in time, so a request's
//! "sequential calls" are the number of waves (calls made concurrently count once).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// One AWS call: `Service.Operation`, when it started and ended (relative to the log's start).
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub start: Instant,
    pub end: Option<Instant>,
}

/// The calls of every client built with [`CallLog::interceptor`].
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

/// Where in the log this attempt's call sits (set before execution, read at the end).
#[derive(Debug, Clone)]
struct Slot(usize);

impl Storable for Slot {
    type Storer = StoreReplace<Self>;
}

impl CallLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// An interceptor for `…::config::Builder::interceptor` that records into this log.
    pub fn interceptor(&self, service: &'static str) -> Recorder {
        Recorder {
            service,
            log: self.clone(),
        }
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The calls recorded so far, in start order.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.lock().clone();
        calls.sort_by_key(|c| c.start);
        calls
    }

    /// The operation names, in start order.
    pub fn operations(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.operation).collect()
    }

    /// The calls grouped into waves: a call that starts before every call of the current wave
    /// has ended joins it (it ran concurrently); otherwise it starts the next wave.
    pub fn waves(&self) -> Vec<Vec<String>> {
        let mut waves: Vec<Vec<String>> = Vec::new();
        let mut wave_end: Option<Instant> = None;
        for c in self.calls() {
            let end = c.end.unwrap_or(c.start);
            match wave_end {
                Some(e) if c.start < e => {
                    if let Some(w) = waves.last_mut() {
                        w.push(c.operation);
                    }
                    wave_end = Some(e.max(end));
                }
                _ => {
                    waves.push(vec![c.operation]);
                    wave_end = Some(end);
                }
            }
        }
        waves
    }

    /// The longest chain of calls each starting after the previous one ended: the sequential
    /// calls on the path (a call that overlaps another does not add to it).
    pub fn depth(&self) -> usize {
        self.depth_without(&[])
    }

    /// [`depth`](Self::depth) without the calls named in `skip` (e.g. the Lambda event
    /// source's own `SQS.ReceiveMessage` / `SQS.DeleteMessage`).
    pub fn depth_without(&self, skip: &[&str]) -> usize {
        let calls: Vec<Call> = self
            .calls()
            .into_iter()
            .filter(|c| !skip.contains(&c.operation.as_str()))
            .collect();
        let mut depth = vec![0usize; calls.len()];
        for i in 0..calls.len() {
            let before = (0..i)
                .filter(|&j| calls[j].end.is_some_and(|e| e <= calls[i].start))
                .map(|j| depth[j])
                .max()
                .unwrap_or(0);
            depth[i] = before + 1;
        }
        depth.into_iter().max().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The interceptor: one log entry per attempt sent (a retried operation shows twice).
#[derive(Debug)]
pub struct Recorder {
    service: &'static str,
    log: CallLog,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Both services speak the AWS JSON protocol: `X-Amz-Target: <Service>.<Operation>`.
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        let mut calls = self.log.lock();
        calls.push(Call {
            operation: format!("{}.{op}", self.service),
            start: Instant::now(),
            end: None,
        });
        let slot = calls.len() - 1;
        drop(calls);
        cfg.interceptor_state().store_put(Slot(slot));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Slot(i)) = cfg.load::<Slot>().cloned() {
            if let Some(c) = self.log.lock().get_mut(i) {
                c.end = Some(Instant::now());
            }
        }
        Ok(())
    }
}
