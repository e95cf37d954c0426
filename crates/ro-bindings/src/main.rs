//! `ro`: the command-line host of the Run/Operate plane (see `../shared/design/protocol.md`).
#![allow(clippy::print_stdout, clippy::print_stderr)] // printing responses is the host's job

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use ro_bindings::{
    checkpoint,
    host::{self, HostError},
    protocol,
    store::{Location, Store},
};
use ro_core::{ActorId, Reason, Timestamp};

/// The Run/Operate plane: hash-chained, replayable, governed.
#[derive(Parser)]
#[command(name = "ro", version)]
struct Cli {
    /// The store: an SQLite file's path, or a plane in PostgreSQL
    /// (`postgres://USER@HOST:PORT/DATABASE?plane=NAME`). Defaults to $RO_STORE, then ./ro.db.
    #[arg(long, global = true, value_name = "PATH|URL")]
    store: Option<String>,
    /// The store's key file (default: $RO_KEY_FILE, then `<store>.keys` beside an SQLite
    /// file, `ro-<plane>.keys` in the working directory for PostgreSQL).
    #[arg(long, global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Speak to a running `ro serve` (http://HOST:PORT) instead of opening a store: `apply`,
    /// `status`, `audit` and `report` take the same inputs and print the same outputs.
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
    /// The API token to present to `--server` (default: $RO_TOKEN).
    #[arg(long, global = true, value_name = "TOKEN")]
    token: Option<String>,
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
        /// `locked` (the default): production locked and the kill switch engaged from the
        /// first moment, released by a human in two steps each; `unlocked`: neither.
        #[arg(long, default_value = "locked", value_parser = ["locked", "unlocked"])]
        posture: String,
    },
    /// Apply commands, one JSON object per line, answering one JSON response per line.
    ///
    /// Responses come in input order, each printed once its events are durable. A blank line
    /// (nothing but whitespace) is skipped and gets no response; every other line gets one,
    /// an invalid one included.
    ///
    /// Exit 0 when every command was accepted, 1 when any was refused (the rest still run),
    /// 3 when none was refused but a two-step command awaits its confirmation (its answer says
    /// `expires_at` and what to send next), 2 on unreadable input or a store error. A refusal's
    /// `details.line` is its input line number.
    Apply {
        /// The human actor of documents that name none.
        #[arg(long)]
        actor: Option<String>,
        /// The reason of documents that give none (every admin action gives one; it is kept
        /// on its audit record).
        #[arg(long)]
        reason: Option<String>,
        /// Admit documents dated any time before the host clock (a scripted or imported
        /// history); without it a document's `at` must be within --max-skew of the clock.
        #[arg(long)]
        history: bool,
        /// The most a document's `at` may stray from the host clock, in seconds (without
        /// --history; with it, the bound ahead stays 300 s).
        #[arg(long, default_value_t = protocol::DEFAULT_SKEW_SECONDS)]
        max_skew: i64,
        /// The input file; standard input when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Print the head, the state digest and a summary of the plane as JSON.
    Status {
        /// The plane as it stood once record SEQ was written, rebuilt from the journal's
        /// first SEQ records (reproducing an incident offline).
        #[arg(long, value_name = "SEQ")]
        at_seq: Option<u64>,
    },
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
        /// Verify an export (`ro audit` output) instead of a store: no store is opened.
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
        /// A signed checkpoint (`ro checkpoint`) the journal must match: records removed,
        /// rewritten or renumbered before its size fail; records after it fail unless
        /// `--allow-unproven-tail`.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The checkpoint key to trust (64 hex digits, as `ro keys` prints it).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// Accept records after the checkpoint (reported, not proven).
        #[arg(long)]
        allow_unproven_tail: bool,
    },
    /// Print the public key checkpoints are signed with (publish it) and where the key file is.
    Keys,
    /// Print a signed checkpoint of the journal's head: its size, head hash and Merkle root,
    /// signed with the host's checkpoint key. Publish it; `ro verify --checkpoint` checks a
    /// journal or an export against it.
    Checkpoint,
    /// Merkle proofs over the journal (RFC 6962 shape, BLAKE3).
    Proof {
        #[command(subcommand)]
        proof: ProofCommand,
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
    /// Copy a store into a new one, on either engine, keeping every hash (records, snapshots,
    /// token hashes and keys); `ro verify` on both then gives the same head and state digest.
    Copy {
        /// The source store (a path or a postgres:// URL).
        #[arg(long, value_name = "PATH|URL")]
        from: String,
        /// The new store (refused if it holds a plane).
        #[arg(long, value_name = "PATH|URL")]
        to: String,
        /// The source's key file (default: --key-file, then the engine's default).
        #[arg(long, value_name = "PATH")]
        from_key_file: Option<PathBuf>,
        /// The copy's key file (default: --key-file, then the engine's default).
        #[arg(long, value_name = "PATH")]
        to_key_file: Option<PathBuf>,
    },
    /// Print a report as JSON: the daily cost report, the daily health checklist, the
    /// attestation of a period, or a story's handoff package.
    Report {
        #[command(subcommand)]
        report: Report,
    },
    /// Write an evidence bundle (status, readiness and deploy reports, alerts, config
    /// snapshot, inventory, the last day's job runs, the last-known-good manifest) under
    /// DIR/ops_runs/<UTC>_<KIND>/ with a manifest of BLAKE3 digests and the journal's head; or,
    /// with --verify, check a bundle against its manifest and the journal.
    Evidence {
        /// The audit artifacts directory (e.g. audit_artifacts).
        #[arg(long, required_unless_present = "verify")]
        dir: Option<PathBuf>,
        /// pre-market, post-market, deploy or incident.
        #[arg(long, default_value = "pre-market")]
        bundle: String,
        /// The instant the bundle is of (RFC 3339; default: now).
        #[arg(long)]
        at: Option<String>,
        /// Verify the bundle in this directory instead (exit 1 when it does not verify).
        #[arg(long, value_name = "BUNDLE_DIR", conflicts_with = "dir")]
        verify: Option<PathBuf>,
    },
    /// Write a snapshot of the plane into the store (rkyv; the next open replays only the
    /// records after it). Prints its seq and size.
    Snapshot,
    /// Print the JSON Schema of every public contract (commands, queries, responses, events,
    /// and the contract's named objects). Needs no store.
    Schema {
        /// Print the OpenAPI 3.1 description of `ro serve`'s HTTP API instead.
        #[arg(long)]
        openapi: bool,
    },
    /// Register a principal (REGISTER_PRINCIPAL), optionally granting it a role: who a token
    /// can be issued to.
    Principal {
        #[command(subcommand)]
        principal: PrincipalCommand,
    },
    /// API tokens for `ro serve`: issue (printed once; the store keeps only a keyed hash of
    /// the secret, outside the journal) and revoke.
    Token {
        #[command(subcommand)]
        token: TokenCommand,
    },
    /// Reconcile NATS JetStream with the plane's streams: `plan` says what would change,
    /// `apply` does it (creates and updates only what the plane records; never shrinks).
    #[cfg(feature = "serve")]
    Bus {
        #[command(subcommand)]
        bus: BusCommand,
    },
    /// Serve the plane over HTTP until SIGTERM or SIGINT (see the HTTP API in README.md):
    /// one writer group-commits every connection's commands, the clock ticks the plane, the
    /// health probes answer without waiting. The store is locked: no other server or console
    /// writer runs beside it.
    #[cfg(feature = "serve")]
    Serve {
        /// Where to listen (port 0: any free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The most a document's `at` may stray from the host clock, in seconds.
        #[arg(long, default_value_t = ro_bindings::serve::DEFAULT_SKEW_SECONDS)]
        max_skew: i64,
        /// Admit documents dated any time before the host clock (importing a history).
        #[arg(long)]
        history: bool,
        /// Tick the plane every this many milliseconds; 0: never (no scheduler).
        #[arg(long, default_value_t = 1000)]
        tick_ms: u64,
        /// The principal that ticks (a registered service with the operator role).
        #[arg(long, default_value = "ro-clock")]
        clock_principal: String,
        /// Require a token for /health, /healthz, /ops/status and /metrics too.
        #[arg(long)]
        closed_probes: bool,
        /// The largest request body, in bytes.
        #[arg(long, default_value_t = 8 << 20)]
        body_limit: usize,
        /// The most requests waiting for the writer (more are answered 503).
        #[arg(long, default_value_t = 1024)]
        queue: usize,
        /// The longest a request may take, in seconds.
        #[arg(long, default_value_t = 30)]
        request_timeout: u64,
        /// The trading calendar /ops/status answers by (MARKET_CLOSED outside its sessions);
        /// default: the alert routing's calendar, if any.
        #[arg(long)]
        calendar: Option<String>,
        /// A shell command run for each alert raised, the alert's record on its standard
        /// input (off by default).
        #[arg(long)]
        alert_hook: Option<String>,
        /// Publish every committed record to this NATS server's JetStream (the outbox; off by
        /// default): `nats://HOST:PORT`.
        #[arg(long, value_name = "URL")]
        outbox: Option<String>,
        /// The outbox's JetStream stream (created if missing).
        #[arg(long, default_value = "RO_JOURNAL", requires = "outbox")]
        outbox_stream: String,
        /// The outbox's subject (default: ro.journal.<plane>).
        #[arg(long, requires = "outbox")]
        outbox_subject: Option<String>,
        /// Check the bus (NATS JetStream) against the plane's streams: drift is recorded as a
        /// `bus_drift` deviation, consumer lag as `STREAM_LAG` signals (off by default).
        #[arg(long, value_name = "URL")]
        bus: Option<String>,
        /// The bus's stream and subject prefix (as `ro bus --prefix`).
        #[arg(long, default_value = "", requires = "bus")]
        bus_prefix: String,
        /// How often the bus is checked, in milliseconds.
        #[arg(long, default_value_t = 10_000, requires = "bus")]
        bus_every_ms: u64,
        /// After recording a drift: `restore` puts the plane's settings back, `wait` leaves it
        /// to an operator (`ro bus apply`).
        #[arg(long, default_value = "wait", value_parser = ["wait", "restore"], requires = "bus")]
        bus_drift: String,
        /// Mission control: watch the services this JSON file lists (`{"services": [{"name",
        /// "url", "owner", "market_hours"}], "every_ms", "timeout_ms", "confirm"}`).
        #[arg(long, value_name = "FILE")]
        services: Option<PathBuf>,
    },
}

#[cfg(feature = "serve")]
#[derive(Subcommand)]
enum BusCommand {
    /// Print, per plane stream, what the bus would change (one JSON line each); changes
    /// nothing.
    Plan {
        /// The NATS server (nats://HOST:PORT).
        #[arg(long, value_name = "URL")]
        nats: String,
        /// Prefixed to every JetStream stream name and subject.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Carry out the plan.
    Apply {
        /// The NATS server (nats://HOST:PORT).
        #[arg(long, value_name = "URL")]
        nats: String,
        /// Prefixed to every JetStream stream name and subject.
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum PrincipalCommand {
    /// Register ID as a human, an agent or a service.
    Add {
        /// The principal.
        id: String,
        /// human, agent or service.
        #[arg(long)]
        kind: String,
        /// Grant it this role too.
        #[arg(long)]
        role: Option<String>,
        /// The administrator doing it (a human at the console).
        #[arg(long)]
        actor: String,
        /// Why (kept on the audit record).
        #[arg(long)]
        reason: String,
        /// Date it at this RFC 3339 time instead of the clock.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token to a registered principal; prints it once.
    Issue {
        /// The principal.
        principal: String,
        /// When it stops authenticating (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        /// The administrator doing it (a human at the console).
        #[arg(long)]
        actor: String,
        /// Why (kept on the audit record).
        #[arg(long)]
        reason: String,
        /// Date it at this RFC 3339 time instead of the clock.
        #[arg(long)]
        at: Option<String>,
    },
    /// Revoke a token by its id: it never authenticates again.
    Revoke {
        /// The token's id (the part between `ro1.` and the secret).
        token_id: String,
        /// The administrator doing it.
        #[arg(long)]
        actor: String,
        /// Why (kept on the audit record).
        #[arg(long)]
        reason: String,
        /// Date it at this RFC 3339 time instead of the clock.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum ProofCommand {
    /// That record SEQ is in the tree of the first SIZE records (default: the whole journal).
    Inclusion {
        /// The record.
        seq: u64,
        /// The tree's size (a checkpoint's `size`).
        #[arg(long)]
        size: Option<u64>,
    },
    /// That the tree of the first OLD records is a prefix of the tree of the first NEW
    /// (default: the whole journal).
    Consistency {
        /// The older size.
        old: u64,
        /// The newer size.
        new: Option<u64>,
    },
    /// Checks a proof file against checkpoints, without the journal: an inclusion proof
    /// against `--checkpoint`, a consistency proof against `--old-checkpoint` and
    /// `--checkpoint`.
    Verify {
        /// The proof (`ro proof inclusion|consistency` output).
        proof: PathBuf,
        /// The checkpoint of the proof's (newer) size.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The checkpoint of a consistency proof's older size.
        #[arg(long)]
        old_checkpoint: Option<PathBuf>,
        /// The checkpoint key to trust (64 hex digits).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
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
    /// The experiences kept out of learning (the runbook's quarantine), by id.
    Quarantine,
    /// The deviations (all, or only those not resolved): severity, action, due, overdue.
    Deviations {
        /// Only the deviations not yet resolved.
        #[arg(long)]
        open: bool,
    },
    /// Change control: the frozen baseline and every change request.
    Changes,
    /// The alerts raised (all, or only those not resolved), with the routing in force.
    Alerts {
        /// Only the alerts not yet resolved.
        #[arg(long)]
        open: bool,
    },
    /// Write DIR/incident_<UUID>.json for every incident: its audit hash and the state as it
    /// stood once the failure was recorded; one JSON line per file.
    Incidents {
        /// The directory (e.g. failures).
        #[arg(long)]
        dir: PathBuf,
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
            Report::Alerts { open } => serde_json::json!({ "type": "ALERTS", "open_only": open }),
            Report::Quarantine => serde_json::json!({ "type": "QUARANTINE" }),
            Report::Deviations { open } => {
                serde_json::json!({ "type": "DEVIATIONS", "open_only": open })
            }
            Report::Changes => serde_json::json!({ "type": "CHANGE_CONTROL" }),
            Report::Signatures { .. } | Report::Incidents { .. } => serde_json::Value::Null,
        }
    }
}

fn clock() -> Timestamp {
    let now = time::OffsetDateTime::now_utc();
    Timestamp::from_unix_nanos(now.unix_timestamp_nanos()).unwrap_or(Timestamp::MIN)
}

/// The store: `--store`, then `$RO_STORE`, then `./ro.db`; its key file: `--key-file`, then
/// `$RO_KEY_FILE`, then the engine's default ([`Location::parse`]).
fn store_location(store: Option<String>, key_file: Option<PathBuf>) -> Result<Location, ExitCode> {
    let text = store
        .or_else(|| std::env::var("RO_STORE").ok())
        .unwrap_or_else(|| "ro.db".to_owned());
    let at = Location::parse(&text).map_err(|e| fail(e.code(), &e.to_string(), 2))?;
    Ok(match key_file {
        Some(file) => at.with_key_file(file),
        None => at,
    })
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
    if let Some(url) = cli.server.as_deref() {
        let token = cli
            .token
            .or_else(|| std::env::var("RO_TOKEN").ok())
            .unwrap_or_default();
        return remote(url, &token, cli.command);
    }
    let key_file = cli
        .key_file
        .or_else(|| std::env::var_os("RO_KEY_FILE").map(PathBuf::from));
    let path = match store_location(cli.store, key_file.clone()) {
        Ok(at) => at,
        Err(code) => return code,
    };
    match cli.command {
        Command::Init { admin, at, posture } => {
            let admin = match actor_arg(&admin, "--admin") {
                Ok(a) => a,
                Err(code) => return code,
            };
            let at = match at.as_deref().map(Timestamp::parse_rfc3339).transpose() {
                Ok(at) => at.unwrap_or_else(clock),
                Err(e) => return fail("INVALID_ARGUMENT", &format!("--at: {e}; use RFC 3339"), 2),
            };
            match host::init_with_posture(&path, &admin, at, posture == "locked")
                .and_then(|s| host::status(&s))
            {
                Ok(status) => {
                    let _ = writeln!(std::io::stdout(), "{status}");
                    ExitCode::SUCCESS
                }
                Err(e) => host_fail(&e),
            }
        }
        Command::Apply {
            actor,
            reason,
            file,
            history,
            max_skew,
        } => {
            let reason = match reason.map(Reason::new).transpose() {
                Ok(reason) => reason,
                Err(e) => return fail("INVALID_ARGUMENT", &format!("--reason: {e}"), 2),
            };
            if max_skew < 0 {
                return fail("INVALID_ARGUMENT", "--max-skew must not be negative", 2);
            }
            let skew = if history {
                protocol::Skew::CONSOLE
            } else {
                protocol::Skew::both(max_skew)
            };
            let actor = match actor
                .as_deref()
                .map(|a| actor_arg(a, "--actor"))
                .transpose()
            {
                Ok(a) => a,
                Err(code) => return code,
            };
            let run = || -> Result<host::Tally, HostError> {
                let _lock = ro_bindings::store::lock(&path, false)?;
                let mut store = Store::open_lean(&path)?;
                let mut input = host::open_input(file.as_deref())?;
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                host::apply_within(
                    &mut store,
                    &mut input,
                    &mut out,
                    (actor.as_ref(), reason.as_ref()),
                    &mut clock,
                    skew,
                )
            };
            match run() {
                Ok(t) if t.refused == 0 && t.pending == 0 => ExitCode::SUCCESS,
                Ok(t) if t.refused == 0 => ExitCode::from(3),
                Ok(_) => ExitCode::from(1),
                Err(e) => host_fail(&e),
            }
        }
        Command::Status { at_seq } => {
            // `--at-seq` replays the records before SEQ, so it holds them all.
            let opened = match at_seq {
                Some(_) => Store::open(&path),
                None => Store::open_lean(&path),
            };
            match opened.map_err(HostError::from).and_then(|s| {
                let status = match at_seq {
                    Some(seq) => host::status_at(&s, seq),
                    None => host::status(&s),
                };
                // The process ends here: its memory goes back whole, where freeing a large
                // plane piece by piece costs a tenth of opening it. Nothing was written.
                std::mem::forget(s);
                status
            }) {
                Ok(status) => {
                    let _ = writeln!(std::io::stdout(), "{status}");
                    ExitCode::SUCCESS
                }
                Err(e) => host_fail(&e),
            }
        }
        Command::Verify {
            expect_head,
            export,
            checkpoint,
            public_key,
            allow_unproven_tail,
        } => {
            let anchor = match expect_head.as_deref().map(parse_anchor).transpose() {
                Ok(anchor) => anchor,
                Err(message) => return fail("INVALID_ARGUMENT", &message, 2),
            };
            let checkpoint = match checkpoint.as_deref().map(read_checkpoint).transpose() {
                Ok(c) => c,
                Err(code) => return code,
            };
            let trust = Trust {
                checkpoint: checkpoint.as_ref(),
                public_key: public_key.as_deref(),
                allow_unproven_tail,
            };
            match export {
                Some(file) => verify_export(&file, anchor, &trust),
                None => verify(&path, anchor, &trust),
            }
        }
        Command::Keys => match Store::open(&path) {
            Ok(store) => match store.keys() {
                Some(keys) => print_json(&serde_json::json!({
                    "checkpoint_public_key": hex(&keys.checkpoint_public_key()),
                    "key_file": path.key_file().display().to_string(),
                })),
                None => host_fail(&HostError::Store(
                    ro_bindings::store::StoreError::KeysMissing(path.key_file().to_owned()),
                )),
            },
            Err(e) => host_fail(&HostError::from(e)),
        },
        Command::Checkpoint => {
            let (first, hashes) = match journal_hashes(&path) {
                Ok(read) => read,
                Err(e) => return host_fail(&HostError::from(e)),
            };
            // The key file; a store written before keys moved out of it has its key moved
            // there by an open.
            let keys = match ro_bindings::keys::Keys::read(path.key_file()) {
                Ok(Some(keys)) => Some(keys),
                Ok(None) => Store::open_lean(&path).ok().and_then(|s| s.keys().cloned()),
                Err(e) => return host_fail(&HostError::from(e)),
            };
            match keys {
                Some(keys) => {
                    print_json(&checkpoint::sign(first.as_ref(), &hashes, &keys, clock()))
                }
                None => host_fail(&HostError::Store(
                    ro_bindings::store::StoreError::KeysMissing(path.key_file().to_owned()),
                )),
            }
        }
        Command::Proof { proof } => proof_command(&path, proof),
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
        Command::Copy {
            from,
            to,
            from_key_file,
            to_key_file,
        } => {
            let located = |text: &str, key_file: Option<PathBuf>| {
                Location::parse(text)
                    .map(|at| match key_file {
                        Some(file) => at.with_key_file(file),
                        None => at,
                    })
                    .map_err(|e| fail(e.code(), &e.to_string(), 2))
            };
            let (from_key_file, to_key_file) = (
                from_key_file.or_else(|| key_file.clone()),
                to_key_file.or_else(|| key_file.clone()),
            );
            let (from, to) = match (located(&from, from_key_file), located(&to, to_key_file)) {
                (Ok(from), Ok(to)) => (from, to),
                (Err(code), _) | (_, Err(code)) => return code,
            };
            let copied = ro_bindings::store::lock(&from, false)
                .map_err(HostError::from)
                .and_then(|_lock| host::copy(&from, &to));
            match copied {
                Ok(report) => print_json(&report),
                Err(e) => host_fail(&e),
            }
        }
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
        Command::Report {
            report: Report::Incidents { dir },
        } => match Store::open(&path)
            .map_err(HostError::from)
            .and_then(|s| ro_bindings::evidence::write_incidents(&s, &dir))
        {
            Ok(lines) => {
                let mut out = std::io::stdout().lock();
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => host_fail(&e),
        },
        Command::Report { report } => {
            let run = || -> Result<(bool, serde_json::Value), HostError> {
                let mut store = Store::open_lean(&path)?;
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
        Command::Evidence {
            dir,
            bundle,
            at,
            verify,
        } => {
            let Some(kind) = ro_bindings::evidence::Bundle::parse(&bundle) else {
                return fail(
                    "INVALID_ARGUMENT",
                    "--bundle: pre-market, post-market, deploy or incident",
                    2,
                );
            };
            let at = match console_time(at.as_deref()) {
                Ok(at) => at,
                Err(code) => return code,
            };
            let run = || -> Result<serde_json::Value, HostError> {
                let store = Store::open(&path)?;
                match (&verify, &dir) {
                    (Some(bundle_dir), _) => {
                        ro_bindings::evidence::verify_bundle(&store, bundle_dir)
                    }
                    (None, Some(dir)) => ro_bindings::evidence::write_bundle(&store, dir, kind, at),
                    (None, None) => Err(HostError::InvalidArgument("--dir or --verify".into())),
                }
            };
            match run() {
                Ok(v) => {
                    let ok = v.get("ok") == Some(&serde_json::Value::Bool(true));
                    let _ = writeln!(std::io::stdout(), "{v}");
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
                let _lock = ro_bindings::store::lock(&path, false)?;
                let mut store = Store::open_lean(&path)?;
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
        Command::Principal {
            principal:
                PrincipalCommand::Add {
                    id,
                    kind,
                    role,
                    actor,
                    reason,
                    at,
                },
        } => {
            let mut lines = vec![serde_json::json!({ "type": "REGISTER_PRINCIPAL",
                                                     "principal": id, "kind": kind,
                                                     "reason": reason })];
            if let Some(role) = role {
                lines.push(serde_json::json!({ "type": "GRANT_ROLE", "principal": id,
                                               "role": role, "reason": reason }));
            }
            console(&path, &actor, at.as_deref(), &lines)
        }
        Command::Token {
            token:
                TokenCommand::Issue {
                    principal,
                    expires,
                    actor,
                    reason,
                    at,
                },
        } => issue_token(
            &path,
            &principal,
            expires.as_deref(),
            (&actor, &reason),
            at.as_deref(),
        ),
        Command::Token {
            token:
                TokenCommand::Revoke {
                    token_id,
                    actor,
                    reason,
                    at,
                },
        } => console(
            &path,
            &actor,
            at.as_deref(),
            &[
                serde_json::json!({ "type": "REVOKE_TOKEN", "token_id": token_id,
                                  "reason": reason }),
            ],
        ),
        #[cfg(feature = "serve")]
        Command::Bus { bus } => {
            let (nats, prefix, apply) = match bus {
                BusCommand::Plan { nats, prefix } => (nats, prefix, false),
                BusCommand::Apply { nats, prefix } => (nats, prefix, true),
            };
            let store = match Store::open(&path) {
                Ok(store) => store,
                Err(e) => return host_fail(&HostError::Store(e)),
            };
            let plane = store.kernel().state();
            let done = if apply {
                ro_bindings::bus::apply(plane, &nats, &prefix)
            } else {
                ro_bindings::bus::plan(plane, &nats, &prefix)
            };
            match done {
                Ok(items) => {
                    let mut out = std::io::stdout().lock();
                    for item in &items {
                        let _ = writeln!(out, "{item}");
                    }
                    if items.iter().any(|i| i.get("error").is_some()) {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => fail("BUS_UNAVAILABLE", &e, 2),
            }
        }
        #[cfg(feature = "serve")]
        Command::Serve {
            listen,
            max_skew,
            history,
            tick_ms,
            clock_principal,
            closed_probes,
            body_limit,
            queue,
            request_timeout,
            calendar,
            alert_hook,
            outbox,
            outbox_stream,
            outbox_subject,
            bus,
            bus_prefix,
            bus_every_ms,
            bus_drift,
            services,
        } => {
            let clock_principal = match actor_arg(&clock_principal, "--clock-principal") {
                Ok(a) => a,
                Err(code) => return code,
            };
            if max_skew < 0 {
                return fail("INVALID_ARGUMENT", "--max-skew must not be negative", 2);
            }
            let mut config = ro_bindings::serve::Config::new(listen);
            config.skew_seconds = max_skew;
            config.history = history;
            config.tick_every = (tick_ms > 0).then(|| std::time::Duration::from_millis(tick_ms));
            config.clock_principal = clock_principal;
            config.open_probes = !closed_probes;
            config.body_limit = body_limit;
            config.queue = queue;
            config.request_timeout = std::time::Duration::from_secs(request_timeout.max(1));
            config.calendar = match calendar.map(ro_jobs::CalendarName::new).transpose() {
                Ok(c) => c,
                Err(e) => return fail("INVALID_ARGUMENT", &format!("--calendar: {e}"), 2),
            };
            config.alert_hook = alert_hook;
            config.outbox = outbox.map(|url| ro_bindings::serve::OutboxConfig {
                url,
                stream: outbox_stream,
                subject: outbox_subject.unwrap_or_default(),
            });
            config.bus = bus.map(|url| ro_bindings::serve::BusCheck {
                url,
                prefix: bus_prefix,
                every: std::time::Duration::from_millis(bus_every_ms.max(100)),
                restore: bus_drift == "restore",
            });
            config.services = match services
                .as_deref()
                .map(ro_bindings::serve::ServicesFile::load)
                .transpose()
            {
                Ok(file) => file,
                Err(e) => return fail("INVALID_ARGUMENT", &e, 2),
            };
            let served = ro_bindings::serve::serve(&path, config, |addr| {
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::json!({ "ok": true, "listening": addr.to_string() })
                );
                let _ = std::io::stdout().flush();
            });
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e.code(), &e.to_string(), 2),
            }
        }
        Command::Schema { openapi } => {
            let text = if openapi {
                ro_bindings::openapi::document_text()
            } else {
                ro_bindings::schema::contracts_text()
            };
            let _ = write!(std::io::stdout(), "{text}");
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

use ro_admin::signing::to_hex as hex;

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string(value) {
        Ok(text) => {
            let _ = writeln!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail("ENCODING_FAILED", &e.to_string(), 2),
    }
}

/// What a verification trusts besides the journal: a checkpoint (and the key it must be
/// signed with).
struct Trust<'a> {
    checkpoint: Option<&'a checkpoint::Checkpoint>,
    public_key: Option<&'a str>,
    allow_unproven_tail: bool,
}

impl Trust<'_> {
    /// Checks the checkpoint (if any) against `records`: its signature, then the records it
    /// covers. Returns what to report.
    fn check(&self, records: &[ro_core::Record]) -> Result<serde_json::Value, ExitCode> {
        let covered = self.checkpoint.map_or(0, |cp| cp.size);
        let hashes: Vec<ro_core::Digest> = records
            .iter()
            .take(usize::try_from(covered).unwrap_or(usize::MAX))
            .map(|r| r.hash)
            .collect();
        self.check_hashes(records.first(), &hashes, records.len() as u64)
    }

    /// As [`Trust::check`] from a journal's first record, the hashes of the records the
    /// checkpoint covers, and how many records there are.
    fn check_hashes(
        &self,
        first: Option<&ro_core::Record>,
        hashes: &[ro_core::Digest],
        total: u64,
    ) -> Result<serde_json::Value, ExitCode> {
        let Some(cp) = self.checkpoint else {
            return Ok(serde_json::Value::Null);
        };
        let checked = cp
            .verify_signature(self.public_key)
            .and_then(|()| cp.check_hashes(first, hashes, total, self.allow_unproven_tail));
        match checked {
            Ok(tail) => Ok(serde_json::json!({
                "size": cp.size, "merkle_root": cp.merkle_root, "public_key": cp.public_key,
                "key_trusted": self.public_key.is_some(), "unproven_tail": tail,
            })),
            Err(e) => Err(fail(e.code(), &e.to_string(), 1)),
        }
    }
}

fn read_checkpoint(file: &Path) -> Result<checkpoint::Checkpoint, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        fail(
            "INVALID_ARGUMENT",
            &format!("checkpoint {}: {e}", file.display()),
            2,
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        fail(
            "CHECKPOINT_INVALID",
            &format!("checkpoint {}: {e}", file.display()),
            1,
        )
    })
}

/// `ro verify --export FILE`: an export's chain (every line, its hash, its link), checked
/// without a store, and against a checkpoint or an anchor when given.
fn verify_export(
    file: &Path,
    anchor: Option<(u64, ro_core::Digest)>,
    trust: &Trust<'_>,
) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            return fail(
                "INVALID_ARGUMENT",
                &format!("export {}: {e}", file.display()),
                2,
            );
        }
    };
    let journal = match ro_core::Journal::import_jsonl(&text) {
        Ok(journal) => journal,
        Err(e) => return fail("JOURNAL_DAMAGED", &e.to_string(), 1),
    };
    let records = journal.records();
    if let Some(code) = check_anchor(&journal, anchor) {
        return code;
    }
    let checkpoint = match trust.check(records) {
        Ok(report) => report,
        Err(code) => return code,
    };
    let head = journal.head();
    print_json(&serde_json::json!({
        "ok": true,
        "verified": { "records": records.len(), "head_seq": head.seq, "head_hash": head.hash },
        "checkpoint": checkpoint,
    }))
}

/// The anchor's failure, if the journal does not hold the anchored record.
fn check_anchor(
    journal: &ro_core::Journal,
    anchor: Option<(u64, ro_core::Digest)>,
) -> Option<ExitCode> {
    let found = anchor.and_then(|(seq, _)| journal.get(seq)).map(|r| r.hash);
    anchor_failure(anchor, found, journal.head().seq)
}

/// The anchor's failure, given the hash the journal holds at the anchor's seq (`None`: it
/// ends at `head`, before it).
fn anchor_failure(
    anchor: Option<(u64, ro_core::Digest)>,
    found: Option<ro_core::Digest>,
    head: u64,
) -> Option<ExitCode> {
    let (seq, hash) = anchor?;
    match found {
        None => Some(fail(
            "ANCHOR_MISSING",
            &format!(
                "the journal ends at seq {head}, before the anchor's seq {seq}: records were removed"
            ),
            1,
        )),
        Some(found) if found != hash => Some(fail(
            "ANCHOR_MISMATCH",
            &format!(
                "record {seq} has hash {found}, the anchor says {hash}: the journal was rewritten"
            ),
            1,
        )),
        Some(_) => None,
    }
}

/// `ro proof …`.
/// Every record's hash, in seq order, and the first record (the plane's id), from one read
/// of the journal that checks the chain and holds no record: what checkpoints and proofs are
/// made of (32 bytes a record).
fn journal_hashes(
    path: &Location,
) -> Result<(Option<ro_core::Record>, Vec<ro_core::Digest>), ro_bindings::store::StoreError> {
    let mut first = None;
    let mut hashes = Vec::new();
    Store::verify_journal(path, &mut |record| {
        if record.seq == 1 {
            first = Some(record.clone());
        }
        hashes.push(record.hash);
    })?;
    Ok((first, hashes))
}

fn proof_command(path: &Location, proof: ProofCommand) -> ExitCode {
    if let ProofCommand::Verify {
        proof,
        checkpoint,
        old_checkpoint,
        public_key,
    } = proof
    {
        return verify_proof(
            &proof,
            &checkpoint,
            old_checkpoint.as_deref(),
            public_key.as_deref(),
        );
    }
    let hashes = match journal_hashes(path) {
        Ok((_, hashes)) => hashes,
        Err(e) => return host_fail(&HostError::from(e)),
    };
    let whole = hashes.len() as u64;
    match proof {
        ProofCommand::Inclusion { seq, size } => {
            let size = size.unwrap_or(whole);
            match checkpoint::inclusion(&hashes, seq, size) {
                Some(p) => print_json(&p),
                None => fail(
                    "INVALID_ARGUMENT",
                    &format!(
                        "no record {seq} in a tree of {size} records (the journal holds {whole})"
                    ),
                    2,
                ),
            }
        }
        ProofCommand::Consistency { old, new } => {
            let new = new.unwrap_or(whole);
            match checkpoint::consistency(&hashes, old, new).filter(|_| old <= new) {
                Some(p) => print_json(&p),
                None => fail(
                    "INVALID_ARGUMENT",
                    &format!(
                        "no consistency proof from {old} to {new} records (the journal holds {whole})"
                    ),
                    2,
                ),
            }
        }
        ProofCommand::Verify { .. } => ExitCode::from(2),
    }
}

fn verify_proof(
    proof: &Path,
    checkpoint_file: &Path,
    old_checkpoint: Option<&Path>,
    public_key: Option<&str>,
) -> ExitCode {
    let text = match std::fs::read_to_string(proof) {
        Ok(text) => text,
        Err(e) => {
            return fail(
                "INVALID_ARGUMENT",
                &format!("proof {}: {e}", proof.display()),
                2,
            );
        }
    };
    let new = match read_checkpoint(checkpoint_file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = new.verify_signature(public_key) {
        return fail(e.code(), &e.to_string(), 1);
    }
    let checked = match old_checkpoint {
        None => serde_json::from_str::<checkpoint::InclusionProof>(&text)
            .map_err(|e| checkpoint::CheckpointError::Proof(format!("not an inclusion proof: {e}")))
            .and_then(|p| p.verify(&new)),
        Some(old_file) => {
            let old = match read_checkpoint(old_file) {
                Ok(c) => c,
                Err(code) => return code,
            };
            old.verify_signature(public_key)
                .and_then(|()| {
                    serde_json::from_str::<checkpoint::ConsistencyProof>(&text).map_err(|e| {
                        checkpoint::CheckpointError::Proof(format!("not a consistency proof: {e}"))
                    })
                })
                .and_then(|p| p.verify(&old, &new))
        }
    };
    match checked {
        Ok(()) => print_json(
            &serde_json::json!({ "ok": true, "proof": "verified", "key_trusted": public_key.is_some() }),
        ),
        Err(e) => fail(e.code(), &e.to_string(), 1),
    }
}

/// `ro verify`: the whole journal re-read and every snapshot checked; with an anchor, the
/// anchored record must be there with the anchored hash; with a checkpoint, the journal must
/// match it.
fn verify(path: &Location, anchor: Option<(u64, ro_core::Digest)>, trust: &Trust<'_>) -> ExitCode {
    // One pass over the records, none held: what the anchor and the checkpoint need is taken
    // as each goes by (the anchored record's hash; the first record and the hashes the
    // checkpoint covers).
    let covered = trust.checkpoint.map_or(0, |cp| cp.size);
    let mut first = None;
    let mut hashes = Vec::new();
    let mut anchored = None;
    let opened = Store::open_verifying(path, &mut |record| {
        if record.seq == 1 {
            first = Some(record.clone());
        }
        if record.seq <= covered {
            hashes.push(record.hash);
        }
        if anchor.is_some_and(|(seq, _)| seq == record.seq) {
            anchored = Some(record.hash);
        }
    });
    let store = match opened {
        Ok((store, _)) => store,
        Err(
            e @ (ro_bindings::store::StoreError::Damaged { .. }
            | ro_bindings::store::StoreError::SnapshotMismatch { .. }),
        ) => {
            return fail(e.code(), &e.to_string(), 1);
        }
        Err(e) => return host_fail(&HostError::from(e)),
    };
    if let Some(code) = anchor_failure(anchor, anchored, store.head().seq) {
        return code;
    }
    let checkpoint = match trust.check_hashes(first.as_ref(), &hashes, store.head().seq) {
        Ok(report) => report,
        Err(code) => return code,
    };
    match host::status(&store) {
        Ok(status) => {
            let anchor = anchor.map(|(seq, hash)| {
                serde_json::json!({ "seq": seq, "hash": hash.to_string(), "matched": true })
            });
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::json!({ "ok": true, "verified": status, "anchor": anchor, "checkpoint": checkpoint })
            );
            ExitCode::SUCCESS
        }
        Err(e) => host_fail(&e),
    }
}

/// `ro --server URL …`: the command through a running server.
fn remote(url: &str, token: &str, command: Command) -> ExitCode {
    use ro_bindings::client::{Client, ClientError};
    let client = match Client::new(url, token) {
        Ok(c) => c,
        Err(e) => return fail(e.code(), &e.to_string(), 2),
    };
    if token.is_empty() {
        return fail(
            "INVALID_ARGUMENT",
            "--server needs --token (or $RO_TOKEN): the server names the actor by its token",
            2,
        );
    }
    let client_fail = |e: ClientError| fail(e.code(), &e.to_string(), 2);
    let stdout = std::io::stdout();
    match command {
        Command::Apply { history: true, .. } => fail(
            "INVALID_ARGUMENT",
            "--history is the server's to allow (`ro serve --history`), not a client's",
            2,
        ),
        Command::Apply { actor: Some(_), .. } => fail(
            "INVALID_ARGUMENT",
            "--actor is the console's: through --server the actor is the token's principal",
            2,
        ),
        Command::Apply {
            reason: Some(_), ..
        } => fail(
            "INVALID_ARGUMENT",
            "--reason is the console's: through --server each document gives its own \"reason\"",
            2,
        ),
        Command::Apply {
            actor: None, file, ..
        } => {
            let input = match host::open_input(file.as_deref()) {
                Ok(i) => i,
                Err(e) => return host_fail(&e),
            };
            match client.apply(input, &mut stdout.lock()) {
                Ok(t) if t.refused == 0 && t.pending == 0 => ExitCode::SUCCESS,
                Ok(t) if t.refused == 0 => ExitCode::from(3),
                Ok(_) => ExitCode::from(1),
                Err(e) => client_fail(e),
            }
        }
        Command::Status { at_seq: None } => match client.get_json("/v1/status") {
            Ok((true, status)) => print_json(&status),
            Ok((false, refusal)) => print_refusal(&refusal),
            Err(e) => client_fail(e),
        },
        Command::Audit { admin: false } => {
            let mut after = 0u64;
            let mut out = stdout.lock();
            loop {
                let page = match client.get_json(&format!("/v1/audit?after={after}&limit=1000")) {
                    Ok((true, page)) => page,
                    Ok((false, refusal)) => return print_refusal(&refusal),
                    Err(e) => return client_fail(e),
                };
                let records = page
                    .get("records")
                    .and_then(serde_json::Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if records.is_empty() {
                    return ExitCode::SUCCESS;
                }
                for record in &records {
                    // The export line: canonical JSON, as `ro audit` prints it.
                    if writeln!(out, "{}", host::response_text(record)).is_err() {
                        return ExitCode::SUCCESS;
                    }
                }
                after = page
                    .get("next_after")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(u64::MAX);
            }
        }
        Command::Report { report }
            if !matches!(report, Report::Signatures { .. } | Report::Incidents { .. }) =>
        {
            let body = report.query().to_string();
            match client.request("POST", "/v1/queries", "application/json", "", &body) {
                Ok(answer) => {
                    let response: serde_json::Value =
                        serde_json::from_str(&answer.body).unwrap_or(serde_json::Value::Null);
                    let _ = writeln!(
                        stdout.lock(),
                        "{}",
                        response.get("result").unwrap_or(&response)
                    );
                    if answer.status == 200 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => client_fail(e),
            }
        }
        _ => fail(
            "INVALID_ARGUMENT",
            "through --server: apply, status, audit and report (not status --at-seq, --admin \
             audits, signature logs or incident files); the rest work on the store file",
            2,
        ),
    }
}

/// A server's refusal, printed as the console prints one (exit 1).
fn print_refusal(refusal: &serde_json::Value) -> ExitCode {
    let _ = writeln!(std::io::stdout(), "{}", host::response_text(refusal));
    ExitCode::from(1)
}

/// The time a console command is dated: `--at`, or the clock.
fn console_time(at: Option<&str>) -> Result<Timestamp, ExitCode> {
    match at.map(Timestamp::parse_rfc3339).transpose() {
        Ok(at) => Ok(at.unwrap_or_else(clock)),
        Err(e) => Err(fail(
            "INVALID_ARGUMENT",
            &format!("--at: {e}; use RFC 3339"),
            2,
        )),
    }
}

/// Applies `lines` at the console as `actor` (a human administrator) at `at` (or the clock),
/// printing each response. Exit 0 when all were accepted, 1 when one was refused.
fn console(
    path: &Location,
    actor: &str,
    at: Option<&str>,
    lines: &[serde_json::Value],
) -> ExitCode {
    let actor = match actor_arg(actor, "--actor") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let now = match console_time(at) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let run = || -> Result<bool, HostError> {
        let _lock = ro_bindings::store::lock(path, false)?;
        let mut store = Store::open(path)?;
        // Decide on the tail: the write lock first (another writer may have appended since the
        // open), so the commit cannot conflict.
        store.begin(|_| false)?;
        let mut responses = Vec::new();
        let mut all_ok = true;
        for line in lines {
            let (ok, response) =
                host::execute_line(store.kernel_mut(), &line.to_string(), Some(&actor), now);
            all_ok &= ok;
            responses.push(response);
        }
        store.commit()?;
        for response in &responses {
            writeln!(std::io::stdout(), "{}", host::response_text(response))?;
        }
        Ok(all_ok)
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => host_fail(&e),
    }
}

/// `ro token issue`: a new id and secret; the keyed hash of the secret is kept first (an
/// orphan hash, should the journal refuse, authenticates nothing: the plane never issued
/// its id), then ISSUE_TOKEN is recorded, then the token is printed, once.
fn issue_token(
    path: &Location,
    principal: &str,
    expires: Option<&str>,
    (actor, reason): (&str, &str),
    at: Option<&str>,
) -> ExitCode {
    let admin = match actor_arg(actor, "--actor") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let now = match console_time(at) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let run = || -> Result<(bool, serde_json::Value), HostError> {
        let _lock = ro_bindings::store::lock(path, false)?;
        let mut store = Store::open(path)?;
        // Decide on the tail: the write lock first (another writer may have appended since the
        // open), so the commit cannot conflict.
        store.begin(|_| false)?;
        let keys = store.keys().cloned().ok_or_else(|| {
            HostError::Store(ro_bindings::store::StoreError::KeysMissing(
                path.key_file().to_owned(),
            ))
        })?;
        let random = ro_bindings::keys::Keys::draw()?;
        let token_id = format!("tok-{}", hex(random.checkpoint.get(..8).unwrap_or(&[])));
        let secret = random.confirmation;
        let line = serde_json::json!({ "type": "ISSUE_TOKEN", "token_id": token_id,
                                       "principal": principal, "expires_at": expires,
                                       "reason": reason });
        store.put_token_mac(&token_id, &keys.token_mac(&secret))?;
        let (ok, mut response) =
            host::execute_line(store.kernel_mut(), &line.to_string(), Some(&admin), now);
        store.commit()?;
        if ok && let Some(map) = response.as_object_mut() {
            map.insert(
                "token".into(),
                serde_json::Value::String(format!("ro1.{token_id}.{}", hex(&secret))),
            );
            map.insert("token_id".into(), serde_json::Value::String(token_id));
        }
        Ok((ok, response))
    };
    match run() {
        Ok((ok, response)) => {
            let _ = writeln!(std::io::stdout(), "{}", host::response_text(&response));
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => host_fail(&e),
    }
}

const DEMO: &str = include_str!("demo.jsonl");

fn demo(path: &Location) -> ExitCode {
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
        writeln!(out, "ro demo on {path}")?;
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
