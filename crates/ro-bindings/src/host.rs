//! The `ro` host's commands as functions over readers and writers, so they are testable
//! in-process; `src/main.rs` only parses arguments, reads the clock and picks exit codes.

use std::io::{BufRead, BufReader, Read, Write};

use ro_admin::{PlaneCommand, PlaneQuery, PlaneRejection};
use ro_core::{Actor, ActorId, ActorKind, ExecuteError, Kernel, Reason, Rejection, Timestamp};
use ro_jobs::JobsCommand;
use serde_json::{Value, json};

use crate::{
    protocol::{self, ProtocolError, Request},
    store::{Store, StoreError},
};

/// The most responses held back for one group commit.
pub const MAX_BATCH: usize = 4096;

/// The buffer `apply` reads its input into: room for more than [`MAX_BATCH`] typical lines,
/// so a batch closes at `MAX_BATCH` or when no further line has arrived, never because the
/// buffer was full.
pub const INPUT_CAPACITY: usize = 1 << 20;

/// The longest input line accepted, in bytes (1 MiB); a longer one is answered
/// `LINE_TOO_LONG` without being held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads and drops the rest of the current line, in bounded chunks.
fn skip_line<R: Read>(input: &mut BufReader<R>, scratch: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        scratch.clear();
        let n = input.by_ref().take(1 << 16).read_until(b'\n', scratch)?;
        if n == 0 || scratch.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

/// Why a host command failed as a whole (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading input or writing output failed.
    #[error("input/output: {0}")]
    Io(#[from] std::io::Error),
    /// Something that cannot be encoded (a bug).
    #[error("encoding: {0}")]
    Encoding(String),
    /// An argument out of range.
    #[error("{0}")]
    InvalidArgument(String),
}

impl HostError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::Store(e) => e.code(),
            HostError::Io(_) => "IO_ERROR",
            HostError::Encoding(_) => "ENCODING_FAILED",
            HostError::InvalidArgument(_) => "INVALID_ARGUMENT",
        }
    }
}

/// How an `apply` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Commands accepted (including first steps answered `confirmation_required`).
    pub accepted: usize,
    /// Of those, first steps answered `confirmation_required`: not done until confirmed.
    pub pending: usize,
    /// Lines refused (bad documents and rejected commands).
    pub refused: usize,
}

/// Executes one line and returns its response. Events it appended (including the trace of a
/// refusal) are in the kernel's journal, not yet durable.
pub fn execute_line(
    kernel: &mut Kernel<ro_admin::Plane>,
    line: &str,
    default_actor: Option<&ActorId>,
    now: Timestamp,
) -> (bool, Value) {
    match run_line(
        kernel,
        line,
        Who::Console(default_actor, None, protocol::Skew::CONSOLE),
        now,
    ) {
        (ok, Answer::Json(value) | Answer::Pending(value)) => (ok, value),
        (ok, Answer::Accepted { before, result }) => (
            ok,
            json!({ "ok": true, "seq": kernel.head().seq, "events": events_after(kernel, before), "result": result }),
        ),
    }
}

/// [`execute_line`]'s response as one line of text, as `apply` prints it. An accepted
/// command's events are written as their export lines (the canonical envelope with `hash` and
/// `prev`), spliced from the stored bodies rather than parsed and re-encoded.
pub fn execute_line_text(
    kernel: &mut Kernel<ro_admin::Plane>,
    line: &str,
    default_actor: Option<&ActorId>,
    now: Timestamp,
) -> (bool, String) {
    let (ok, answer) = run_line(
        kernel,
        line,
        Who::Console(default_actor, None, protocol::Skew::CONSOLE),
        now,
    );
    (ok, render(kernel, answer))
}

/// An answer as the line `apply` prints.
fn render(kernel: &Kernel<ro_admin::Plane>, answer: Answer) -> String {
    match answer {
        Answer::Json(value) | Answer::Pending(value) => response_text(&value),
        Answer::Accepted { before, result } => {
            let mut out: Vec<u8> = Vec::with_capacity(1024);
            out.extend_from_slice(b"{\"events\":[");
            for (i, record) in kernel.journal().records_after(before).iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if record.write_export_line(&mut out).is_err() {
                    // Not reachable for records the kernel wrote; answer the slow way.
                    let value = json!({ "ok": true, "seq": kernel.head().seq,
                                        "events": events_after(kernel, before), "result": result });
                    return response_text(&value);
                }
            }
            out.extend_from_slice(b"],\"ok\":true,\"result\":");
            out.extend_from_slice(response_text(&result).as_bytes());
            out.extend_from_slice(format!(",\"seq\":{}}}", kernel.head().seq).as_bytes());
            // Every piece is UTF-8 (JSON text); a failure here would be a bug, answered as text
            // all the same.
            String::from_utf8(out)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
    }
}

/// A response as one line of canonical JSON (keys sorted), so its bytes never depend on
/// serde_json's map order (insertion order when any crate in a build enables its
/// `preserve_order` feature); serde_json's own writer for what canonical JSON cannot hold
/// (floats, integers beyond 2^53 − 1), which responses do not contain.
pub fn response_text(value: &Value) -> String {
    ro_core::canonical::value_to_canonical_vec(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| value.to_string())
}

/// How a line was answered: a JSON document, the first step of a two-step command (pending
/// until confirmed), or an accepted command whose response is built from the journal by the
/// caller.
enum Answer {
    Json(Value),
    Pending(Value),
    Accepted { before: u64, result: Value },
}

/// Who sends a line.
#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    /// The console: trusted by file access; documents name their actor, or the host's
    /// default one acts (with the default reason, for documents that give none); `at` within
    /// the skew.
    Console(Option<&'a ActorId>, Option<&'a Reason>, protocol::Skew),
    /// A principal a host authenticated, with the credential it presented.
    Caller(&'a Caller),
}

/// A principal a served host authenticated: every line it sends acts as `actor`, whatever the
/// document names; a document naming another actor is refused (`ACTOR_MISMATCH`) and
/// recorded, one naming the principal with another kind is refused as the registry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal, with its registered kind.
    pub actor: Actor,
    /// The id of the token it presented.
    pub credential: String,
    /// How far a document's `at` may stray from the host clock.
    pub skew: protocol::Skew,
}

/// How a served line went: the response text as `apply` prints it, and what a transport
/// needs to pick its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The response, one line of JSON.
    pub body: String,
    /// Whether it was accepted (a pending first step included).
    pub ok: bool,
    /// A first step awaiting its confirmation.
    pub pending: bool,
    /// The error's code when refused.
    pub code: Option<&'static str>,
    /// The command's or query's type, when the line decoded.
    pub ty: Option<&'static str>,
    /// Refused by the plane's decision (its trace recorded), not by the protocol.
    pub recorded: bool,
}

/// Executes one line sent by an authenticated `caller`: the same documents and the same
/// response bytes as `apply` (a refusal names `line_no`, its line in the input, when given),
/// with the caller's identity and credential enforced by the plane (see [`Caller`]).
pub fn execute_served(
    kernel: &mut Kernel<ro_admin::Plane>,
    line: &str,
    line_no: Option<u64>,
    caller: &Caller,
    now: Timestamp,
) -> Served {
    let (ok, mut answer) = run_line(kernel, line, Who::Caller(caller), now);
    if let (Answer::Json(value), false, Some(line_no)) = (&mut answer, ok, line_no)
        && let Some(details) = value
            .pointer_mut("/error/details")
            .and_then(Value::as_object_mut)
    {
        details.insert("line".into(), Value::from(line_no));
    }
    let pending = matches!(answer, Answer::Pending(_));
    let (code, recorded) = match &answer {
        Answer::Json(value) => (
            value
                .pointer("/error/code")
                .and_then(Value::as_str)
                .map(static_code),
            value.pointer("/error/details/recorded_seqs").is_some(),
        ),
        _ => (None, false),
    };
    let ty = type_of_line(line);
    Served {
        body: render(kernel, answer),
        ok,
        pending,
        code,
        ty,
        recorded,
    }
}

/// The `type` a line names, if it is one the protocol knows (for metrics: never an arbitrary
/// string from input).
fn type_of_line(line: &str) -> Option<&'static str> {
    let value: Value = serde_json::from_str(line).ok()?;
    let ty = value.get("type")?.as_str()?;
    ro_policy::Action::parse(ty)
        .map(ro_policy::Action::as_str)
        .or_else(|| protocol::QUERY_TYPES.iter().find(|t| **t == ty).copied())
}

/// An error code as a `'static` string: codes are a closed set; an unexpected one is reported
/// as `ERROR`.
fn static_code(code: &str) -> &'static str {
    ERROR_CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("ERROR")
}

/// The codes a served line can be refused with that a transport distinguishes.
const ERROR_CODES: &[&str] = &[
    "INVALID_JSON",
    "INVALID_FIELD",
    "UNKNOWN_COMMAND",
    "INVALID_COMMAND",
    "ACTOR_REQUIRED",
    "CLOCK_SKEW",
    "ACTOR_MISMATCH",
    "PRINCIPAL_KIND_MISMATCH",
    "UNREGISTERED_PRINCIPAL",
    "HUMAN_ONLY_ACTION",
    "UNAUTHORIZED",
    "TOKEN_REVOKED",
    "TOKEN_EXPIRED",
    "TOKEN_INVALID",
    "SIGNATURE_REQUIRED",
    "SIGNATURE_INVALID",
    "TIME_WENT_BACKWARDS",
    "LOCKDOWN_ACTIVE",
];

fn run_line(
    kernel: &mut Kernel<ro_admin::Plane>,
    line: &str,
    who: Who<'_>,
    now: Timestamp,
) -> (bool, Answer) {
    let decoded = match who {
        Who::Console(default_actor, default_reason, skew) => {
            // The console's actor acts with the kind its principal is registered with (human
            // while no principal is registered: the store's owner at the console).
            let default_actor = default_actor.map(|id| {
                let kind = kernel
                    .state()
                    .policy()
                    .access()
                    .principals()
                    .get(id)
                    .copied()
                    .unwrap_or(ActorKind::Human);
                Actor {
                    id: id.clone(),
                    kind,
                }
            });
            protocol::decode_within(line, default_actor.as_ref(), now, skew).map(|mut d| {
                if d.ctx.reason.is_none() {
                    d.ctx.reason = default_reason.cloned();
                }
                d
            })
        }
        Who::Caller(caller) => {
            protocol::decode_within(line, Some(&caller.actor), now, caller.skew).map(|mut d| {
                if d.actor_named && d.ctx.actor.id != caller.actor.id {
                    d.ctx.claimed_actor = Some(d.ctx.actor.id.clone());
                    d.ctx.actor = caller.actor.clone();
                }
                d.ctx.credential = Some(caller.credential.clone());
                // Within the skew but ahead of the host: dated at the host's time, so nothing
                // a caller sends records a time the host has not reached.
                d.ctx.at = d.ctx.at.min(now);
                d
            })
        }
    };
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => return (false, Answer::Json(protocol_error(&e))),
    };
    let command = match decoded.request {
        Request::Command(command) => command,
        Request::Query(query) => {
            if let Who::Caller(caller) = who
                && let Some(refusal) = query_identity(kernel, caller, &decoded.ctx)
            {
                return (false, Answer::Json(refusal));
            }
            let (ok, value) = answer(kernel, &query, &decoded.ctx);
            return (ok, Answer::Json(value));
        }
    };
    let before = kernel.head().seq;
    let outcome = kernel.execute(&command, &decoded.ctx);
    let (ok, value) = match outcome {
        Ok(envelopes) => {
            let result = ro_admin::command_result(envelopes.iter().map(|e| &e.event));
            if command.type_name() == "TICK" {
                run_due(kernel, &decoded.ctx);
            }
            let result = serde_json::to_value(result).unwrap_or(Value::Null);
            return (true, Answer::Accepted { before, result });
        }
        Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(token))) => {
            let expires_at = decoded
                .ctx
                .at
                .checked_add(time::Duration::seconds(ro_admin::CONFIRMATION_TTL_SECONDS))
                .unwrap_or(Timestamp::MAX);
            let next = if kernel.state().four_eyes() {
                "send the same command again with this confirmation_token, by another human \
                 (four-eyes), before expires_at"
            } else {
                "send the same command again with this confirmation_token, by the same actor, \
                 before expires_at"
            };
            return (
                true,
                Answer::Pending(json!({ "ok": true, "confirmation_required": true,
                    "confirmation_token": token.reveal(), "expires_at": expires_at, "next": next })),
            );
        }
        Err(e) => {
            let seqs: Vec<u64> = ((before + 1)..=kernel.head().seq).collect();
            (
                false,
                protocol::error_response(
                    e.code(),
                    &e.to_string(),
                    json!({ "type": command.type_name(), "recorded_seqs": seqs }),
                ),
            )
        }
    };
    (ok, Answer::Json(value))
}

/// The most rounds of planning one `TICK` runs: a round's runs start in the next.
const PLAN_ROUNDS: usize = 4;

/// What a `TICK` sets going after its own events: the schedule's due occurrences become runs
/// (with their deterministic ids, each once: an occurrence requested or skipped is never due
/// again), slots beyond a job's catch-up limit are skipped and recorded, and queued attempts
/// start within every concurrency limit, gate and pause. Each is a command of the planner's,
/// decided and recorded as the tick's actor's at the tick's time, so a replayed history
/// decides the same.
fn run_due(kernel: &mut Kernel<ro_admin::Plane>, ctx: &ro_core::Context) {
    for _ in 0..PLAN_ROUNDS {
        // While execution is closed (the production lock, the kill switch), only read-only
        // jobs' runs are started: the others stay due, and are caught up by each job's
        // catch-up policy once a human opens execution again (sending them now would record
        // one refusal per job and tick).
        let plane = kernel.state();
        let closed = plane.production_locked() || plane.kill_switch();
        let planned: Vec<JobsCommand> = plane
            .jobs()
            .plan(ctx.at)
            .into_iter()
            .filter(|c| !matches!(c, JobsCommand::Tick {}))
            .filter(|c| {
                !closed
                    || !PlaneCommand::Jobs(c.clone()).facts().enables_execution
                    || plane.jobs().of_read_only_job(c)
            })
            .collect();
        if planned.is_empty() {
            return;
        }
        let mut progressed = false;
        for command in planned {
            let command = PlaneCommand::Jobs(command);
            let mut step = ctx.clone();
            step.causation = Some(ro_admin::command_digest(&command));
            // The tick's proofs are the tick's: none carries over to what it sets going.
            step.signature = None;
            step.confirmation_token = None;
            progressed |= kernel
                .execute(&command, &step)
                .is_ok_and(|events| !events.is_empty());
        }
        if !progressed {
            return;
        }
    }
}

/// Why an authenticated caller's query is refused (nothing is recorded: a query changes
/// nothing): a document naming someone else or another kind, or a credential that no longer
/// authenticates.
fn query_identity(
    kernel: &Kernel<ro_admin::Plane>,
    caller: &Caller,
    ctx: &ro_core::Context,
) -> Option<Value> {
    let refuse =
        |code: &str, message: String| Some(protocol::error_response(code, &message, json!({})));
    if let Some(claimed) = &ctx.claimed_actor {
        return refuse(
            "ACTOR_MISMATCH",
            format!(
                "the document names {claimed}; this token authenticates {}",
                caller.actor.id
            ),
        );
    }
    if ctx.actor.kind != caller.actor.kind {
        return refuse(
            "PRINCIPAL_KIND_MISMATCH",
            format!("{} is registered as {}", caller.actor.id, caller.actor.kind),
        );
    }
    let id = ro_admin::credentials::TokenId::new(&caller.credential).ok()?;
    match kernel.state().credentials().valid(&id, ctx.at) {
        Ok(record) if record.principal == caller.actor.id => None,
        Ok(_) => refuse(
            "TOKEN_INVALID",
            format!("token {id} authenticates another principal"),
        ),
        Err(problem) => refuse(problem.code(), format!("token {id}: {}", problem.code())),
    }
}

/// Answers a query from the state: nothing is appended.
fn answer(
    kernel: &Kernel<ro_admin::Plane>,
    query: &PlaneQuery,
    ctx: &ro_core::Context,
) -> (bool, Value) {
    let ty = serde_json::to_value(query)
        .ok()
        .and_then(|v| v.get("type").cloned())
        .unwrap_or(Value::Null);
    match kernel.state().query(query, &ctx.actor, ctx.at) {
        Ok(result) => {
            let mut result = serde_json::to_value(result).unwrap_or(Value::Null);
            add_audit_hashes(kernel, &mut result);
            (
                true,
                json!({ "ok": true, "seq": kernel.head().seq, "events": [], "result": result }),
            )
        }
        Err(e) => (
            false,
            protocol::error_response(e.code(), &e.to_string(), json!({ "type": ty })),
        ),
    }
}

/// Incidents name the seq that recorded them; the host, which holds the journal, adds the
/// audit hash: the journal's head hash at detection (the `prev` of that record).
pub(crate) fn add_audit_hashes(kernel: &Kernel<ro_admin::Plane>, result: &mut Value) {
    let Some(incidents) = result
        .get_mut("open_incidents")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for incident in incidents {
        let hash = incident
            .get("audit_seq")
            .and_then(Value::as_u64)
            .and_then(|seq| kernel.journal().prev_of(seq))
            .map(|prev| prev.to_string());
        if let (Some(hash), Some(map)) = (hash, incident.as_object_mut()) {
            let plane_id = kernel.state().signing().plane_id().to_string();
            map.insert(
                "incident_id".into(),
                Value::String(crate::evidence::incident_id(&plane_id, &hash)),
            );
            map.insert("audit_hash".into(), Value::String(hash));
        }
    }
}

fn protocol_error(e: &ProtocolError) -> Value {
    protocol::error_response(e.code(), &e.to_string(), e.details())
}

fn events_after(kernel: &Kernel<ro_admin::Plane>, seq: u64) -> Vec<Value> {
    kernel
        .journal()
        .records_after(seq)
        .iter()
        .map(|r| {
            // The body is canonical JSON already; add the chain fields as the export does.
            let mut value: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("hash".into(), Value::String(r.hash.to_string()));
                map.insert("prev".into(), Value::String(r.prev.to_string()));
            }
            value
        })
        .collect()
}

/// `ro apply`: one response line per input line, in order, each printed only after the
/// transaction holding its events committed. Lines that arrive faster than the disk syncs
/// share one commit (group commit): a batch closes when no further complete line is already
/// buffered, or at [`MAX_BATCH`]. Read through [`arriving`] (as `open_input` does), the buffer
/// holds everything that has arrived.
pub fn apply<R: Read, W: Write>(
    store: &mut Store,
    input: &mut BufReader<R>,
    output: &mut W,
    default_actor: Option<&ActorId>,
    clock: &mut dyn FnMut() -> Timestamp,
) -> Result<Tally, HostError> {
    apply_within(
        store,
        input,
        output,
        (default_actor, None),
        clock,
        protocol::Skew::CONSOLE,
    )
}

/// [`apply`] with the bound on documents' `at` given (`ro apply` bounds it both ways unless
/// `--history`), and the reason of documents that give none (`--reason`).
pub fn apply_within<R: Read, W: Write>(
    store: &mut Store,
    input: &mut BufReader<R>,
    output: &mut W,
    (default_actor, default_reason): (Option<&ActorId>, Option<&Reason>),
    clock: &mut dyn FnMut() -> Timestamp,
    skew: protocol::Skew,
) -> Result<Tally, HostError> {
    let mut tally = Tally::default();
    // The input's line number (every line counts, blank ones too), named in refusals.
    let mut line_no: u64 = 0;
    let mut held: Vec<String> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut line = String::new();
    let mut block = String::new();
    loop {
        bytes.clear();
        // At most MAX_LINE_BYTES (plus its newline) are held; the rest of a longer line is
        // read and dropped, and the line is answered as too long.
        let read = input
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut bytes);
        let read = match read {
            Ok(n) => n,
            Err(e) => {
                flush(store, &mut held, output)?;
                return Err(e.into());
            }
        };
        if read == 0 {
            break;
        }
        line_no += 1;
        if bytes.len() > MAX_LINE_BYTES && bytes.last() != Some(&b'\n') {
            let mut rest = Vec::new();
            let skipped = skip_line(input, &mut rest);
            if let Err(e) = skipped {
                flush(store, &mut held, output)?;
                return Err(e.into());
            }
            tally.refused += 1;
            held.push(response_text(&protocol::error_response(
                "LINE_TOO_LONG",
                &format!(
                    "the line is longer than {MAX_LINE_BYTES} bytes; send one command per line"
                ),
                json!({ "max_bytes": MAX_LINE_BYTES, "line": line_no }),
            )));
            continue;
        }
        line.clear();
        match std::str::from_utf8(&bytes) {
            Ok(text) => line.push_str(text),
            Err(e) => {
                // Unreadable input (not UTF-8): what ran before it is still committed and
                // answered, then the whole apply fails.
                flush(store, &mut held, output)?;
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e).into());
            }
        }
        let mut text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        // A document printed over several lines (a pretty-printed block: its inner lines
        // indented, its closing bracket first on its line) is read whole and answered once,
        // naming its first line.
        let first_line = line_no;
        let mut scan = Scan::default();
        if !text.trim_end().ends_with('}') && scan.feed(text) > 0 {
            block.clear();
            block.push_str(text);
            if let Err(e) = continue_block(input, &mut block, &mut scan, &mut line_no) {
                flush(store, &mut held, output)?;
                return Err(e.into());
            }
            text = &block;
        }
        // The batch's first line takes the write lock and reads the tail other writers
        // appended; the clock is read after, so the line is dated after what it decides on.
        if let Err(e) = store.begin(|kernel| makes_safer(kernel, text, default_actor)) {
            flush(store, &mut held, output)?;
            return Err(e.into());
        }
        let (ok, mut answer) = run_line(
            store.kernel_mut(),
            text,
            Who::Console(default_actor, default_reason, skew),
            clock(),
        );
        match (&mut answer, ok) {
            (Answer::Pending(_), _) => {
                tally.accepted += 1;
                tally.pending += 1;
            }
            (Answer::Json(value), false) => {
                tally.refused += 1;
                if let Some(details) = value
                    .pointer_mut("/error/details")
                    .and_then(Value::as_object_mut)
                {
                    details.insert("line".into(), Value::from(first_line));
                }
            }
            (_, true) => tally.accepted += 1,
            (_, false) => tally.refused += 1,
        }
        held.push(render(store.kernel(), answer));
        if held.len() >= MAX_BATCH || !input.buffer().contains(&b'\n') {
            flush(store, &mut held, output)?;
        }
    }
    flush(store, &mut held, output)?;
    Ok(tally)
}

/// How deep a JSON text leaves its brackets open (strings and escapes skipped).
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    depth: i64,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Feeds more text; returns the depth after it.
    fn feed(&mut self, text: &str) -> i64 {
        for byte in text.bytes() {
            if self.in_string {
                match (self.escaped, byte) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => self.depth -= 1,
                _ => {}
            }
        }
        self.depth
    }
}

/// Reads the rest of a block begun in `block`: each following line that continues it (indented,
/// or opening with its closing bracket) until its brackets close, at most [`MAX_LINE_BYTES`]
/// in all. A line that starts anew (at its first column) is left for the next document, and
/// the unfinished block is answered as the invalid JSON it is.
fn continue_block<R: Read>(
    input: &mut BufReader<R>,
    block: &mut String,
    scan: &mut Scan,
    line_no: &mut u64,
) -> std::io::Result<()> {
    while scan.depth > 0 && block.len() <= MAX_LINE_BYTES {
        let next = input.fill_buf()?.first().copied();
        let continues = matches!(next, Some(b' ' | b'\t' | b'}' | b']'));
        if !continues {
            return Ok(());
        }
        let mut bytes = Vec::new();
        input
            .by_ref()
            .take((MAX_LINE_BYTES + 1 - block.len().min(MAX_LINE_BYTES)) as u64)
            .read_until(b'\n', &mut bytes)?;
        *line_no += 1;
        if bytes.last() != Some(&b'\n') && block.len() + bytes.len() > MAX_LINE_BYTES {
            // Too long: the rest of this line goes too, and the block is answered as it is.
            skip_line(input, &mut Vec::new())?;
            return Ok(());
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        scan.feed(text);
        block.push('\n');
        block.push_str(text.trim_end_matches(['\n', '\r']));
    }
    Ok(())
}

/// Whether `line` is a command that makes the plane safer (a lockdown, the kill switch, a
/// pause): such a command does not wait behind other writers' batches.
fn makes_safer(
    kernel: &Kernel<ro_admin::Plane>,
    line: &str,
    default_actor: Option<&ActorId>,
) -> bool {
    let actor = default_actor.map(|id| Actor::human(id.clone()));
    match protocol::decode(line, actor.as_ref(), Timestamp::MAX) {
        Ok(protocol::Decoded {
            request: Request::Command(command),
            ..
        }) => kernel.state().action_of(&command).0.safety() == ro_policy::Safety::Increasing,
        _ => false,
    }
}

fn flush<W: Write>(
    store: &mut Store,
    held: &mut Vec<String>,
    output: &mut W,
) -> Result<(), HostError> {
    store.commit()?;
    for response in held.drain(..) {
        writeln!(output, "{response}")?;
    }
    output.flush()?;
    Ok(())
}

/// `ro init`: a new store whose first event grants `admin` the admin role, and whose second
/// registers `admin` as a human principal: from then on every actor must be registered, and
/// acts with its registered kind.
pub fn init(
    store: impl Into<crate::store::Location>,
    admin: &ActorId,
    at: Timestamp,
) -> Result<Store, HostError> {
    init_with_posture(store, admin, at, false)
}

/// [`init`], and when `locked`, the production lock and the kill switch engaged by the admin
/// from the first moment (execution stays closed until a human releases them, two steps
/// each).
pub fn init_with_posture(
    store: impl Into<crate::store::Location>,
    admin: &ActorId,
    at: Timestamp,
    locked: bool,
) -> Result<Store, HostError> {
    let mut store = Store::create(store)?;
    let mut lines = vec![
        json!({ "type": "GRANT_ROLE", "principal": admin.as_str(), "role": "admin",
                "operator_id": admin.as_str(), "reason": "ro init" }),
        json!({ "type": "REGISTER_PRINCIPAL", "principal": admin.as_str(), "kind": "human",
                "operator_id": admin.as_str(), "reason": "ro init" }),
    ];
    if locked {
        for ty in ["PRODUCTION_LOCK", "ENGAGE_KILL_SWITCH"] {
            lines.push(json!({ "type": ty, "operator_id": admin.as_str(),
                               "reason": "ro init: the initial posture is locked" }));
        }
    }
    for line in lines {
        let (ok, response) = execute_line(store.kernel_mut(), &line.to_string(), None, at);
        if !ok {
            return Err(HostError::Encoding(format!(
                "the bootstrap was refused: {response}"
            )));
        }
    }
    store.commit()?;
    Ok(store)
}

/// How many records `ro copy` writes per transaction.
const COPY_BATCH: usize = 10_000;

/// `ro copy`: copies the store at `from` into a new store at `to`, on either engine: every
/// record with its bytes (so every hash is kept; each is checked again as it is written), the
/// kept snapshots, the kept token hashes and the keys (the copy's key file holds the source's
/// keys, so confirmations and API tokens stay valid). The source is read as it was when
/// opened. Returns what was copied, with both heads and state digests.
pub fn copy(
    from: &crate::store::Location,
    to: &crate::store::Location,
) -> Result<Value, HostError> {
    let mut source = Store::open_replaying(from)?;
    let keys = source
        .keys()
        .cloned()
        .ok_or_else(|| StoreError::KeysMissing(from.key_file().to_owned()))?;
    let snapshots = source.snapshots()?;
    let macs = source.token_macs()?;
    let mut dest = Store::create_with_keys(to, &keys)?;
    for batch in source.kernel().journal().records().chunks(COPY_BATCH) {
        dest.append_records(batch.to_vec())?;
    }
    for (seq, bytes) in &snapshots {
        dest.put_snapshot(*seq, bytes)?;
    }
    for (id, mac) in &macs {
        dest.put_token_mac(id, mac)?;
    }
    let digest = |s: &Store| -> Result<String, HostError> {
        ro_core::state_digest(s.kernel().state())
            .map(|d| d.to_string())
            .map_err(|e| HostError::Encoding(e.to_string()))
    };
    let (from_head, to_head) = (source.head(), dest.head());
    Ok(json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "records": to_head.seq,
        "snapshots": snapshots.len(),
        "tokens": macs.len(),
        "key_file": to.key_file().display().to_string(),
        "from_head": { "seq": from_head.seq, "hash": from_head.hash.to_string(),
                       "state_digest": digest(&source)? },
        "to_head": { "seq": to_head.seq, "hash": to_head.hash.to_string(),
                     "state_digest": digest(&dest)? },
    }))
}

/// `ro status`: the head, the state digest and a summary of the plane.
pub fn status(store: &Store) -> Result<Value, HostError> {
    let opened_from = match store.restored() {
        Some(ro_core::Restored::FromSnapshot { seq }) => json!({ "snapshot_seq": seq }),
        Some(ro_core::Restored::FullReplay { reason }) => {
            json!({ "full_replay": true, "snapshot_refused": reason.to_string() })
        }
        None => json!({ "full_replay": true }),
    };
    summary(store.kernel(), opened_from, store.recorded_state_digest())
}

/// `ro status --at-seq SEQ`: the plane as it stood once record SEQ was written, rebuilt from
/// the journal's first SEQ records (what an incident's reader reproduces offline).
pub fn status_at(store: &Store, seq: u64) -> Result<Value, HostError> {
    let kernel = kernel_at(store, seq)?;
    summary(&kernel, json!({ "replayed_to_seq": seq }), None)
}

/// The plane rebuilt from the journal's first `seq` records.
pub(crate) fn kernel_at(store: &Store, seq: u64) -> Result<Kernel<ro_admin::Plane>, HostError> {
    let records = store.kernel().journal().records();
    let head = store.head().seq;
    let prefix = usize::try_from(seq)
        .ok()
        .and_then(|n| records.get(..n))
        .ok_or_else(|| {
            HostError::InvalidArgument(format!("--at-seq {seq}: the journal holds {head} records"))
        })?;
    let key = store.keys().map_or([0; 32], |k| k.confirmation);
    let damaged = |e: String| HostError::Store(StoreError::Damaged { seq, message: e });
    let journal = ro_core::Journal::from_records(prefix.iter().cloned())
        .map_err(|e| damaged(e.to_string()))?;
    Kernel::resume(ro_admin::Plane::with_confirmation_key(key), 0, journal)
        .map_err(|e| damaged(e.to_string()))
}

pub(crate) fn summary(
    kernel: &Kernel<ro_admin::Plane>,
    opened_from: Value,
    known_digest: Option<ro_core::Digest>,
) -> Result<Value, HostError> {
    let head = kernel.head();
    let plane = kernel.state();
    let digest = match known_digest {
        Some(digest) => digest,
        None => kernel
            .state_digest()
            .map_err(|e| HostError::Encoding(e.to_string()))?,
    };
    Ok(json!({
        "head_seq": head.seq,
        "head_hash": head.hash.to_string(),
        "head_at": head.at.map(|t| t.to_string()),
        "plane_id": plane.signing().plane_id().to_string(),
        "state_digest": digest.to_string(),
        "opened_from": opened_from,
        "plane": {
            "lockdown": plane.lockdown(),
            "production_locked": plane.production_locked(),
            "kill_switch": plane.kill_switch(),
            "safe_to_execute": plane.safe_to_execute(),
            "confirmations_issued": plane.confirmations_issued(),
        },
    }))
}

/// `ro audit`: the journal as JSON lines, one record a line.
pub fn audit<W: Write>(store: &Store, output: &mut W) -> Result<(), HostError> {
    for record in store.kernel().journal().records() {
        let line = record
            .to_export_line()
            .map_err(|e| HostError::Encoding(e.to_string()))?;
        writeln!(output, "{line}")?;
    }
    output.flush()?;
    Ok(())
}

/// Writes the AdminEvent record of every admin action in the journal, as JSON lines.
pub fn admin_audit<W: Write>(store: &Store, output: &mut W) -> Result<(), HostError> {
    for record in store.kernel().journal().records() {
        let envelope = record
            .decode::<ro_admin::PlaneEvent>()
            .map_err(|e| HostError::Encoding(e.to_string()))?;
        if let Some(admin) = ro_admin::audit::admin_record(&envelope) {
            let line =
                serde_json::to_string(&admin).map_err(|e| HostError::Encoding(e.to_string()))?;
            writeln!(output, "{line}")?;
        }
    }
    output.flush()?;
    Ok(())
}

/// Writes the per-cycle signature log of every recorded cycle, or of cycle `only`,
/// as JSON lines. Returns how many logs were written.
pub fn signature_logs<W: Write>(
    store: &Store,
    only: Option<u64>,
    output: &mut W,
) -> Result<u64, HostError> {
    let mut logs = ro_admin::signing::SignatureLogs::default();
    let mut written = 0u64;
    for record in store.kernel().journal().records() {
        let envelope = record
            .decode::<ro_admin::PlaneEvent>()
            .map_err(|e| HostError::Encoding(e.to_string()))?;
        let Some(log) = logs.push(&envelope) else {
            continue;
        };
        if only.is_some_and(|c| c != log.cycle) {
            continue;
        }
        let line = serde_json::to_string(&log).map_err(|e| HostError::Encoding(e.to_string()))?;
        writeln!(output, "{line}")?;
        written += 1;
        if only.is_some() {
            break;
        }
    }
    output.flush()?;
    Ok(written)
}

/// Reads lines for `apply` from a file, or standard input for `-`, read ahead on a thread of
/// its own ([`arriving`]).
pub fn open_input(file: Option<&std::path::Path>) -> Result<BufReader<Box<dyn Read>>, HostError> {
    let reader: Box<dyn Read + Send> = match file {
        Some(p) if p.as_os_str() != "-" => Box::new(std::fs::File::open(p)?),
        _ => Box::new(std::io::stdin()),
    };
    Ok(arriving(reader)?)
}

/// `source` read ahead on a thread of its own (up to [`READ_AHEAD`] chunks), behind a reader
/// whose every read returns all that has arrived (up to the buffer): a pipe hands over at most
/// its own capacity (64 KiB on Linux) per read, and `apply` closes a batch when its buffer
/// holds no further line, so without this a batch would end at the pipe's size rather than
/// at what the writer has sent.
pub fn arriving(mut source: Box<dyn Read + Send>) -> std::io::Result<BufReader<Box<dyn Read>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(READ_AHEAD);
    std::thread::Builder::new()
        .name("ro-input".into())
        .spawn(move || {
            loop {
                let mut chunk = vec![0u8; 1 << 16];
                match source.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        chunk.truncate(n);
                        if tx.send(Ok(chunk)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        })?;
    let reader: Box<dyn Read> = Box::new(Arrived {
        chunks: rx,
        current: Vec::new(),
        at: 0,
        failed: None,
    });
    Ok(BufReader::with_capacity(INPUT_CAPACITY, reader))
}

/// How many chunks of input are read ahead.
const READ_AHEAD: usize = 64;

/// The reading end of [`arriving`].
struct Arrived {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    /// An error that arrived after bytes this read returned: the next read's.
    failed: Option<std::io::Error>,
}

impl Read for Arrived {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut n = 0;
        loop {
            let rest = self.current.get(self.at..).unwrap_or_default();
            let take = rest.len().min(buf.len() - n);
            if let (Some(to), Some(from)) = (buf.get_mut(n..n + take), rest.get(..take)) {
                to.copy_from_slice(from);
            }
            n += take;
            self.at += take;
            if n == buf.len() {
                return Ok(n);
            }
            // Wait only when nothing was read yet; otherwise take what has arrived.
            let next = if n == 0 {
                self.chunks.recv().ok()
            } else {
                match self.chunks.try_recv() {
                    Ok(chunk) => Some(chunk),
                    Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(n),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
                }
            };
            match next {
                Some(Ok(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Some(Err(e)) if n == 0 => return Err(e),
                Some(Err(e)) => {
                    self.failed = Some(e);
                    return Ok(n);
                }
                None => return Ok(n),
            }
        }
    }
}
