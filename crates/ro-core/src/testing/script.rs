//! Helpers for data-driven script tests: a compact text of commands, one per line, whose
//! transcript is snapshotted (insta in ro's own suites).
//!
//! - [`context_line`] reads `@TIME KIND:ID` or `@TIME KIND:ID | reason` into a [`Context`].
//! - [`run`] executes one command and renders what it recorded: `✎ seq N {event}` per event
//!   (refusal events included), then `→ CODE: message` for a refusal, or
//!   `→ ok, nothing to record` when an accepted command changed nothing.

use serde::Serialize;

use crate::{Actor, ActorId, ActorKind, Context, Decider, Kernel, Reason, Timestamp};

/// If `line` is a context line (`@TIME KIND:ID [| reason]`), applies it to `ctx` and returns
/// true. A malformed context line panics with the reason, as a test should.
#[allow(clippy::panic)] // test helper: a malformed script must fail the test loudly
pub fn context_line(line: &str, ctx: &mut Context) -> bool {
    let Some(rest) = line.strip_prefix('@') else {
        return false;
    };
    let (head, reason) = match rest.split_once(" | ") {
        Some((h, r)) => (
            h,
            Some(Reason::new(r).unwrap_or_else(|e| panic!("reason: {e}"))),
        ),
        None => (rest, None),
    };
    let Some((at, who)) = head.split_once(' ') else {
        panic!("context line {line:?}: write @TIME KIND:ID");
    };
    let Some((kind, id)) = who.split_once(':') else {
        panic!("context line {line:?}: write KIND:ID, e.g. human:alice");
    };
    let kind = match kind {
        "human" => ActorKind::Human,
        "agent" => ActorKind::Agent,
        "service" => ActorKind::Service,
        other => panic!("actor kind {other:?}: human, agent or service"),
    };
    ctx.at = Timestamp::parse_rfc3339(at).unwrap_or_else(|e| panic!("time {at:?}: {e}"));
    ctx.actor = Actor {
        id: ActorId::new(id).unwrap_or_else(|e| panic!("{e}")),
        kind,
    };
    ctx.reason = reason;
    true
}

/// Executes `command` and renders its outcome as transcript lines, each prefixed by `indent`.
pub fn run<D>(kernel: &mut Kernel<D>, ctx: &Context, command: &D::Command, indent: &str) -> String
where
    D: Decider,
    D::Event: Serialize,
{
    run_returning(kernel, ctx, command, indent).0
}

/// As [`run`], also returning the refusal, if any (a script may act on what it carries).
#[allow(clippy::panic)] // test helper: an undecodable record is a bug to surface
pub fn run_returning<D>(
    kernel: &mut Kernel<D>,
    ctx: &Context,
    command: &D::Command,
    indent: &str,
) -> (String, Option<crate::ExecuteError<D::Rejection>>)
where
    D: Decider,
    D::Event: Serialize,
{
    let before = kernel.head().seq;
    let result = kernel.execute(command, ctx);
    let mut out = String::new();
    let recorded: Vec<String> = kernel
        .journal()
        .records_after(before)
        .iter()
        .map(|r| match r.decode::<D::Event>() {
            Ok(e) => format!(
                "seq {} {}",
                e.seq,
                serde_json::to_string(&e.event).unwrap_or_default()
            ),
            Err(e) => panic!("recorded event does not decode: {e}"),
        })
        .collect();
    let refused = match result {
        Ok(_) if recorded.is_empty() => {
            out.push_str(&format!("{indent}→ ok, nothing to record\n"));
            None
        }
        Ok(_) => None,
        Err(e) => {
            out.push_str(&format!("{indent}→ {}: {e}\n", e.code()));
            Some(e)
        }
    };
    for r in recorded {
        out.push_str(&format!("{indent}✎ {r}\n"));
    }
    (out, refused)
}
