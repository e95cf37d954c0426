//! The hash-chained, append-only [`Journal`] and its JSON-lines export.

use std::{collections::BTreeMap, fmt};

use serde::Deserialize;
use serde_json::{Value, value::RawValue};

use crate::{
    Actor, Context, Digest, Envelope, Event, Timestamp,
    canonical::{self, CanonicalError},
    context::CorrelationId,
    event::{UpcastError, upcast},
};

/// The domain tag that starts every chain hash's input.
pub const JOURNAL_TAG: &[u8] = b"ro.journal.v1\0";

/// The most events one append may add (one command's worth).
pub const MAX_EVENTS_PER_APPEND: usize = 4096;

/// `blake3(JOURNAL_TAG ‖ prev ‖ body)`.
pub fn chain_hash(prev: &Digest, body: &[u8]) -> Digest {
    Digest::of_parts(&[JOURNAL_TAG, prev.as_bytes(), body])
}

/// One stored envelope: what a store keeps per row, exactly.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the stream, from 1.
    pub seq: u64,
    /// The previous record's hash.
    pub prev: Digest,
    /// `chain_hash(prev, body)`.
    pub hash: Digest,
    /// The canonical JSON of the envelope without `prev` and `hash`.
    pub body: Vec<u8>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("seq", &self.seq)
            .field("prev", &self.prev)
            .field("hash", &self.hash)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A record with its self-contained checks done ([`Record::check`]): what is left is linking
/// it to the chain's head, which [`crate::Kernel::push_checked`] does.
pub struct CheckedRecord<E> {
    record: Record,
    /// The decoded envelope, or the first self-contained check that failed.
    decoded: Result<Envelope<E>, Problem>,
}

impl<E> fmt::Debug for CheckedRecord<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedRecord")
            .field("record", &self.record)
            .field("decoded", &self.decoded.as_ref().map(|_| ()))
            .finish()
    }
}

/// Reads a body's `schema_version`: versions start at 1.
fn schema_version<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let version = u32::deserialize(deserializer)?;
    if version == 0 {
        return Err(serde::de::Error::custom(
            "schema_version is 0: versions start at 1",
        ));
    }
    Ok(version)
}

/// The body fields as stored, with the event still undecoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    actor: Actor,
    #[serde(deserialize_with = "crate::timestamp::deserialize_canonical")]
    at: Timestamp,
    causation: Option<Digest>,
    correlation_id: Option<CorrelationId>,
    #[serde(borrow)]
    event: &'a RawValue,
    #[serde(deserialize_with = "schema_version")]
    schema_version: u32,
    seq: u64,
}

/// The body fields as stored, with the event decoded as the current schema version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CurrentBody<E> {
    actor: Actor,
    #[serde(deserialize_with = "crate::timestamp::deserialize_canonical")]
    at: Timestamp,
    causation: Option<Digest>,
    correlation_id: Option<CorrelationId>,
    event: E,
    #[serde(deserialize_with = "schema_version")]
    schema_version: u32,
    seq: u64,
}

impl Record {
    /// Decodes the record into a typed envelope, lifting older event versions.
    ///
    /// Does not check the hash: see [`Journal::verify`] and [`Journal::push_record`].
    pub fn decode<E: Event>(&self) -> Result<Envelope<E>, DecodeError> {
        // One pass for a body of the current version (the version follows the event in the
        // canonical key order, so it is only known afterwards); anything else, and every
        // error, takes the general path, which decides from the version and reports.
        // The body's UTF-8 is checked once, in bulk, rather than string by string.
        match std::str::from_utf8(&self.body) {
            Ok(text) => self.decode_text(text),
            Err(_) => self.decode_general(),
        }
    }

    /// As [`Record::decode`], for a body already known to be the UTF-8 `text`.
    fn decode_text<E: Event>(&self, text: &str) -> Result<Envelope<E>, DecodeError> {
        if let Ok(body) = serde_json::from_str::<CurrentBody<E>>(text)
            && body.schema_version == E::SCHEMA_VERSION
        {
            return Ok(Envelope {
                seq: body.seq,
                prev: self.prev,
                hash: self.hash,
                at: body.at,
                actor: body.actor,
                correlation_id: body.correlation_id,
                causation: body.causation,
                schema_version: body.schema_version,
                event: body.event,
            });
        }
        self.decode_general()
    }

    /// The general path: decides from the schema version, and reports every error.
    fn decode_general<E: Event>(&self) -> Result<Envelope<E>, DecodeError> {
        let body: Body<'_> =
            serde_json::from_slice(&self.body).map_err(|e| DecodeError::Body(e.to_string()))?;
        let event = if body.schema_version == E::SCHEMA_VERSION {
            serde_json::from_str(body.event.get())
                .map_err(|e| DecodeError::Event(UpcastError::Decode(e.to_string())))?
        } else {
            let value: Value = serde_json::from_str(body.event.get())
                .map_err(|e| DecodeError::Body(e.to_string()))?;
            upcast(body.schema_version, value).map_err(DecodeError::Event)?
        };
        Ok(Envelope {
            seq: body.seq,
            prev: self.prev,
            hash: self.hash,
            at: body.at,
            actor: body.actor,
            correlation_id: body.correlation_id,
            causation: body.causation,
            schema_version: body.schema_version,
            event,
        })
    }

    /// Runs the checks that need nothing but the record itself: its hash against its `prev`
    /// and body, the body's canonical form, and decoding it. They are most of the cost of
    /// reading a journal back, and need no head, so a host may run them for many records at
    /// once, on other threads; [`crate::Kernel::push_checked`] then links the record to the
    /// chain (seq, `prev`, time) and folds it, in order.
    pub fn check<E: Event>(self) -> CheckedRecord<E> {
        let decoded = self_checks(&self).and_then(|text| {
            self.decode_text(text)
                .map_err(|e| Problem::Body(e.to_string()))
        });
        CheckedRecord {
            record: self,
            decoded,
        }
    }

    /// As [`Record::check`] for a record that will not be folded (one a snapshot already
    /// covers): the envelope's shape is read and the event skipped, the checks
    /// [`Journal::push_record`] makes. Link it with [`Journal::push_checked`].
    pub fn check_shape(self) -> CheckedRecord<()> {
        let decoded = self_checks(&self).and_then(|text| shape(&self, text));
        CheckedRecord {
            record: self,
            decoded,
        }
    }

    /// The record as one line of the JSON-lines export (canonical JSON, no newline).
    pub fn to_export_line(&self) -> Result<String, CanonicalError> {
        let mut out = Vec::with_capacity(self.body.len() + 160);
        self.write_export_line(&mut out)?;
        String::from_utf8(out).map_err(|e| CanonicalError::Syntax(e.to_string()))
    }

    /// Appends [`Record::to_export_line`]'s bytes to `out`. The body is canonical already, so
    /// `hash` and `prev` are spliced in at their sorted places without re-encoding it; a body
    /// whose top-level keys are escaped or not ASCII (where byte order and the canonical
    /// UTF-16 order could differ) takes the general path: parse, insert, re-encode.
    pub fn write_export_line(&self, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        match top_level_members(&self.body) {
            Some(members) => {
                let hash = format!("\"hash\":\"{}\"", self.hash);
                let prev = format!("\"prev\":\"{}\"", self.prev);
                let extra: [(&[u8], &[u8]); 2] =
                    [(b"hash", hash.as_bytes()), (b"prev", prev.as_bytes())];
                let mut extra = extra.into_iter().peekable();
                out.push(b'{');
                let mut first = true;
                let mut push = |out: &mut Vec<u8>, member: &[u8]| {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(member);
                };
                for (key, member) in members {
                    while let Some((_, m)) = extra.next_if(|(k, _)| *k < key) {
                        push(out, m);
                    }
                    push(out, member);
                }
                for (_, m) in extra {
                    push(out, m);
                }
                out.push(b'}');
                Ok(())
            }
            None => {
                let mut value = canonical::parse_canonical(&self.body)?;
                let Value::Object(map) = &mut value else {
                    return Err(CanonicalError::NotCanonical);
                };
                map.insert("hash".into(), Value::String(self.hash.to_string()));
                map.insert("prev".into(), Value::String(self.prev.to_string()));
                canonical::write_value(&value, out)
            }
        }
    }

    /// Parses one exported line back into a record (checking canonical form, not the chain).
    pub fn from_export_line(line: &str) -> Result<Record, String> {
        let mut value = canonical::parse_canonical(line.as_bytes()).map_err(|e| e.to_string())?;
        let Value::Object(map) = &mut value else {
            return Err("a journal line is a JSON object".into());
        };
        let mut digest_field = |name: &str| -> Result<Digest, String> {
            match map.remove(name) {
                Some(Value::String(s)) => Digest::parse(&s).map_err(|e| format!("{name}: {e}")),
                Some(_) => Err(format!("{name} is not a string")),
                None => Err(format!("{name} is missing")),
            }
        };
        let hash = digest_field("hash")?;
        let prev = digest_field("prev")?;
        let seq = match map.get("seq").and_then(Value::as_u64) {
            Some(seq) => seq,
            None => return Err("seq is missing or not a whole number".into()),
        };
        let body = canonical::value_to_canonical_vec(&value).map_err(|e| e.to_string())?;
        Ok(Record {
            seq,
            prev,
            hash,
            body,
        })
    }
}

/// The top-level members of a compact JSON object (`{"k":v,...}` with no whitespace, as
/// canonical bodies are): each key's bytes and the member's text (`"k":v`). `None` unless
/// every key is plain ASCII without escapes and none is `hash` or `prev`, or when the text is
/// not such an object; the caller then takes the general path.
fn top_level_members(body: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let inner = body.strip_prefix(b"{")?.strip_suffix(b"}")?;
    let mut members = Vec::with_capacity(8);
    let mut i = 0;
    while i < inner.len() {
        let start = i;
        // The key: a string without escapes or non-ASCII bytes.
        if inner.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        let key_start = i;
        loop {
            match inner.get(i)? {
                b'"' => break,
                b'\\' => return None,
                b if *b >= 0x80 => return None,
                _ => i += 1,
            }
        }
        let key = inner.get(key_start..i)?;
        if key == b"hash" || key == b"prev" {
            return None;
        }
        i += 1;
        if inner.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        // The value: up to the next comma outside strings, arrays and objects.
        let mut depth = 0usize;
        let mut in_string = false;
        while let Some(&b) = inner.get(i) {
            if in_string {
                // Inside a string only `"` and `\` matter (most of a body is string text:
                // digests, locators, ids): jump to the next of either (or to a control
                // character, which a canonical body never holds raw).
                i = canonical::string_stop(inner, i)?;
                match inner.get(i) {
                    Some(b'\\') => i += 2,
                    Some(b'"') => {
                        in_string = false;
                        i += 1;
                    }
                    _ => i += 1,
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.checked_sub(1)?,
                b',' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        if in_string || depth != 0 {
            return None;
        }
        members.push((key, inner.get(start..i)?));
        // Skip the comma.
        i += 1;
    }
    // A trailing comma (`{"a":1,}`) is not canonical.
    if inner.last() == Some(&b',') {
        return None;
    }
    Some(members)
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The envelope body is malformed.
    #[error("malformed envelope body: {0}")]
    Body(String),
    /// The event does not decode (after upcasting).
    #[error(transparent)]
    Event(UpcastError),
    /// The record is not held: the journal forgot it ([`Journal::forget_through`]) or starts
    /// after it ([`Journal::starting_at`]); read it from where it is stored.
    #[error("the record is not held in memory (its journal starts after seq {base})")]
    NotHeld {
        /// The seq the held records start after.
        base: u64,
    },
}

/// The head of a chain: the last sequence number, hash and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The last sequence number (0 when empty).
    pub seq: u64,
    /// The last hash ([`Digest::ZERO`] when empty).
    pub hash: Digest,
    /// The last event's time (`None` when empty).
    pub at: Option<Timestamp>,
}

impl Default for Head {
    fn default() -> Self {
        Head::EMPTY
    }
}

impl Head {
    /// The head of an empty journal.
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: Digest::ZERO,
        at: None,
    };
}

/// Why an append was refused. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended first (optimistic concurrency).
    #[error("stale sequence: expected head {expected}, but the head is {actual}; reload and retry")]
    StaleSequence {
        /// The head the writer expected.
        expected: u64,
        /// The actual head.
        actual: u64,
    },
    /// The events are dated before the head.
    #[error("time went backwards: {at} is before the journal head at {head_at}")]
    TimeWentBackwards {
        /// The refused time.
        at: Timestamp,
        /// The head's time.
        head_at: Timestamp,
    },
    /// Too many events in one append.
    #[error("{0} events in one append; at most {MAX_EVENTS_PER_APPEND} are allowed")]
    TooManyEvents(usize),
    /// An event has no canonical encoding (a bug in the event type, never input).
    #[error("event has no canonical encoding: {0}")]
    Encoding(CanonicalError),
}

/// What is wrong at the first bad sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The record's sequence number is not the next one.
    #[error("sequence gap: expected seq {expected}")]
    Gap {
        /// The sequence number that should be here.
        expected: u64,
    },
    /// `prev` is not the previous record's hash.
    #[error("broken link: prev is not the previous record's hash")]
    BrokenLink,
    /// The stored hash is not the hash of the record.
    #[error("hash mismatch: the record's content does not match its hash")]
    HashMismatch,
    /// The body is not a canonical envelope body.
    #[error("malformed body: {0}")]
    Body(String),
    /// The body's `seq` differs from the record's.
    #[error("body says seq {0}")]
    SeqMismatch(u64),
    /// The record is dated before its predecessor.
    #[error("time went backwards: {at} is before {previous}")]
    TimeWentBackwards {
        /// The record's time.
        at: Timestamp,
        /// The predecessor's time.
        previous: Timestamp,
    },
}

/// A verification failure: the first bad sequence number and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal is damaged at seq {seq}: {problem}")]
pub struct VerifyError {
    /// The first bad sequence number.
    pub seq: u64,
    /// What is wrong.
    pub problem: Problem,
}

/// The append-only, hash-chained sequence of records of one stream.
///
/// Appends are all-or-nothing, carry an expected head sequence number (optimistic
/// concurrency) and are refused when dated before the head.
///
/// A journal holds its records in memory from its base on: every record unless it was made
/// with [`Journal::starting_at`] (a head proven elsewhere) or told to
/// [`Journal::forget_through`] a seq (records already durable in a store, read back from there
/// when asked for). The head, and so every append and check, is the same either way.
#[derive(Clone, Default)]
pub struct Journal {
    head: Option<Head>,
    /// The head before the first held record ([`Head::EMPTY`] unless records were forgotten).
    base: Head,
    records: Vec<Record>,
    /// The `prev` of forgotten records a reader still asks for (an incident's audit hash).
    pinned: BTreeMap<u64, Digest>,
    work: AppendWork,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("head", &self.head)
            .field("base", &self.base.seq)
            .field("records", &self.records)
            .finish()
    }
}

/// Working space of [`Journal::append`], kept between appends so that encoding allocates
/// nothing but the bodies it keeps: the encoding buffer, the canonical serializer's scratch
/// and the list of encoded bodies. Not part of the journal's value: a clone starts empty.
struct AppendWork {
    buffer: Vec<u8>,
    scratch: canonical::ser::Scratch,
    bodies: Vec<Vec<u8>>,
}

impl Default for AppendWork {
    fn default() -> Self {
        AppendWork {
            buffer: Vec::with_capacity(512),
            scratch: canonical::ser::Scratch::with_capacity(16),
            bodies: Vec::new(),
        }
    }
}

impl Clone for AppendWork {
    fn clone(&self) -> Self {
        AppendWork::default()
    }
}

/// The envelope body's shape, checked on verification (the event is checked for canonical
/// form but not decoded: that needs the event type).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyShape {
    actor: Actor,
    #[serde(deserialize_with = "crate::timestamp::deserialize_canonical")]
    at: Timestamp,
    causation: Option<Digest>,
    correlation_id: Option<CorrelationId>,
    #[allow(dead_code)] // read by serde only to check that it is there
    event: serde::de::IgnoredAny,
    #[serde(deserialize_with = "schema_version")]
    schema_version: u32,
    seq: u64,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Journal::default()
    }

    /// The head: last seq, hash and time.
    pub fn head(&self) -> Head {
        self.head.unwrap_or(Head::EMPTY)
    }

    /// An empty journal continuing the chain at `head`, proven elsewhere (a store's
    /// authenticated snapshot): the records up to it are not held; the next append or pushed
    /// record must extend it.
    pub fn starting_at(head: Head) -> Self {
        Journal {
            head: (head.seq > 0).then_some(head),
            base: head,
            ..Journal::default()
        }
    }

    /// The head before the first held record: [`Head::EMPTY`] for a journal holding every
    /// record.
    pub fn base(&self) -> Head {
        self.base
    }

    /// Drops the held records up to and including `seq` (at most the head): for records that
    /// are durable elsewhere and read back from there. The head does not move.
    pub fn forget_through(&mut self, seq: u64) {
        let seq = seq.min(self.head().seq);
        let Some(count) = seq
            .checked_sub(self.base.seq)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
        else {
            return;
        };
        let count = count.min(self.records.len());
        let head = self.head();
        if let Some(last) = count.checked_sub(1).and_then(|i| self.records.get(i)) {
            self.base = Head {
                seq: last.seq,
                hash: last.hash,
                // Its time orders the next held record when the journal is re-verified.
                at: if last.seq == head.seq {
                    head.at
                } else {
                    serde_json::from_slice::<BodyShape>(&last.body)
                        .ok()
                        .map(|b| b.at)
                },
            };
        }
        self.records.drain(..count);
        self.pinned.retain(|&s, _| s <= self.base.seq);
    }

    /// Keeps `prev`, the `prev` of the forgotten record `seq`, for [`Journal::prev_of`].
    pub fn pin_prev(&mut self, seq: u64, prev: Digest) {
        if seq <= self.base.seq {
            self.pinned.insert(seq, prev);
        }
    }

    /// The `prev` of record `seq` (the head hash before it), when the record is held or its
    /// `prev` was pinned.
    pub fn prev_of(&self, seq: u64) -> Option<Digest> {
        self.get(seq)
            .map(|r| r.prev)
            .or_else(|| self.pinned.get(&seq).copied())
    }

    /// The held records, in order: every record unless some were forgotten.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The held records after `seq` (all of them for 0). A `seq` before [`Journal::base`] gives
    /// the held records only: those before them are read from the store.
    pub fn records_after(&self, seq: u64) -> &[Record] {
        let skip = usize::try_from(seq.saturating_sub(self.base.seq))
            .unwrap_or(usize::MAX)
            .min(self.records.len());
        self.records.get(skip..).unwrap_or_default()
    }

    /// The number of held records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record with sequence number `seq`, when held.
    pub fn get(&self, seq: u64) -> Option<&Record> {
        let index = usize::try_from(seq.checked_sub(self.base.seq + 1)?).ok()?;
        self.records.get(index)
    }

    /// Appends `events`, all stamped with `ctx`, if the head is still `expected_seq`.
    ///
    /// All or nothing: on error nothing was appended. Returns the new envelopes.
    pub fn append<E: Event>(
        &mut self,
        expected_seq: u64,
        ctx: &Context,
        events: Vec<E>,
    ) -> Result<Vec<Envelope<E>>, AppendError> {
        let head = self.head();
        if expected_seq != head.seq {
            return Err(AppendError::StaleSequence {
                expected: expected_seq,
                actual: head.seq,
            });
        }
        if let Some(head_at) = head.at
            && ctx.at < head_at
        {
            return Err(AppendError::TimeWentBackwards {
                at: ctx.at,
                head_at,
            });
        }
        if events.len() > MAX_EVENTS_PER_APPEND {
            return Err(AppendError::TooManyEvents(events.len()));
        }
        // Encode everything first, so a failure leaves the journal untouched.
        // Each body is written after the shared context prefix in one buffer that keeps its
        // capacity, then copied into an allocation of exactly its size (no regrowth per body,
        // no slack kept in the journal).
        let work = &mut self.work;
        work.bodies.clear();
        work.buffer.clear();
        encode_context_prefix(ctx, &mut work.buffer);
        let prefix_len = work.buffer.len();
        for (offset, event) in (1u64..).zip(&events) {
            work.buffer.truncate(prefix_len);
            encode_event_suffix::<E>(
                event,
                head.seq + offset,
                &mut work.buffer,
                &mut work.scratch,
            )
            .map_err(AppendError::Encoding)?;
            work.bodies.push(work.buffer.as_slice().to_vec());
        }
        let mut prev = head.hash;
        let mut out = Vec::with_capacity(events.len());
        self.records.reserve(events.len());
        for ((offset, event), body) in (1u64..).zip(events).zip(self.work.bodies.drain(..)) {
            let seq = head.seq + offset;
            let hash = chain_hash(&prev, &body);
            self.records.push(Record {
                seq,
                prev,
                hash,
                body,
            });
            out.push(Envelope {
                seq,
                prev,
                hash,
                at: ctx.at,
                actor: ctx.actor.clone(),
                correlation_id: ctx.correlation_id.clone(),
                causation: ctx.causation,
                schema_version: E::SCHEMA_VERSION,
                event,
            });
            prev = hash;
        }
        if let Some(last) = out.last() {
            self.head = Some(Head {
                seq: last.seq,
                hash: last.hash,
                at: Some(ctx.at),
            });
        }
        Ok(out)
    }

    /// Appends a record read from storage or an export, checking that it continues the chain:
    /// the next seq, `prev` equal to the head's hash, the right hash, a canonical body whose
    /// `seq` agrees and whose time is not before the head's.
    pub fn push_record(&mut self, record: Record) -> Result<(), VerifyError> {
        let at = check_record(&self.head(), &record)?;
        self.accept(record, at);
        Ok(())
    }

    /// Makes a checked record the head.
    fn accept(&mut self, record: Record, at: Timestamp) {
        self.head = Some(Head {
            seq: record.seq,
            hash: record.hash,
            at: Some(at),
        });
        self.records.push(record);
    }

    /// As [`Journal::push_record`], for a record whose self-contained checks are done
    /// ([`Record::check`] or [`Record::check_shape`], possibly on another thread): links it
    /// (seq, `prev`, then the check's outcome, then the body's seq and time) and returns its
    /// envelope. On error nothing changed.
    pub fn push_checked<E>(
        &mut self,
        checked: CheckedRecord<E>,
    ) -> Result<Envelope<E>, VerifyError> {
        let CheckedRecord { record, decoded } = checked;
        let head = self.head();
        check_link(&head, &record)?;
        let envelope = decoded.map_err(|problem| VerifyError {
            seq: record.seq,
            problem,
        })?;
        let at = check_header(&head, &record, envelope.seq, envelope.at)?;
        self.accept(record, at);
        Ok(envelope)
    }

    /// Rebuilds a journal from records, checking each as [`Journal::push_record`] does.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Result<Self, VerifyError> {
        let mut journal = Journal::new();
        for record in records {
            journal.push_record(record)?;
        }
        Ok(journal)
    }

    /// Re-checks every record from the first: sequence, links, hashes, canonical bodies and
    /// time order. Names the first bad sequence number.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let mut head = self.base;
        for record in &self.records {
            let at = check_record(&head, record)?;
            head = Head {
                seq: record.seq,
                hash: record.hash,
                at: Some(at),
            };
        }
        Ok(())
    }

    /// The journal as JSON lines: one canonical envelope per line, each ending in `\n`.
    pub fn export_jsonl(&self) -> Result<String, VerifyError> {
        let mut out = String::with_capacity(self.records.len() * 256);
        for record in &self.records {
            let line = record.to_export_line().map_err(|e| VerifyError {
                seq: record.seq,
                problem: Problem::Body(e.to_string()),
            })?;
            out.push_str(&line);
            out.push('\n');
        }
        Ok(out)
    }

    /// Reads a JSON-lines export, verifying it completely; names the first bad seq (a line
    /// that does not parse is named by the seq it should hold).
    pub fn import_jsonl(text: &str) -> Result<Self, VerifyError> {
        let mut journal = Journal::new();
        let mut rest = text;
        while !rest.is_empty() {
            let expected = journal.head().seq + 1;
            let Some((line, tail)) = rest.split_once('\n') else {
                return Err(VerifyError {
                    seq: expected,
                    problem: Problem::Body("the last line does not end with a newline".into()),
                });
            };
            rest = tail;
            let record = Record::from_export_line(line).map_err(|message| VerifyError {
                seq: expected,
                problem: Problem::Body(message),
            })?;
            journal.push_record(record)?;
        }
        Ok(journal)
    }
}

fn check_record(head: &Head, record: &Record) -> Result<Timestamp, VerifyError> {
    check_link(head, record)?;
    let envelope = self_checks(record)
        .and_then(|text| shape(record, text))
        .map_err(|problem| VerifyError {
            seq: record.seq,
            problem,
        })?;
    check_header(head, record, envelope.seq, envelope.at)
}

/// The checks on a record alone: its hash, then its body's canonical form; the body as the
/// text it was checked to be.
fn self_checks(record: &Record) -> Result<&str, Problem> {
    if chain_hash(&record.prev, &record.body) != record.hash {
        return Err(Problem::HashMismatch);
    }
    canonical::canonical_text(&record.body).map_err(|e| Problem::Body(e.to_string()))
}

/// The envelope of a canonical body (`text`, the record's body), the event skipped. Read
/// from text, serde_json does not validate the UTF-8 again string by string.
fn shape(record: &Record, text: &str) -> Result<Envelope<()>, Problem> {
    let body = serde_json::from_str::<BodyShape>(text).map_err(|e| Problem::Body(e.to_string()))?;
    Ok(Envelope {
        seq: body.seq,
        prev: record.prev,
        hash: record.hash,
        at: body.at,
        actor: body.actor,
        correlation_id: body.correlation_id,
        causation: body.causation,
        schema_version: body.schema_version,
        event: (),
    })
}

/// The checks against the head: the next seq and the link.
fn check_link(head: &Head, record: &Record) -> Result<(), VerifyError> {
    let expected = head.seq + 1;
    let fail = |problem| {
        Err(VerifyError {
            seq: expected,
            problem,
        })
    };
    if record.seq != expected {
        return fail(Problem::Gap { expected });
    }
    if record.prev != head.hash {
        return fail(Problem::BrokenLink);
    }
    Ok(())
}

/// The checks on the body's `seq` and `at`, however they were decoded.
fn check_header(
    head: &Head,
    record: &Record,
    seq: u64,
    at: Timestamp,
) -> Result<Timestamp, VerifyError> {
    let fail = |problem| {
        Err(VerifyError {
            seq: record.seq,
            problem,
        })
    };
    if seq != record.seq {
        return fail(Problem::SeqMismatch(seq));
    }
    if let Some(previous) = head.at
        && at < previous
    {
        return fail(Problem::TimeWentBackwards { at, previous });
    }
    Ok(at)
}

/// Writes `{"actor":…,"at":…,"causation":…,"correlation_id":…,"event":` (keys in canonical
/// order), shared by every event of one append.
fn encode_context_prefix(ctx: &Context, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"actor\":{\"id\":");
    canonical::write_string(ctx.actor.id.as_str(), out);
    out.extend_from_slice(b",\"kind\":");
    canonical::write_string(ctx.actor.kind.as_str(), out);
    out.extend_from_slice(b"},\"at\":");
    ctx.at.with_rfc3339(|at| canonical::write_string(at, out));
    out.extend_from_slice(b",\"causation\":");
    match &ctx.causation {
        Some(d) => d.with_spelling(|d| canonical::write_string(d, out)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"correlation_id\":");
    match &ctx.correlation_id {
        Some(c) => canonical::write_string(c.as_str(), out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"event\":");
}

/// Writes the event, `,"schema_version":N,"seq":N}`.
fn encode_event_suffix<E: Event>(
    event: &E,
    seq: u64,
    out: &mut Vec<u8>,
    scratch: &mut canonical::ser::Scratch,
) -> Result<(), CanonicalError> {
    canonical::write_serialize_with(event, out, scratch)?;
    out.extend_from_slice(b",\"schema_version\":");
    canonical::write_u64(out, u64::from(E::SCHEMA_VERSION))?;
    out.extend_from_slice(b",\"seq\":");
    canonical::write_u64(out, seq)?;
    out.push(b'}');
    Ok(())
}
