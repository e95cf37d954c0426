//! `ro`: the command-line host of the Run/Operate plane (see `../shared/design/protocol.md`).
#![allow(clippy::print_stdout, clippy::print_stderr)] // printing responses is the host's job

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use ro_bindings::{
    host::{self, HostError},
    protocol,
    store::Store,
};
use ro_core::{ActorId, Timestamp};

/// The Run/Operate plane: hash-chained, replayable, governed.
#[derive(Parser)]
#[command(name = "ro", version)]
struct Cli {
    /// The store (SQLite file). Defaults to $RO_STORE, then ./ro.db.
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a plane in a new store; ID holds the admin role.
    Init {
        /// The first administrator (a human).
        #[arg(long)]
        admin: String,
        /// Stamp the grant with this RFC 3339 time instead of the clock.
        #[arg(long)]
        at: Option<String>,
    },
    /// Apply commands, one JSON object per line, answering one JSON response per line.
    ///
    /// Responses come in input order, each printed once its events are durable. A blank line
    /// (nothing but whitespace) is skipped and gets no response; every other line gets one,
    /// an invalid one included.
    ///
    /// Exit 0 when every command was accepted, 1 when any was refused (the rest still run),
    /// 2 on unreadable input or a store error.
    Apply {
        /// The human actor of documents that name none.
        #[arg(long)]
        actor: Option<String>,
        /// The input file; standard input when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Print the head, the state digest and a summary of the plane as JSON.
    Status,
    /// Re-read the whole journal, check every hash and rebuild the state; then check that
    /// every kept snapshot records the state the journal produces at its seq. The chain alone
    /// shows only that the records read are the ones written; against whoever can write the
    /// store file it proves something only with an anchor published elsewhere.
    Verify {
        /// An anchor, `SEQ:HASH` (a `head_seq` and `head_hash` of `ro status` published
        /// outside the store): the journal must hold that record with that hash. A rewritten
        /// record fails with ANCHOR_MISMATCH, removed records with ANCHOR_MISSING.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
    /// Print the journal as JSON lines, one record a line.
    Audit {
        /// Print the AdminEvent record of every admin action (and every denied attempt)
        /// instead: {admin_event_id, action_type, actor, observed_at_utc, reason, targets,
        /// before, after, result}.
        #[arg(long)]
        admin: bool,
    },
    /// Run an end-to-end scenario on a new store and verify it.
    Demo,
    /// Print a report as JSON: the daily cost report, the daily health checklist, the
    /// attestation of a period, or a story's handoff package.
    Report {
        #[command(subcommand)]
        report: Report,
    },
    /// Write a snapshot of the plane into the store (rkyv; the next open replays only the
    /// records after it). Prints its seq and size.
    Snapshot,
    /// Print the JSON Schema of every public contract (commands, queries, responses, events,
    /// and the contract's named objects). Needs no store.
    Schema,
}

#[derive(Subcommand)]
enum Report {
    /// The daily cost report (spend against the budget and the per-unit ceiling).
    Cost {
        /// The UTC day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
    },
    /// The daily health checklist (survival rate, violation rate, p99 latency, active model).
    Health {
        /// The UTC day, YYYY-MM-DD (default: the day of the latest cycle).
        #[arg(long)]
        day: Option<String>,
    },
    /// The attestation of a period: compliance, economic safety, determinism, deviations.
    Attestation {
        /// The first UTC day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last UTC day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
    },
    /// A story's handoff package: which derivations are eligible for lock, which block.
    Handoff {
        /// The story id.
        #[arg(long)]
        story: String,
    },
    /// The per-cycle signature log: for each recorded cycle (or the one asked for), the signed
    /// operations since the previous cycle, verified or not, one JSON line per cycle.
    Signatures {
        /// One cycle, by number (the n-th recorded cycle, from 1).
        #[arg(long)]
        cycle: Option<u64>,
    },
}

impl Report {
    /// The report as a query document of the protocol.
    fn query(&self) -> serde_json::Value {
        match self {
            Report::Cost { day } => serde_json::json!({ "type": "COST_REPORT", "day": day }),
            Report::Health { day } => serde_json::json!({ "type": "HEALTH_CHECKLIST", "day": day }),
            Report::Attestation { from, to } => {
                serde_json::json!({ "type": "ATTESTATION", "from": from, "to": to })
            }
            Report::Handoff { story } => {
                serde_json::json!({ "type": "HANDOFF_PACKAGE", "story": story })
            }
            Report::Signatures { .. } => serde_json::Value::Null,
        }
    }
}

fn clock() -> Timestamp {
    let now = time::OffsetDateTime::now_utc();
    Timestamp::from_unix_nanos(now.unix_timestamp_nanos()).unwrap_or(Timestamp::MIN)
}

fn store_path(cli: Option<PathBuf>) -> PathBuf {
    cli.or_else(|| std::env::var_os("RO_STORE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("ro.db"))
}

fn fail(code: &str, message: &str, exit: u8) -> ExitCode {
    let response = protocol::error_response(code, message, serde_json::json!({}));
    eprintln!("ro: {message}");
    // Standard output may be gone (a closed pipe); the message went to standard error.
    let _ = writeln!(std::io::stdout(), "{response}");
    ExitCode::from(exit)
}

fn host_fail(e: &HostError) -> ExitCode {
    // `ro audit | head`: the reader stopped reading; that is not a failure of the host.
    if let HostError::Io(io) = e
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    fail(e.code(), &e.to_string(), 2)
}

fn actor_arg(id: &str, flag: &str) -> Result<ActorId, ExitCode> {
    ActorId::new(id).map_err(|e| fail("INVALID_ARGUMENT", &format!("{flag}: {e}"), 2))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = store_path(cli.store);
    match cli.command {
        Command::Init { admin, at } => {
            let admin = match actor_arg(&admin, "--admin") {
                Ok(a) => a,
                Err(code) => return code,
            };
            let at = match at.as_deref().map(Timestamp::parse_rfc3339).transpose() {
                Ok(at) => at.unwrap_or_else(clock),
                Err(e) => return fail("INVALID_ARGUMENT", &format!("--at: {e}; use RFC 3339"), 2),
            };
            match host::init(&path, &admin, at).and_then(|s| host::status(&s)) {
                Ok(status) => {
                    let _ = writeln!(std::io::stdout(), "{status}");
                    ExitCode::SUCCESS
                }
                Err(e) => host_fail(&e),
            }
        }
        Command::Apply { actor, file } => {
            let actor = match actor
                .as_deref()
                .map(|a| actor_arg(a, "--actor"))
                .transpose()
            {
                Ok(a) => a,
                Err(code) => return code,
            };
            let run = || -> Result<host::Tally, HostError> {
                let mut store = Store::open(&path)?;
                let mut input = host::open_input(file.as_deref())?;
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                host::apply(&mut store, &mut input, &mut out, actor.as_ref(), &mut clock)
            };
            match run() {
                Ok(t) if t.refused == 0 => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(e) => host_fail(&e),
            }
        }
        Command::Status => match Store::open(&path)
            .map_err(HostError::from)
            .and_then(|s| host::status(&s))
        {
            Ok(status) => {
                let _ = writeln!(std::io::stdout(), "{status}");
                ExitCode::SUCCESS
            }
            Err(e) => host_fail(&e),
        },
        Command::Verify { expect_head } => {
            let anchor = match expect_head.as_deref().map(parse_anchor).transpose() {
                Ok(anchor) => anchor,
                Err(message) => return fail("INVALID_ARGUMENT", &message, 2),
            };
            verify(&path, anchor)
        }
        Command::Audit { admin } => {
            let stdout = std::io::stdout();
            match Store::open(&path).map_err(HostError::from).and_then(|s| {
                if admin {
                    host::admin_audit(&s, &mut stdout.lock())
                } else {
                    host::audit(&s, &mut stdout.lock())
                }
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => host_fail(&e),
            }
        }
        Command::Demo => demo(&path),
        Command::Report {
            report: Report::Signatures { cycle },
        } => {
            let stdout = std::io::stdout();
            match Store::open(&path)
                .map_err(HostError::from)
                .and_then(|s| host::signature_logs(&s, cycle, &mut stdout.lock()))
            {
                Ok(0) if cycle.is_some() => fail(
                    "UNKNOWN_CYCLE",
                    "no such cycle: cycles are numbered from 1 in the order they were recorded",
                    1,
                ),
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => host_fail(&e),
            }
        }
        Command::Report { report } => {
            let run = || -> Result<(bool, serde_json::Value), HostError> {
                let mut store = Store::open(&path)?;
                let reporter =
                    ActorId::new("ro-report").map_err(|e| HostError::Encoding(e.to_string()))?;
                let line = report.query().to_string();
                Ok(host::execute_line(
                    store.kernel_mut(),
                    &line,
                    Some(&reporter),
                    clock(),
                ))
            };
            match run() {
                Ok((ok, response)) => {
                    let _ = writeln!(
                        std::io::stdout(),
                        "{}",
                        response.get("result").unwrap_or(&response)
                    );
                    if ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => host_fail(&e),
            }
        }
        Command::Snapshot => {
            let run = || -> Result<serde_json::Value, HostError> {
                let mut store = Store::open(&path)?;
                let (seq, bytes) = store.snapshot()?;
                Ok(serde_json::json!({ "ok": true, "snapshot_seq": seq, "bytes": bytes }))
            };
            match run() {
                Ok(v) => {
                    let _ = writeln!(std::io::stdout(), "{v}");
                    ExitCode::SUCCESS
                }
                Err(e) => host_fail(&e),
            }
        }
        Command::Schema => {
            let _ = write!(
                std::io::stdout(),
                "{}",
                ro_bindings::schema::contracts_text()
            );
            ExitCode::SUCCESS
        }
    }
}

/// The demo scenario: each line is applied in order; a first step answered
/// `confirmation_required` is re-sent with its token, as an operator would.
/// Parses `SEQ:HASH` (the hash as `ro status` prints it).
fn parse_anchor(text: &str) -> Result<(u64, ro_core::Digest), String> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| format!("--expect-head {text:?}: expected SEQ:HASH, e.g. 42:blake3:…"))?;
    let seq = seq
        .parse::<u64>()
        .map_err(|e| format!("--expect-head: seq {seq:?}: {e}"))?;
    let hash = hash
        .parse::<ro_core::Digest>()
        .map_err(|e| format!("--expect-head: hash {hash:?}: {e}"))?;
    Ok((seq, hash))
}

/// `ro verify`: the whole journal re-read and every snapshot checked; with an anchor, the
/// anchored record must be there with the anchored hash.
fn verify(path: &Path, anchor: Option<(u64, ro_core::Digest)>) -> ExitCode {
    let store = match Store::open_replaying(path).and_then(|s| s.verify_snapshots().map(|_| s)) {
        Ok(store) => store,
        Err(
            e @ (ro_bindings::store::StoreError::Damaged { .. }
            | ro_bindings::store::StoreError::SnapshotMismatch { .. }),
        ) => {
            return fail(e.code(), &e.to_string(), 1);
        }
        Err(e) => return host_fail(&HostError::from(e)),
    };
    if let Some((seq, hash)) = anchor {
        let journal = store.kernel().journal();
        match journal.get(seq) {
            None => {
                return fail(
                    "ANCHOR_MISSING",
                    &format!(
                        "the journal ends at seq {}, before the anchor's seq {seq}: records were removed",
                        journal.head().seq
                    ),
                    1,
                );
            }
            Some(record) if record.hash != hash => {
                return fail(
                    "ANCHOR_MISMATCH",
                    &format!(
                        "record {seq} has hash {}, the anchor says {hash}: the journal was rewritten",
                        record.hash
                    ),
                    1,
                );
            }
            Some(_) => {}
        }
    }
    match host::status(&store) {
        Ok(status) => {
            let anchor = anchor.map(|(seq, hash)| {
                serde_json::json!({ "seq": seq, "hash": hash.to_string(), "matched": true })
            });
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::json!({ "ok": true, "verified": status, "anchor": anchor })
            );
            ExitCode::SUCCESS
        }
        Err(e) => host_fail(&e),
    }
}

const DEMO: &str = include_str!("demo.jsonl");

fn demo(path: &Path) -> ExitCode {
    let run = || -> Result<(), HostError> {
        let at = Timestamp::parse_rfc3339("2026-03-02T13:00:00Z")
            .map_err(|e| HostError::Encoding(e.to_string()))?;
        let mut store = host::init(
            path,
            &ActorId::new("alice").map_err(|e| HostError::Encoding(e.to_string()))?,
            at,
        )?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        writeln!(out, "ro demo on {}", path.display())?;
        // Every demo document names its `at`: the story's time, so the journal is the same on
        // every run. The demo's host clock is that story time (a simulated host: its clock
        // bounds the documents, and dates the confirmations, as a real one would).
        let mut now = at;
        for line in DEMO.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(comment) = line.strip_prefix("//") {
                writeln!(out, "\n## {}", comment.trim())?;
                continue;
            }
            if let Some(named) = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("at")?.as_str().map(Timestamp::parse_rfc3339))
                .and_then(Result::ok)
            {
                now = now.max(named);
            }
            let (_, mut response) = host::execute_line(store.kernel_mut(), line, None, now);
            store.commit()?;
            writeln!(out, "\n> {line}\n< {}", summary(&response))?;
            if let Some(token) = response.get("confirmation_token").and_then(|t| t.as_str()) {
                let second = protocol::with_confirmation_token(line, token)
                    .map_err(|e| HostError::Encoding(e.to_string()))?;
                writeln!(
                    out,
                    "> (the same command again, with the confirmation token)"
                )?;
                (_, response) = host::execute_line(store.kernel_mut(), &second, None, now);
                store.commit()?;
                writeln!(out, "< {}", summary(&response))?;
            }
        }
        drop(store);
        let reopened = Store::open(path)?;
        writeln!(out, "\nreopened and verified: {}", host::status(&reopened)?)?;
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => host_fail(&e),
    }
}

/// A response with each event reduced to its seq and type, for reading.
fn summary(response: &serde_json::Value) -> serde_json::Value {
    let mut response = response.clone();
    if let Some(events) = response.get_mut("events").and_then(|e| e.as_array_mut()) {
        for event in events.iter_mut() {
            let seq = event.get("seq").cloned();
            let ty = event.pointer("/event/event/type").cloned();
            *event = serde_json::json!({ "seq": seq, "event": ty });
        }
    }
    response
}
