//! The test kit for downstream property suites (feature `testing`).
//!
//! - [`given`] or [`given_state`] / [`Scenario::when`] / [`Then`]: given events (or a state) →
//!   when a command → then events, a rejection or a state. Events given are appended through a real [`Kernel`], so they are
//!   hash-chained and folded exactly as in production.
//! - [`strategy`]: proptest strategies for the core types.
//! - [`bank`]: a small sample decider, used by the docs and benchmarks.
//! - [`script`]: helpers for data-driven script tests (context lines, transcripts).
//! - [`check_replay`]: replay equals incremental application, and two replays agree.
//! - [`events_of`]: the events a decider produces for a list of commands (valid histories).
//!
//! Helpers panic with a message that names what differed, as test assertions do.
#![allow(clippy::panic)] // test assertions: a failed expectation must fail the test loudly.

pub mod bank;
pub mod script;
pub mod strategy;

use serde::Serialize;

use crate::{
    Actor, ActorId, Context, Decider, Envelope, ExecuteError, Kernel, Rejection, Timestamp,
    journal::Journal,
};

/// The instant scenarios start at: 2026-01-05T14:30:00Z.
pub fn t0() -> Timestamp {
    // 1_767_623_400 is 2026-01-05T14:30:00Z, well inside the representable range.
    Timestamp::from_unix_seconds(1_767_623_400).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A human test actor with the given id.
pub fn human(id: &str) -> Actor {
    actor(id, crate::ActorKind::Human)
}

/// An agent test actor with the given id.
pub fn agent(id: &str) -> Actor {
    actor(id, crate::ActorKind::Agent)
}

fn actor(id: &str, kind: crate::ActorKind) -> Actor {
    match ActorId::new(id) {
        Ok(id) => Actor { id, kind },
        Err(e) => panic!("test actor id: {e}"),
    }
}

/// Starts a scenario from the initial state and `events`, recorded at [`t0`] by `tester`.
pub fn given<D: Decider>(events: impl IntoIterator<Item = D::Event>) -> Scenario<D> {
    let mut scenario = Scenario {
        kernel: Kernel::new(),
        ctx: Context::new(t0(), human("tester")),
    };
    let events: Vec<D::Event> = events.into_iter().collect();
    if !events.is_empty() {
        let mut journal = Journal::new();
        let envelopes = match journal.append(0, &scenario.ctx, events) {
            Ok(envelopes) => envelopes,
            Err(e) => panic!("given events do not append: {e}"),
        };
        let state: D = crate::replay(&envelopes);
        scenario.kernel = match Kernel::resume(state, journal.head().seq, journal) {
            Ok(kernel) => kernel,
            Err(e) => panic!("given events do not replay: {e}"),
        };
    }
    scenario
}

/// Starts a scenario from a state built some other way (with an empty journal).
pub fn given_state<D: Decider>(state: D) -> Scenario<D> {
    Scenario {
        kernel: match Kernel::resume(state, 0, Journal::new()) {
            Ok(kernel) => kernel,
            Err(e) => panic!("an empty journal always resumes: {e}"),
        },
        ctx: Context::new(t0(), human("tester")),
    }
}

/// A state built from given events, ready for a command.
#[derive(Debug, Clone)]
pub struct Scenario<D> {
    kernel: Kernel<D>,
    ctx: Context,
}

impl<D: Decider> Scenario<D> {
    /// Later commands apply at `at`.
    pub fn at(mut self, at: Timestamp) -> Self {
        self.ctx.at = at;
        self
    }

    /// Later commands are issued by `actor`.
    pub fn by(mut self, actor: Actor) -> Self {
        self.ctx.actor = actor;
        self
    }

    /// Later commands carry this whole context.
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.ctx = ctx;
        self
    }

    /// Applies `commands`, each of which must be accepted.
    pub fn and_commands(mut self, commands: impl IntoIterator<Item = D::Command>) -> Self {
        for command in commands {
            if let Err(e) = self.kernel.execute(&command, &self.ctx) {
                panic!("given command refused with {}: {e}", e.code());
            }
        }
        self
    }

    /// The kernel so far.
    pub fn kernel(&self) -> &Kernel<D> {
        &self.kernel
    }

    /// Decides and applies `command`.
    pub fn when(mut self, command: D::Command) -> Then<D> {
        let result = self.kernel.execute(&command, &self.ctx);
        Then {
            kernel: self.kernel,
            result,
        }
    }
}

/// The outcome of a command, to check.
#[derive(Debug)]
pub struct Then<D: Decider> {
    kernel: Kernel<D>,
    result: Result<Vec<Envelope<D::Event>>, ExecuteError<D::Rejection>>,
}

impl<D: Decider> Then<D> {
    /// Asserts the command was accepted with exactly `expected` events.
    pub fn then_events(self, expected: impl IntoIterator<Item = D::Event>) -> Self
    where
        D::Event: PartialEq,
    {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match &self.result {
            Ok(envelopes) => {
                let got: Vec<&D::Event> = envelopes.iter().map(|e| &e.event).collect();
                let want: Vec<&D::Event> = expected.iter().collect();
                if got != want {
                    panic!("events differ\n  got:  {got:?}\n  want: {want:?}");
                }
            }
            Err(e) => panic!(
                "expected events {expected:?}, got rejection {}: {e}",
                e.code()
            ),
        }
        self
    }

    /// Asserts the command was refused with `code` (refusal events may have been recorded:
    /// check them with [`Then::then_recorded`]).
    pub fn then_rejected(self, code: &str) -> Self {
        match &self.result {
            Ok(envelopes) => panic!("expected rejection {code}, got events {envelopes:?}"),
            Err(e) if e.code() == code => {}
            Err(e) => panic!("expected rejection {code}, got {}: {e}", e.code()),
        }
        self
    }

    /// Asserts the journal's last events, after the command, are exactly `expected` (for
    /// refusals that leave a trace).
    pub fn then_recorded(self, expected: impl IntoIterator<Item = D::Event>) -> Self
    where
        D::Event: PartialEq,
    {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        let records = self.kernel.journal().records();
        let tail = records.len().saturating_sub(expected.len());
        let got: Vec<D::Event> = records
            .get(tail..)
            .unwrap_or_default()
            .iter()
            .map(|r| match r.decode::<D::Event>() {
                Ok(e) => e.event,
                Err(e) => panic!("recorded event does not decode: {e}"),
            })
            .collect();
        if got != expected {
            panic!("recorded events differ\n  got:  {got:?}\n  want: {expected:?}");
        }
        self
    }

    /// Asserts `check` holds of the state after the command.
    pub fn then_state(self, check: impl FnOnce(&D) -> bool) -> Self
    where
        D: std::fmt::Debug,
    {
        if !check(self.kernel.state()) {
            panic!("state check failed; state: {:?}", self.kernel.state());
        }
        self
    }

    /// The result, for custom checks.
    pub fn result(&self) -> &Result<Vec<Envelope<D::Event>>, ExecuteError<D::Rejection>> {
        &self.result
    }

    /// The kernel after the command.
    pub fn kernel(&self) -> &Kernel<D> {
        &self.kernel
    }
}

/// Checks the kernel's replay properties: replaying its journal from the start gives a state
/// equal to the incrementally built one, and two replays give the same state digest. Returns
/// the digest.
pub fn check_replay<D>(kernel: &Kernel<D>) -> crate::Digest
where
    D: Decider + Clone + PartialEq + std::fmt::Debug + Serialize,
{
    let first = match Kernel::<D>::replay(kernel.journal().clone()) {
        Ok(k) => k,
        Err(e) => panic!("replay failed: {e}"),
    };
    let second = match Kernel::<D>::replay(kernel.journal().clone()) {
        Ok(k) => k,
        Err(e) => panic!("replay failed: {e}"),
    };
    if first.state() != kernel.state() {
        panic!(
            "replay differs from incremental application\n  replayed:    {:?}\n  incremental: {:?}",
            first.state(),
            kernel.state()
        );
    }
    let digest = |k: &Kernel<D>| match k.state_digest() {
        Ok(d) => d,
        Err(e) => panic!("state digest: {e}"),
    };
    let (a, b, c) = (digest(kernel), digest(&first), digest(&second));
    if a != b || b != c {
        panic!("state digests differ: incremental {a}, replays {b} and {c}");
    }
    a
}

/// Executes `commands` in turn on `kernel` (each with its own context; refused ones are
/// skipped, leaving whatever refusal events the decider records) and returns the events
/// appended: a history the decider itself produced, for [`given`], replay and upcasting tests.
/// Each domain crate's kit wraps this in an `events` strategy.
pub fn events_of<D: Decider>(
    kernel: &mut Kernel<D>,
    commands: impl IntoIterator<Item = (Context, D::Command)>,
) -> Vec<D::Event> {
    let from = kernel.head().seq;
    for (ctx, command) in commands {
        let _ = kernel.execute(&command, &ctx);
    }
    kernel
        .journal()
        .records_after(from)
        .iter()
        .map(|record| match record.decode::<D::Event>() {
            Ok(envelope) => envelope.event,
            Err(e) => panic!("the journal holds an undecodable record: {e}"),
        })
        .collect()
}

/// The code of a rejection, for table-driven tests.
pub fn code_of<R: Rejection>(result: &Result<impl Sized, ExecuteError<R>>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}
