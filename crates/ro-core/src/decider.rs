//! The [`Decider`] trait and the [`Kernel`] that runs it over a [`Journal`].

use std::fmt;

use serde::Serialize;

use crate::{
    Context, Digest, Envelope, Event, Timestamp,
    canonical::{self, CanonicalError},
    event::EventMeta,
    journal::{AppendError, DecodeError, Head, Journal, Record},
};

/// A typed refusal of a command: a value with a stable SCREAMING_SNAKE_CASE code.
pub trait Rejection: fmt::Display + fmt::Debug {
    /// The stable code, e.g. `"INSUFFICIENT_FUNDS"`.
    fn code(&self) -> &'static str;
}

/// A broken invariant: a bug, never a consequence of input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant broken: {0}")]
pub struct InvariantViolation(pub String);

/// A deterministic state machine: commands are decided into events, events evolve the state.
///
/// The implementing type is the state. `Default` is the initial state.
///
/// - `decide` takes the state by shared reference and never mutates it: it returns the events
///   a command produces, or a typed rejection.
/// - `evolve` folds one event into the state in place. It is total and infallible: an event
///   that was recorded happened, and must apply.
/// - `check_invariants` states what must hold after every event. The [`Kernel`] runs it after
///   every evolve in debug, test and fuzz builds and panics on a violation.
pub trait Decider: Default {
    /// What may be asked.
    type Command;
    /// What can happen.
    type Event: Event;
    /// Why a command can be refused.
    type Rejection: Rejection;

    /// Decides a command against the current state.
    fn decide(
        &self,
        command: &Self::Command,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Self::Rejection>;

    /// Applies one recorded event; `meta` tells where, when and by whom it was recorded.
    fn evolve(&mut self, event: &Self::Event, meta: &EventMeta<'_>);

    /// As [`Decider::evolve`] for an event the caller owns and has no further use for (replay
    /// decodes each stored event once): a state that keeps parts of its events (a growing
    /// collection) moves them instead of cloning them. It must have exactly the effect of
    /// `evolve` (replay uses this, a command's own events use `evolve`, and replay must equal
    /// incremental application); the default calls `evolve`.
    fn evolve_owned(&mut self, event: Self::Event, meta: &EventMeta<'_>) {
        self.evolve(&event, meta);
    }

    /// Rebuilds what a snapshot does not hold (derived caches, indexes) after the state was
    /// read back from one. The default has nothing to rebuild.
    fn restored(&mut self) {}

    /// Events that record a refusal (a denied attempt, a blocked spend): appended even though
    /// the command is refused, so that nothing is silent. The default records nothing.
    ///
    /// They must not change what the refused command would have changed: they are facts about
    /// the attempt, not its effect.
    fn refusal_events(
        &self,
        _command: &Self::Command,
        _rejection: &Self::Rejection,
        _ctx: &Context,
    ) -> Vec<Self::Event> {
        Vec::new()
    }

    /// Checks the state's invariants.
    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        Ok(())
    }
}

/// Runs `check_invariants` in debug, test and fuzz builds.
#[inline]
pub(crate) fn assert_invariants<D: Decider>(state: &D, seq: u64) {
    if cfg!(any(debug_assertions, fuzzing))
        && let Err(violation) = state.check_invariants()
    {
        // A broken invariant is a bug in the decider, not a consequence of input: fail loudly
        // where it can be caught (architecture.md, "invariants are assertions").
        #[allow(clippy::panic)]
        {
            panic!("after seq {seq}: {violation}");
        }
    }
}

/// Why the kernel refused a command. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError<R> {
    /// The decider refused the command.
    #[error("{0}")]
    Rejected(R),
    /// The command is dated before the journal's head.
    #[error("time went backwards: {at} is before the journal head at {head_at}")]
    TimeWentBackwards {
        /// The command's time.
        at: Timestamp,
        /// The head's time.
        head_at: Timestamp,
    },
    /// The caller expected another head (optimistic concurrency).
    #[error("stale sequence: expected head {expected}, but the head is {actual}; reload and retry")]
    StaleSequence {
        /// The expected head.
        expected: u64,
        /// The actual head.
        actual: u64,
    },
    /// The command produced more events than one append may hold.
    #[error("the command produced {0} events, more than one append may hold")]
    TooManyEvents(usize),
    /// An event had no canonical encoding (a bug in the event type).
    #[error("event has no canonical encoding: {0}")]
    Encoding(CanonicalError),
}

impl<R: Rejection> ExecuteError<R> {
    /// The stable code: the decider's own, or the kernel's.
    pub fn code(&self) -> &'static str {
        match self {
            ExecuteError::Rejected(r) => r.code(),
            ExecuteError::TimeWentBackwards { .. } => "TIME_WENT_BACKWARDS",
            ExecuteError::StaleSequence { .. } => "STALE_SEQUENCE",
            ExecuteError::TooManyEvents(_) => "TOO_MANY_EVENTS",
            ExecuteError::Encoding(_) => "ENCODING_FAILED",
        }
    }
}

impl<R> From<AppendError> for ExecuteError<R> {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::StaleSequence { expected, actual } => {
                ExecuteError::StaleSequence { expected, actual }
            }
            AppendError::TimeWentBackwards { at, head_at } => {
                ExecuteError::TimeWentBackwards { at, head_at }
            }
            AppendError::TooManyEvents(n) => ExecuteError::TooManyEvents(n),
            AppendError::Encoding(e) => ExecuteError::Encoding(e),
        }
    }
}

/// Why a journal could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot replay seq {seq}: {error}")]
pub struct ReplayError {
    /// The record that failed to decode.
    pub seq: u64,
    /// Why.
    pub error: DecodeError,
}

/// The domain tag of state digests.
pub const STATE_TAG: &[u8] = b"ro.state.v1\0";

/// `blake3("ro.state.v1\0" ‖ canonical JSON of the state)`: equal states give equal digests
/// on every machine and in every replay.
pub fn state_digest<S: Serialize + ?Sized>(state: &S) -> Result<Digest, CanonicalError> {
    let bytes = canonical::to_canonical_vec(state)?;
    Ok(Digest::of_parts(&[STATE_TAG, &bytes]))
}

/// Folds `envelopes` into the initial state.
pub fn replay<'a, D: Decider + 'a>(
    envelopes: impl IntoIterator<Item = &'a Envelope<D::Event>>,
) -> D {
    let mut state = D::default();
    for envelope in envelopes {
        state.evolve(&envelope.event, &envelope.meta());
        assert_invariants(&state, envelope.seq);
    }
    state
}

/// A decider's state together with its journal: the whole event flow of one stream.
///
/// `execute` = check time → decide → append (hash chain) → evolve → check invariants.
#[derive(Debug, Clone)]
pub struct Kernel<D> {
    state: D,
    journal: Journal,
}

impl<D: Decider> Default for Kernel<D> {
    fn default() -> Self {
        Kernel {
            state: D::default(),
            journal: Journal::new(),
        }
    }
}

impl<D: Decider> Kernel<D> {
    /// An empty stream in the initial state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the state by replaying every record of `journal` (already verified, e.g. by
    /// [`Journal::from_records`] or [`Journal::import_jsonl`]).
    pub fn replay(journal: Journal) -> Result<Self, ReplayError> {
        Self::resume(D::default(), 0, journal)
    }

    /// Resumes from `state`, which reflects every record up to `state_seq`, replaying the
    /// records of `journal` after it (used with snapshots).
    pub fn resume(mut state: D, state_seq: u64, journal: Journal) -> Result<Self, ReplayError> {
        let base = journal.base().seq;
        if state_seq < base {
            return Err(ReplayError {
                seq: state_seq + 1,
                error: crate::journal::DecodeError::NotHeld { base },
            });
        }
        for record in journal.records_after(state_seq) {
            apply_record(&mut state, record)?;
        }
        Ok(Kernel { state, journal })
    }

    /// Appends a record written elsewhere (another writer, a store being tailed) after
    /// checking that it continues the chain and decodes; then folds it in. On error nothing
    /// changed.
    pub fn push_record(&mut self, record: Record) -> Result<(), crate::journal::VerifyError> {
        self.push_checked(record.check())
    }

    /// As [`Kernel::push_record`], for a record whose self-contained checks ([`Record::check`])
    /// were run ahead, possibly on another thread: links it to the head and folds it in. On
    /// error nothing changed.
    pub fn push_checked(
        &mut self,
        checked: crate::journal::CheckedRecord<D::Event>,
    ) -> Result<(), crate::journal::VerifyError> {
        let envelope = self.journal.push_checked(checked)?;
        evolve_envelope(&mut self.state, envelope);
        Ok(())
    }

    /// Drops the held records up to `seq` once they are durable elsewhere (a store reads them
    /// back when asked for): memory then grows with the state, not the journal. The state and
    /// the head do not change.
    pub fn forget_records_through(&mut self, seq: u64) {
        self.journal.forget_through(seq);
    }

    /// Keeps the `prev` of forgotten record `seq` ([`Journal::pin_prev`]).
    pub fn pin_prev(&mut self, seq: u64, prev: Digest) {
        self.journal.pin_prev(seq, prev);
    }

    /// Decides `command` and, if accepted, appends and applies its events. If refused, appends
    /// the decider's [`Decider::refusal_events`] (if any) and returns the rejection.
    pub fn execute(
        &mut self,
        command: &D::Command,
        ctx: &Context,
    ) -> Result<Vec<Envelope<D::Event>>, ExecuteError<D::Rejection>> {
        let expected = self.journal.head().seq;
        self.execute_expecting(expected, command, ctx)
    }

    /// As [`Kernel::execute`], refused unless the head is still `expected_seq`.
    pub fn execute_expecting(
        &mut self,
        expected_seq: u64,
        command: &D::Command,
        ctx: &Context,
    ) -> Result<Vec<Envelope<D::Event>>, ExecuteError<D::Rejection>> {
        let head = self.journal.head();
        if expected_seq != head.seq {
            return Err(ExecuteError::StaleSequence {
                expected: expected_seq,
                actual: head.seq,
            });
        }
        if let Some(head_at) = head.at
            && ctx.at < head_at
        {
            return Err(ExecuteError::TimeWentBackwards {
                at: ctx.at,
                head_at,
            });
        }
        let events = match self.state.decide(command, ctx) {
            Ok(events) => events,
            Err(rejection) => {
                let trace = self.state.refusal_events(command, &rejection, ctx);
                if !trace.is_empty() {
                    self.append_and_apply(expected_seq, ctx, trace)?;
                }
                return Err(ExecuteError::Rejected(rejection));
            }
        };
        self.append_and_apply(expected_seq, ctx, events)
    }

    fn append_and_apply(
        &mut self,
        expected_seq: u64,
        ctx: &Context,
        events: Vec<D::Event>,
    ) -> Result<Vec<Envelope<D::Event>>, ExecuteError<D::Rejection>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let envelopes = self.journal.append(expected_seq, ctx, events)?;
        for envelope in &envelopes {
            self.state.evolve(&envelope.event, &envelope.meta());
            assert_invariants(&self.state, envelope.seq);
        }
        Ok(envelopes)
    }

    /// The current state.
    pub fn state(&self) -> &D {
        &self.state
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The journal's head.
    pub fn head(&self) -> Head {
        self.journal.head()
    }

    /// The state and the journal.
    pub fn into_parts(self) -> (D, Journal) {
        (self.state, self.journal)
    }
}

impl<D: Decider + Serialize> Kernel<D> {
    /// The digest of the current state (see [`state_digest`]).
    pub fn state_digest(&self) -> Result<Digest, CanonicalError> {
        state_digest(&self.state)
    }
}

fn apply_record<D: Decider>(state: &mut D, record: &Record) -> Result<(), ReplayError> {
    let envelope = record.decode::<D::Event>().map_err(|error| ReplayError {
        seq: record.seq,
        error,
    })?;
    evolve_envelope(state, envelope);
    Ok(())
}

/// Folds a decoded envelope, handing its event over ([`Decider::evolve_owned`]).
fn evolve_envelope<D: Decider>(state: &mut D, envelope: Envelope<D::Event>) {
    let Envelope {
        seq,
        at,
        actor,
        correlation_id,
        causation,
        event,
        ..
    } = envelope;
    let meta = EventMeta {
        seq,
        at,
        actor: &actor,
        correlation_id: correlation_id.as_ref(),
        causation: causation.as_ref(),
    };
    state.evolve_owned(event, &meta);
    assert_invariants(state, seq);
}
