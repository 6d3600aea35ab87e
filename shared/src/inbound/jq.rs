//! jq filters and transforms of a sync job (DESIGN §8), on the jaq interpreter.
//!
//! - `webhookConfig.filter` runs on the provider event and must yield one boolean (`false` →
//!   the event is stored `ignored`);
//! - `webhookConfig.transform` runs on the provider event and yields the record object to store.
//!
//! Both are compiled when saved ([`check`]: a 400 naming the field, with jaq's message) and run
//! with a time limit and an output-size limit ([`run`]). A run happens on a thread of its own
//! that the caller abandons when the time is up: an expression like `def f: f; f` cannot be
//! stopped from outside, so at most [`MAX_RUNAWAY_RUNS`] abandoned runs may exist at once and
//! further runs fail fast until one ends (the event is retried later). `range` is replaced by
//! a copy that stops at the deadline, so `[range(1e9)]` ends instead of eating the memory.
//!
//! Only pure filters are offered: `env`/`$ENV` (the function's environment holds credentials),
//! `input`/`inputs`, logging and module imports are not available.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, Ctx, Vars};
use jaq_json::Val;
use serde_json::Value;

use super::domain::WebhookConfig;
use super::mapping::Mapping;
use crate::error::{AppError, AppResult};

/// How long one run may take.
pub const TIME_LIMIT: Duration = Duration::from_millis(250);
/// Largest output (as JSON): below DynamoDB's 400 KB item, with room for the metadata.
pub const MAX_OUTPUT_BYTES: usize = 350 * 1024;
/// Longest expression accepted.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Runs past their time limit that may still occupy a thread; more runs fail fast meanwhile.
pub const MAX_RUNAWAY_RUNS: usize = 2;
/// Stack of a run's thread (reserved, touched only as used): deeply nested values built by a
/// run (`reduce range(1e6) as $i (0; [.])`) are dropped recursively.
const RUN_STACK_BYTES: usize = 256 * 1024 * 1024;
/// Stack of a compile's thread (reserved, touched only as used): the parser and compiler
/// recurse per nesting level and per operator.
const COMPILE_STACK_BYTES: usize = 256 * 1024 * 1024;
/// Deepest nesting of brackets in an expression.
pub const MAX_EXPRESSION_NESTING: usize = 64;

/// The deepest nesting of `(`, `[`, `{` outside string literals.
fn bracket_depth(code: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for c in code.chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Native filters not offered: the environment (credentials), input streams, logging.
/// `debug` and `stderr` stay, writing nothing (event data never reaches the logs).
const EXCLUDED_FUNS: &[&str] = &[
    "env",
    "input",
    "inputs",
    "input_filename",
    "debug_empty",
    "stderr_empty",
    "range",
];

/// Why a run produced no usable value. The text is shown on the event (and by preview).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqError {
    /// The expression does not compile (only for expressions saved before a jq upgrade).
    #[error("jq: {0}")]
    Compile(String),
    /// jq raised an error, or the output has the wrong shape.
    #[error("jq: {0}")]
    Run(String),
    #[error("jq: the expression ran longer than {} ms", TIME_LIMIT.as_millis())]
    Timeout,
    #[error("jq: the output is larger than {} KB", MAX_OUTPUT_BYTES / 1024)]
    TooLarge,
    /// Earlier runs past their time limit still hold their threads: transient.
    #[error("jq: too many expressions still running past their time limit; retry later")]
    Busy,
}

impl JqError {
    /// A problem of the expression or the event (retrying the same event cannot help) —
    /// as opposed to [`JqError::Busy`].
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Busy)
    }
}

// --- compiling ---------------------------------------------------------------------------------

type Filter = jaq_core::Filter<data::JustLut<Val>>;

thread_local! {
    /// When the current thread's run must stop (checked by our `range`).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

fn past_deadline() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t))
}

/// `range/3` that stops with an error at the run's deadline (checked every 4096 values).
fn bounded_range<D: jaq_core::DataT>() -> jaq_core::native::Fun<D>
where
    for<'a> D::V<'a>: jaq_core::ValT,
{
    use jaq_core::native::{v, Filter as NativeFilter};
    use jaq_core::{Error, Exn, RunPtr};
    let filter: NativeFilter<RunPtr<D>> = ("range", v(3), |mut cv| {
        let by = cv.0.pop_var();
        let to = cv.0.pop_var();
        let from = cv.0.pop_var();
        let dir = by
            .partial_cmp(&0isize.into())
            .unwrap_or(std::cmp::Ordering::Equal);
        let mut next = Some(from);
        let mut n: u32 = 0;
        Box::new(std::iter::from_fn(move || {
            let x = next.take()?;
            let go_on = match dir {
                std::cmp::Ordering::Greater => x < to,
                std::cmp::Ordering::Less => x > to,
                std::cmp::Ordering::Equal => x != to,
            };
            if !go_on {
                return None;
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(4096) && past_deadline() {
                return Some(Err(Exn::from(Error::str("time limit reached"))));
            }
            match x.clone() + by.clone() {
                Ok(y) => next = Some(y),
                Err(e) => return Some(Err(Exn::from(e))),
            }
            Some(Ok(x))
        }))
    });
    jaq_core::native::run(filter)
}

/// `debug_empty` and `stderr_empty` (behind `debug` and `stderr`) that log nothing.
fn silent<D: jaq_core::DataT>(name: &'static str) -> jaq_core::native::Fun<D>
where
    for<'a> D::V<'a>: jaq_core::ValT,
{
    use jaq_core::native::{v, Filter as NativeFilter};
    let filter: NativeFilter<jaq_core::RunPtr<D>> = (name, v(0), |_| Box::new(std::iter::empty()));
    jaq_core::native::run(filter)
}

/// Byte offset of `part` (a slice of `code`) in `code`, 1-based, for error messages.
fn column(code: &str, part: &str) -> usize {
    let start = code.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    at.checked_sub(start)
        .filter(|off| *off <= code.len())
        .map(|off| code[..off].chars().count() + 1)
        .unwrap_or(1)
}

/// The first `def` among `tokens` (at any depth): its column.
fn find_definition(code: &str, tokens: &[jaq_core::load::lex::Token<&str>]) -> Option<usize> {
    use jaq_core::load::lex::{StrPart, Tok};
    tokens
        .iter()
        .find_map(|jaq_core::load::lex::Token(text, tok)| match tok {
            Tok::Word if *text == "def" => Some(column(code, text)),
            Tok::Block(inner) => find_definition(code, inner),
            Tok::Str(parts) => parts.iter().find_map(|p| match p {
                StrPart::Term(t) => find_definition(code, std::slice::from_ref(t)),
                _ => None,
            }),
            _ => None,
        })
}

fn compile(code: &str) -> Result<Filter, String> {
    if code.trim().is_empty() {
        return Err("the expression is empty".into());
    }
    if code.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "the expression is longer than {MAX_EXPRESSION_LEN} bytes"
        ));
    }
    if bracket_depth(code) > MAX_EXPRESSION_NESTING {
        return Err(format!(
            "the expression nests brackets more than {MAX_EXPRESSION_NESTING} levels deep"
        ));
    }
    // Recursion of one's own (`def f: 1 + f; f`) can exhaust any stack, and a thread cannot
    // survive that: definitions are not offered (the library's recursive filters — recurse,
    // repeat, while, until — run in constant stack).
    if let Ok(tokens) = jaq_core::load::lex::Lexer::new(code).lex() {
        if let Some(col) = find_definition(code, &tokens) {
            return Err(format!(
                "definitions (def) are not supported, at column {col}; use the built-in filters"
            ));
        }
    }
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !EXCLUDED_FUNS.contains(name))
        .chain([
            bounded_range(),
            silent("debug_empty"),
            silent("stderr_empty"),
        ]);
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errs| {
            let mut out = String::new();
            for (_, e) in errs {
                match e {
                    jaq_core::load::Error::Io(v) => {
                        for (path, why) in v {
                            let _ = write!(out, "cannot import {path:?}: {why}; ");
                        }
                    }
                    jaq_core::load::Error::Lex(v) => {
                        for (expect, at) in v {
                            let _ = write!(
                                out,
                                "expected {} at column {}; ",
                                expect.as_str(),
                                column(code, at)
                            );
                        }
                    }
                    jaq_core::load::Error::Parse(v) => {
                        for (expect, at) in v {
                            let found = if at.is_empty() {
                                "the end".to_owned()
                            } else {
                                format!("{:?}", at.chars().take(20).collect::<String>())
                            };
                            let _ = write!(
                                out,
                                "expected {} at column {} (found {found}); ",
                                expect.as_str(),
                                column(code, at)
                            );
                        }
                    }
                }
            }
            out.trim_end_matches([';', ' ']).to_owned()
        })?;
    jaq_core::Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let mut out = String::new();
            for (_, v) in errs {
                for (name, undefined) in v {
                    let _ = write!(
                        out,
                        "undefined {} {name} at column {}; ",
                        undefined.as_str(),
                        column(code, name)
                    );
                }
            }
            out.trim_end_matches([';', ' ']).to_owned()
        })
}

/// Checks a saved expression: a 400 `validation_error` naming `field`, with jaq's message.
/// Compiled on a thread with a deep stack (the parser recurses on nesting).
pub fn check(field: &str, code: &str) -> AppResult<()> {
    let owned = code.to_owned();
    let compiled = std::thread::Builder::new()
        .name("jq-compile".into())
        .stack_size(COMPILE_STACK_BYTES)
        .spawn(move || compile(&owned).map(|_| ()))
        .map_err(|e| AppError::internal("start the jq compiler", e))?
        .join()
        .unwrap_or_else(|_| Err("the expression cannot be compiled".into()));
    compiled
        .map_err(|why| AppError::validation(format!("{field} is not a valid jq expression: {why}")))
}

// --- running -----------------------------------------------------------------------------------

/// Writes up to [`MAX_OUTPUT_BYTES`]; fails past it (so a huge value is never built as text).
struct Bounded(String);

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.0.len() + s.len() > MAX_OUTPUT_BYTES {
            return Err(std::fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

/// One run on this thread: exactly one output, as JSON.
fn run_here(code: &str, input: &[u8], deadline: Instant) -> Result<Value, JqError> {
    DEADLINE.with(|d| d.set(Some(deadline)));
    let filter = compile(code).map_err(JqError::Compile)?;
    let input = jaq_json::read::parse_single(input)
        .map_err(|e| JqError::Run(format!("the event is not JSON: {e}")))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut outputs = filter.id.run((ctx, input));
    let as_error = |e: jaq_core::Exn<Val>| match e.get_err() {
        Ok(err) => {
            if past_deadline() {
                JqError::Timeout
            } else {
                let mut text = Bounded(String::new());
                let _ = write!(text, "{err}");
                // `error("why")` shows as why, not as the JSON string "why".
                let text = match serde_json::from_str::<String>(&text.0) {
                    Ok(s) => s,
                    Err(_) => text.0,
                };
                JqError::Run(crate::inbound::domain::truncate_error(&text))
            }
        }
        Err(_) => JqError::Run("halt is not supported".into()),
    };
    let first = match outputs.next() {
        None => return Err(JqError::Run("the expression yielded no value".into())),
        Some(Err(e)) => return Err(as_error(e)),
        Some(Ok(v)) => v,
    };
    if Instant::now() >= deadline {
        return Err(JqError::Timeout);
    }
    let mut text = Bounded(String::new());
    write!(text, "{first}").map_err(|_| JqError::TooLarge)?;
    drop(first);
    match outputs.next() {
        None => {}
        Some(Err(e)) => return Err(as_error(e)),
        Some(Ok(_)) => {
            return Err(JqError::Run(
                "the expression yielded more than one value".into(),
            ))
        }
    }
    serde_json::from_str(&text.0).map_err(|e| {
        JqError::Run(format!(
            "the output is not representable as JSON ({e}); NaN and byte strings are not"
        ))
    })
}

/// Where runs are counted: how many were abandoned past their limit and still run.
pub struct RunPool {
    runaway: AtomicUsize,
}

/// The process's pool, used by [`run`].
static POOL: RunPool = RunPool::new();

/// Marks the end of a run's thread; a run its caller gave up on stops counting as runaway.
struct RunSlot {
    pool: &'static RunPool,
    abandoned: Arc<AtomicBool>,
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        // Whoever flips `abandoned` second undoes the count: the caller (timed out) counts
        // +1 only if the thread has not ended; the thread counts −1 only if it was abandoned.
        if self.abandoned.swap(true, Ordering::SeqCst) {
            self.pool.runaway.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl RunPool {
    pub const fn new() -> Self {
        Self {
            runaway: AtomicUsize::new(0),
        }
    }

    /// How many abandoned runs are still running.
    pub fn runaway_runs(&self) -> usize {
        self.runaway.load(Ordering::SeqCst)
    }

    /// Runs `code` on `input` (JSON text) on a thread of its own within `limit`: the one
    /// output, as JSON. Past the limit the thread is abandoned (it stops at its own deadline
    /// where it can: `range`); while [`MAX_RUNAWAY_RUNS`] abandoned runs still run, this is
    /// [`JqError::Busy`] at once.
    pub async fn run_within(
        &'static self,
        code: &str,
        input: &str,
        limit: Duration,
    ) -> Result<Value, JqError> {
        if self.runaway_runs() >= MAX_RUNAWAY_RUNS {
            return Err(JqError::Busy);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let abandoned = Arc::new(AtomicBool::new(false));
        let slot = RunSlot {
            pool: self,
            abandoned: abandoned.clone(),
        };
        let (code, input) = (code.to_owned(), input.as_bytes().to_vec());
        let deadline = Instant::now() + limit;
        let spawned = std::thread::Builder::new()
            .name("jq-run".into())
            .stack_size(RUN_STACK_BYTES)
            .spawn(move || {
                let result = std::panic::catch_unwind(|| run_here(&code, &input, deadline))
                    .unwrap_or_else(|_| Err(JqError::Run("the expression failed".into())));
                let _ = tx.send(result);
                drop(slot);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start a jq run");
            return Err(JqError::Busy);
        }
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(JqError::Run("the expression failed".into())),
            Err(_) => {
                if !abandoned.swap(true, Ordering::SeqCst) {
                    self.runaway.fetch_add(1, Ordering::SeqCst);
                }
                tracing::warn!(
                    runaway = self.runaway_runs(),
                    "a jq run passed its time limit and was abandoned"
                );
                Err(JqError::Timeout)
            }
        }
    }
}

impl Default for RunPool {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `code` on `input` within [`TIME_LIMIT`] in the process's pool.
pub async fn run(code: &str, input: &str) -> Result<Value, JqError> {
    POOL.run_within(code, input, TIME_LIMIT).await
}

/// A job's filter on an event: whether it passes. A non-boolean output is an error.
pub async fn passes(filter: &str, event: &str) -> Result<bool, JqError> {
    match run(filter, event).await? {
        Value::Bool(b) => Ok(b),
        other => Err(JqError::Run(format!(
            "the filter must yield true or false, not {}",
            type_name(&other)
        ))),
    }
}

/// A job's transform on an event: the record object to store.
pub async fn transform(code: &str, event: &str) -> Result<serde_json::Map<String, Value>, JqError> {
    match run(code, event).await? {
        Value::Object(m) => Ok(m),
        other => Err(JqError::Run(format!(
            "the transform must yield an object, not {}",
            type_name(&other)
        ))),
    }
}

/// What a job's jq settings make of one mapped event.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// `webhookConfig.filter` yielded false: the event is stored `ignored`.
    Filtered,
    /// The mapping to apply, its data replaced by the transform's output (upserts only: a
    /// delete keeps no data).
    Apply(Mapping),
}

/// Runs the job's filter, then its transform, on the raw event: the one call the worker and
/// the preview make.
pub async fn evaluate(
    config: &WebhookConfig,
    raw: &str,
    mapping: Mapping,
) -> Result<Verdict, JqError> {
    if let Some(filter) = &config.filter {
        if !passes(filter, raw).await? {
            return Ok(Verdict::Filtered);
        }
    }
    let mapping = match (mapping, &config.transform) {
        (
            Mapping::Apply {
                object_type,
                object_id,
                event_created,
                delete: false,
                data: _,
            },
            Some(code),
        ) => Mapping::Apply {
            data: Some(Value::Object(transform(code, raw).await?)),
            object_type,
            object_id,
            event_created,
            delete: false,
        },
        (m, _) => m,
    };
    Ok(Verdict::Apply(mapping))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVOICE: &str = r#"{"id":"evt_1","type":"invoice.paid","created":1700000000,
        "data":{"object":{"id":"in_1","object":"invoice","status":"paid","amount_paid":1200,
        "customer":"cus_1"}}}"#;

    #[test]
    fn compile_errors_name_the_field_and_say_what_jq_expected() {
        let e = check("webhookConfig.filter", ".type ==")
            .unwrap_err()
            .to_string();
        assert!(e.contains("webhookConfig.filter"), "{e}");
        assert!(e.contains("expected"), "{e}");
        let e = check("webhookConfig.transform", "{id: .x | nosuchfn}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("undefined filter nosuchfn"), "{e}");
        assert!(check("f", "").is_err());
        assert!(check("f", &".".repeat(MAX_EXPRESSION_LEN + 1)).is_err());
        assert!(check("f", r#".type == "invoice.paid""#).is_ok());
    }

    #[test]
    fn the_environment_is_not_reachable() {
        assert!(check("f", "env").is_err());
        assert!(check("f", "$ENV").is_err());
        assert!(check("f", "input").is_err());
        assert!(check("f", r#"include "x"; ."#).is_err());
    }

    #[test]
    fn the_deepest_expression_compiles_on_its_own_stack() {
        let half = MAX_EXPRESSION_LEN / 2 - 1;
        let deep = format!("{}.{}", "[".repeat(half), "]".repeat(half));
        let e = check("f", &deep).unwrap_err().to_string();
        assert!(e.contains("more than 64 levels"), "{e}");
        let unclosed = "(".repeat(MAX_EXPRESSION_LEN);
        assert!(check("f", &unclosed).is_err());
        let nested = format!("{}.{}", "[".repeat(64), "]".repeat(64));
        assert!(check("f", &nested).is_ok());
        assert!(check(
            "f",
            r#""(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((""#
        )
        .is_ok());
        // Long operator chains, as long as the limit allows.
        for op in ["+", "|", ",", " and ", " // "] {
            let chain = vec!["."; MAX_EXPRESSION_LEN / (op.len() + 1)].join(op);
            let chain = &chain[..chain.len().min(MAX_EXPRESSION_LEN)];
            let chain = chain.trim_end_matches(|c: char| c != '.');
            let _ = check("f", chain);
        }
        let ifs = "if . then ".repeat(300) + "." + &" else . end".repeat(300);
        let _ = check("f", &ifs[..ifs.len().min(MAX_EXPRESSION_LEN)]);
        let ifs = "if . then ".repeat(150) + "." + &" else . end".repeat(150);
        let _ = check("f", &ifs);
    }

    #[test]
    fn own_definitions_are_refused_with_their_column() {
        let e = check("webhookConfig.transform", "def f: 1 + f; f")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("definitions (def) are not supported, at column 1"),
            "{e}"
        );
        let e = check("f", r#"{a: "\(def g: g; g)"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("def"), "{e}");
        assert!(check("f", r#"{default: .definition, x: "def"}"#).is_ok());
    }

    #[tokio::test]
    async fn endless_runs_end_at_the_time_limit_and_are_bounded() {
        // `range` stops itself at the deadline: its thread ends soon after.
        let t = Instant::now();
        assert_eq!(run("[range(1e9)]", "{}").await, Err(JqError::Timeout));
        assert!(t.elapsed() < TIME_LIMIT * 4, "{:?}", t.elapsed());
        // A loop that cannot be stopped is abandoned; a bounded number of them may run.
        static POOL: RunPool = RunPool::new();
        let mut timeouts = 0;
        let mut busy = 0;
        for _ in 0..MAX_RUNAWAY_RUNS + 2 {
            match POOL
                .run_within("0 | until(false; .)", "{}", Duration::from_millis(50))
                .await
            {
                Err(JqError::Timeout) => timeouts += 1,
                Err(JqError::Busy) => busy += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(timeouts <= MAX_RUNAWAY_RUNS, "{timeouts}");
        assert!(busy >= 2, "{busy}");
        assert_eq!(POOL.runaway_runs(), MAX_RUNAWAY_RUNS);
        assert!(JqError::Busy.to_string().contains("retry later"));
        assert!(!JqError::Busy.is_permanent() && JqError::Timeout.is_permanent());
    }

    #[tokio::test]
    async fn filters_yield_booleans() {
        assert_eq!(
            passes(r#".type == "invoice.paid""#, INVOICE).await,
            Ok(true)
        );
        assert_eq!(
            passes(r#".data.object.status == "open""#, INVOICE).await,
            Ok(false)
        );
        let e = passes(".type", INVOICE).await.unwrap_err();
        assert!(e.to_string().contains("true or false"), "{e}");
        let e = passes("empty", INVOICE).await.unwrap_err();
        assert!(e.to_string().contains("no value"), "{e}");
        let e = passes("true, false", INVOICE).await.unwrap_err();
        assert!(e.to_string().contains("more than one"), "{e}");
    }

    #[tokio::test]
    async fn transforms_yield_objects() {
        let out = transform(
            "{id: .data.object.id, amount: .data.object.amount_paid, range: [range(3)]}",
            INVOICE,
        )
        .await
        .unwrap();
        assert_eq!(
            Value::Object(out),
            serde_json::json!({"id": "in_1", "amount": 1200, "range": [0, 1, 2]})
        );
        let e = transform(".data.object.id", INVOICE).await.unwrap_err();
        assert!(e.to_string().contains("an object"), "{e}");
        let e = transform(r#"error("no customer")"#, INVOICE)
            .await
            .unwrap_err();
        assert_eq!(e, JqError::Run("no customer".into()));
    }

    #[tokio::test]
    async fn outputs_are_bounded() {
        let e = transform(r#"{x: ("a" * 400000)}"#, INVOICE)
            .await
            .unwrap_err();
        assert_eq!(e, JqError::TooLarge);
        let ok = transform(r#"{x: ("a" * 1000)}"#, INVOICE).await.unwrap();
        assert_eq!(ok["x"].as_str().unwrap().len(), 1000);
    }
}
