//! `ro serve`: the plane as an always-on service over HTTP/1.1.
//!
//! - **One writer.** A thread owns the [`Store`]: it takes what the connections queued (a
//!   bounded queue: a full one is answered 503 with `Retry-After`), executes each line in
//!   arrival order, commits the whole batch in one transaction (group commit) and only then
//!   answers; a response is never sent for an event that is not durable. Between batches it
//!   answers queries and reads of the journal.
//! - **Probes without the writer.** After every commit and every tick the writer publishes a
//!   view (the status contract, freshness, the head, the tokens the plane knows); `GET
//!   /ops/status`, `/healthz`, `/health` and `/metrics` read it and never wait.
//! - **Authenticated principals.** Every `/v1` request carries `Authorization: Bearer
//!   ro1.<token id>.<secret>` (`ro token issue`). The store keeps a keyed hash of each secret
//!   outside the journal; the plane knows each token's principal, expiry and revocation. The
//!   request's actor is the token's principal with its registered kind, whatever the body
//!   names (see [`host::Caller`]).
//! - **The host owns time.** Commands are dated by the host clock; a document's `at` is
//!   accepted within the configured skew (refused `CLOCK_SKEW` outside it), and one dated
//!   ahead of the host is dated at the host's time: nothing a client sends records a time the
//!   host has not reached. `--history` admits any earlier time (an explicit import mode).
//! - **A scheduler that fires.** Every second (by default) the writer sends `TICK` as the
//!   clock principal: due occurrences become runs, timeouts and retries fire (see
//!   [`host::execute_line`]). A tick with nothing due appends nothing.
//! - **Live events.** Every committed record's export line is published; `GET /v1/events`
//!   streams them as Server-Sent Events with the record's seq as the event id, resumable
//!   with `Last-Event-ID` or `?after=SEQ`.

#![allow(
    clippy::result_large_err,
    reason = "a handler's refusal is the HTTP response itself, built once on the way out"
)]

use std::{
    collections::{BTreeMap, VecDeque},
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, Path as UrlPath, Query, Request, State, rejection::BytesRejection,
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use ro_core::{Actor, ActorId, ActorKind, Timestamp};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::{
    host::{self, Caller, Served},
    protocol::{self, Skew},
    store::{self, Location, Store, StoreError},
};

/// How `ro serve` runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The most a document's `at` may stray from the host clock, in seconds.
    pub skew_seconds: i64,
    /// Admit documents dated any time before the host clock (importing a history).
    pub history: bool,
    /// How often the clock ticks the plane; `None`: never (no scheduler).
    pub tick_every: Option<Duration>,
    /// Who ticks: a registered service principal allowed `TICK`, `TRIGGER_RUN` and
    /// `START_ATTEMPT` (the operator role).
    pub clock_principal: ActorId,
    /// Answer the health probes without a token.
    pub open_probes: bool,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// The most requests waiting for the writer.
    pub queue: usize,
    /// The longest a request may take, reading its body included.
    pub request_timeout: Duration,
    /// The trading calendar `/ops/status` answers by (`MARKET_CLOSED` outside its sessions);
    /// `None`: the alert routing's calendar, if it names one.
    pub calendar: Option<ro_jobs::CalendarName>,
    /// A shell command run for each alert raised, with the alert's record (one export line)
    /// on its standard input and `RO_ALERT_SEQ` in its environment; `None`: no delivery.
    pub alert_hook: Option<String>,
    /// Where every committed record is published (the outbox); `None`: nowhere. An empty
    /// subject means `ro.journal.<plane>`: the plane's name on PostgreSQL, the first 16 hex
    /// digits of its id on SQLite.
    pub outbox: Option<OutboxConfig>,
    /// The bus check (drift and consumer lag); `None`: none.
    pub bus: Option<BusCheck>,
    /// The services mission control watches (`--services FILE`); `None`: none.
    pub services: Option<ServicesFile>,
}

/// The host's periodic look at the bus: every `every`, the plane's streams against NATS
/// JetStream. A stream that does not hold the plane's settings (changed, created or deleted
/// outside the plane) is recorded once per difference as a `bus_drift` deviation with both
/// settings; with `restore`, the plane's settings are then put back (a narrowing never is).
/// The slowest consumer's pending count of each stream is reported as its `STREAM_LAG` signal
/// when it changes. Both go through the plane as the clock principal.
#[derive(Clone, Debug)]
pub struct BusCheck {
    /// The NATS server.
    pub url: String,
    /// Prefixed to every JetStream stream name and subject (as `ro bus --prefix`).
    pub prefix: String,
    /// How often to look.
    pub every: Duration,
    /// Put the plane's settings back after recording the drift (otherwise an operator
    /// decides: `ro bus apply`).
    pub restore: bool,
}

impl Config {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Config {
        Config {
            listen,
            skew_seconds: DEFAULT_SKEW_SECONDS,
            history: false,
            tick_every: Some(Duration::from_secs(1)),
            clock_principal: ActorId::new("ro-clock").unwrap_or_else(|_| unreachable_id()),
            open_probes: true,
            body_limit: 8 << 20,
            queue: 1024,
            request_timeout: Duration::from_secs(30),
            calendar: None,
            alert_hook: None,
            outbox: None,
            bus: None,
            services: None,
        }
    }
}

#[allow(clippy::panic)] // a constant id that is valid; never reached
fn unreachable_id() -> ActorId {
    panic!("the default clock principal's id is valid")
}

pub use crate::protocol::DEFAULT_SKEW_SECONDS;

/// The most requests waiting in the lane of those that make the plane safer.
const URGENT_QUEUE: usize = 64;

/// The most jobs one group commit takes from the queue.
const MAX_JOBS: usize = 512;

/// The most records one page of the journal carries (audit pages, SSE catch-up).
const MAX_PAGE: usize = 1000;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store failed, or another writer holds it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding the address or running the runtime failed.
    #[error("serve: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration names something the plane does not hold.
    #[error("serve: {0}")]
    Config(String),
}

impl ServeError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Store(e) => e.code(),
            ServeError::Io(_) => "IO_ERROR",
            ServeError::Config(_) => "INVALID_ARGUMENT",
        }
    }
}

/// A token as the plane knows it, for authenticating without the writer.
#[derive(Debug, Clone)]
struct TokenView {
    actor: Actor,
    expires_at: Option<Timestamp>,
    revoked: bool,
}

/// What the writer publishes after each commit and tick.
#[derive(Debug, Clone)]
struct View {
    head_seq: u64,
    /// `GET /ops/status`'s body.
    status: Arc<str>,
    /// No critical component is stale.
    fresh: bool,
    /// `GET /healthz`'s body.
    healthz: Arc<str>,
    /// The plane's health signals, flattened for `/metrics`.
    signals: Vec<(String, i64)>,
    tokens: BTreeMap<String, TokenView>,
}

/// A fixed-bucket histogram.
struct Histogram {
    bounds: &'static [u64],
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [u64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: u64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b)
            && let Some(c) = self.counts.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text, bounds divided by `scale` (microseconds to seconds: 1e6).
    fn render(&self, out: &mut String, name: &str, help: &str, scale: u64) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                decimal(*bound, scale)
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            decimal(self.sum.load(Ordering::Relaxed), scale)
        );
        let _ = writeln!(out, "{name}_count {total}");
    }
}

/// `value / scale` as decimal text, without floating point.
fn decimal(value: u64, scale: u64) -> String {
    if scale <= 1 {
        return value.to_string();
    }
    let digits = scale.ilog10() as usize;
    let fraction = format!("{:0digits$}", value % scale);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        (value / scale).to_string()
    } else {
        format!("{}.{fraction}", value / scale)
    }
}

const LATENCY_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];
const BATCH: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384];

/// What `/metrics` counts.
struct Metrics {
    /// Lines by type and outcome.
    commands: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    commit_us: Histogram,
    batch_lines: Histogram,
    sse_subscribers: AtomicUsize,
    queue_full: AtomicU64,
    commit_failures: AtomicU64,
    ticks: AtomicU64,
    /// Alerts the hook delivered.
    hook_delivered: AtomicU64,
    /// Alerts the hook failed to deliver (or timed out on).
    hook_failed: AtomicU64,
    /// Alerts not handed to the hook: its queue was full.
    hook_dropped: AtomicU64,
    /// The last seq the outbox's bus acknowledged.
    outbox_published: AtomicU64,
    /// Whether the outbox is connected to its bus.
    outbox_connected: AtomicBool,
    /// The check of every stored record run at start ([`Store::verify_journal`]):
    /// [`CHECK_RUNNING`], [`CHECK_VERIFIED`] or [`CHECK_DAMAGED`].
    journal_check: AtomicU8,
    /// The seq that check reached.
    journal_verified: AtomicU64,
}

/// One line on the host's standard error, the operator's log (the check at start reports
/// there as well as in `/health`, which nobody may be polling).
#[allow(clippy::print_stderr)] // the log is the host's standard error
fn log_line(line: &str) {
    eprintln!("{line}");
}

const CHECK_RUNNING: u8 = 0;
const CHECK_VERIFIED: u8 = 1;
const CHECK_DAMAGED: u8 = 2;

/// Committed records as `(seq, export line)`, in order.
type Lines = Arc<Vec<(u64, Arc<str>)>>;

/// A request's reply channel and its answers, held until the commit.
type Held = (oneshot::Sender<Result<Vec<Served>, String>>, Vec<Served>);

/// What the handlers share.
struct Shared {
    jobs: mpsc::Sender<Job>,
    /// The lane of requests that make the plane safer (a lockdown, the kill switch, a
    /// pause): taken before the queue at every batch, so a full queue never keeps them out.
    urgent: mpsc::Sender<Job>,
    view: RwLock<Arc<View>>,
    records: broadcast::Sender<Lines>,
    metrics: Metrics,
    /// The kept token hashes (reloaded when other writers' records arrive: a token issued
    /// at another host's console).
    macs: RwLock<Arc<BTreeMap<String, [u8; 32]>>>,
    mac_key: crate::keys::Keys,
    /// The last commit succeeded.
    committing: AtomicBool,
    /// Alerts for the hook to deliver, when one is configured.
    alert_hook: Option<std::sync::mpsc::SyncSender<(u64, Arc<str>)>>,
    /// Why the scheduler stopped, when it did.
    scheduler: Mutex<Option<String>>,
    /// Why the outbox last failed to publish (the bus away, a refusal).
    outbox_error: Mutex<Option<String>>,
    /// Why the check of every stored record failed, once it has.
    journal_error: Mutex<Option<String>>,
    /// Mission control's watched services.
    mission: Option<Arc<mission::Mission>>,
    shutdown: watch::Receiver<bool>,
    config: Config,
}

/// Work for the writer.
enum Job {
    /// Lines of one request (with their line numbers in an NDJSON body), executed in
    /// order, answered after their commit.
    Lines {
        lines: Vec<(Option<u64>, String)>,
        caller: Caller,
        reply: oneshot::Sender<Result<Vec<Served>, String>>,
    },
    /// A query, answered from the committed state.
    Query {
        line: String,
        caller: Caller,
        reply: oneshot::Sender<Served>,
    },
    /// Export lines of the records after a seq (at most [`MAX_PAGE`]).
    Records {
        after: u64,
        limit: usize,
        reply: oneshot::Sender<Vec<(u64, Arc<str>)>>,
    },
    /// `ro status`'s summary of the committed plane.
    Status {
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// The clock.
    Tick,
    /// Answer and commit what is queued before this, then end.
    Stop,
    /// Nothing: wakes the writer to take the urgent lane.
    Wake,
    /// Another host committed: fold its records.
    Follow,
    /// Documents of the host itself (the bus check's observations), run as the clock
    /// principal; the answers after the commit.
    Internal {
        lines: Vec<String>,
        reply: oneshot::Sender<Vec<Value>>,
    },
    /// The plane's streams and their versions.
    Streams {
        reply: oneshot::Sender<Vec<(ro_admin::streams::StreamSpec, u32)>>,
    },
}

mod mission;
mod outbox;
pub use mission::{Service, ServicesFile};
pub use outbox::OutboxConfig;

/// Sends the host's own documents through the writer; their answers.
async fn internal(shared: &Shared, lines: Vec<String>) -> Vec<Value> {
    let (reply, answer) = oneshot::channel();
    if shared
        .jobs
        .send(Job::Internal { lines, reply })
        .await
        .is_err()
    {
        return Vec::new();
    }
    answer.await.unwrap_or_default()
}

/// The bus check ([`BusCheck`]), until shutdown.
async fn bus_check(shared: Arc<Shared>, check: BusCheck) {
    let mut stop = shared.shutdown.clone();
    // What was last recorded per stream: the difference, and the lag.
    let mut drift: BTreeMap<String, String> = BTreeMap::new();
    let mut lags: BTreeMap<String, u64> = BTreeMap::new();
    let mut js = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(check.every) => {}
            _ = stop.changed() => return,
        }
        if js.is_none() {
            js = crate::bus::connect(&check.url).await.ok();
        }
        let Some(bus) = &js else { continue };
        let (reply, answer) = oneshot::channel();
        if shared.jobs.send(Job::Streams { reply }).await.is_err() {
            return;
        }
        let Ok(specs) = answer.await else { return };
        let plan = match crate::bus::plan_on(bus, &specs, &check.prefix).await {
            Ok(plan) => plan,
            Err(_) => {
                // The bus went away: connect again next time.
                js = None;
                continue;
            }
        };
        let mut lines = Vec::new();
        let mut restores = Vec::new();
        for (item, config) in plan {
            let field = |key: &str| item.get(key).cloned().unwrap_or(Value::Null);
            let text = |key: &str| field(key).as_str().unwrap_or_default().to_owned();
            let (stream, action) = (text("stream"), text("action"));
            let (before, after) = (field("before"), field("after"));
            if action == "none" {
                drift.remove(&stream);
                continue;
            }
            let seen = format!("{action} {before} {after}");
            if drift.get(&stream) != Some(&seen) {
                let then = if check.restore && config.is_some() {
                    "restoring the plane's settings"
                } else {
                    "waiting for an operator (`ro bus apply`)"
                };
                let summary = format!(
                    "stream {stream} does not hold the plane's settings on the bus ({}): {action}; bus {before}, plane {after}; {then}",
                    text("jetstream"),
                );
                lines.push(
                    json!({ "type": "RECORD_DEVIATION", "deviation_type": "bus_drift",
                            "summary": summary, "reason": "the host's bus check" })
                    .to_string(),
                );
                drift.insert(stream, seen);
            }
            if check.restore && config.is_some() {
                restores.push((item, config));
            }
        }
        for (stream, lag) in crate::bus::lag_on(bus, &specs, &check.prefix).await {
            if lags.get(&stream) != Some(&lag) {
                lines.push(
                    json!({ "type": "REPORT_SIGNAL", "signal": "STREAM_LAG", "stream": stream,
                            "lag_events": lag })
                    .to_string(),
                );
                lags.insert(stream, lag);
            }
        }
        if !lines.is_empty() {
            // Recorded before anything is restored: the journal says what was seen first.
            internal(&shared, lines).await;
        }
        for (item, config) in restores {
            let _ = crate::bus::carry_out(bus, &item, config).await;
        }
    }
}

fn clock() -> Timestamp {
    let now = time::OffsetDateTime::now_utc();
    Timestamp::from_unix_nanos(now.unix_timestamp_nanos()).unwrap_or(Timestamp::MIN)
}

/// Runs the server on the store at `at` until SIGTERM or SIGINT: stops accepting, answers
/// every request already accepted, commits, returns. `ready` is called with the bound address
/// once it accepts connections.
///
/// On an SQLite store the server is the only writer (it holds the lock file). On PostgreSQL
/// any number of servers and consoles write the same plane: before each batch the writer
/// takes the plane's lock and folds what the others committed; between batches it follows
/// their commits (notifications, and the clock's tick as the fallback), and only the holder
/// of the plane's scheduler lease ticks.
pub fn serve(
    at: &Location,
    config: Config,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let lock = store::lock(at, true)?;
    let mut store = Store::open_lean(at)?;
    let keys = store
        .keys()
        .cloned()
        .ok_or_else(|| StoreError::KeysMissing(at.key_file().to_owned()))?;
    let macs = store.token_macs()?;
    let mut config = config;
    if let Some(outbox) = &mut config.outbox {
        if outbox.subject.is_empty() {
            let plane = match at.postgres() {
                Some(pg) => pg.plane().to_owned(),
                None => {
                    let id = store.kernel().state().signing().plane_id().to_string();
                    let hex = id.rsplit(':').next().unwrap_or_default();
                    hex.chars().take(16).collect()
                }
            };
            outbox.subject = format!("ro.journal.{plane}");
        }
        outbox.check().map_err(ServeError::Config)?;
    }
    if let Some(name) = &config.calendar
        && store.kernel().state().jobs().calendar(name).is_none()
    {
        return Err(ServeError::Config(format!(
            "--calendar {name}: no such calendar; define it with DEFINE_CALENDAR"
        )));
    }
    let (hook_tx, hook_rx) = std::sync::mpsc::sync_channel(HOOK_QUEUE);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (jobs_tx, jobs_rx) = mpsc::channel(config.queue.max(1));
    let (urgent_tx, urgent_rx) = mpsc::channel(URGENT_QUEUE);
    let (records_tx, _) = broadcast::channel(1024);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        jobs: jobs_tx,
        urgent: urgent_tx,
        view: RwLock::new(Arc::new(view_of(&store, &config, None, clock()))),
        records: records_tx,
        metrics: Metrics {
            commands: Mutex::new(BTreeMap::new()),
            commit_us: Histogram::new(LATENCY_US),
            batch_lines: Histogram::new(BATCH),
            sse_subscribers: AtomicUsize::new(0),
            queue_full: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            hook_delivered: AtomicU64::new(0),
            hook_failed: AtomicU64::new(0),
            hook_dropped: AtomicU64::new(0),
            outbox_published: AtomicU64::new(0),
            outbox_connected: AtomicBool::new(false),
            journal_check: AtomicU8::new(CHECK_RUNNING),
            journal_verified: AtomicU64::new(0),
        },
        alert_hook: config.alert_hook.is_some().then_some(hook_tx),
        macs: RwLock::new(Arc::new(macs)),
        mac_key: keys,
        committing: AtomicBool::new(true),
        scheduler: Mutex::new(None),
        outbox_error: Mutex::new(None),
        journal_error: Mutex::new(None),
        mission: config
            .services
            .clone()
            .map(|file| Arc::new(mission::Mission::new(file))),
        shutdown: stop_rx,
        config: config.clone(),
    });
    let writer = {
        let shared = Arc::clone(&shared);
        let at = at.clone();
        std::thread::Builder::new()
            .name("ro-writer".into())
            .spawn(move || Writer::new(store, at, shared).run(jobs_rx, urgent_rx))?
    };
    // The host opened from its snapshot, trusting the records before it; every record is
    // re-checked here, beside the service. A damaged journal fails `/health` and says where.
    {
        let shared = Arc::clone(&shared);
        let at = at.clone();
        std::thread::Builder::new()
            .name("ro-verify".into())
            .spawn(move || {
                let started = Instant::now();
                let metrics = &shared.metrics;
                match Store::verify_journal(&at, &mut |_| {}) {
                    Ok(head) => {
                        metrics.journal_verified.store(head.seq, Ordering::Relaxed);
                        metrics
                            .journal_check
                            .store(CHECK_VERIFIED, Ordering::Relaxed);
                        log_line(&format!(
                            "ro serve: every record checked up to seq {} in {} ms",
                            head.seq,
                            started.elapsed().as_millis()
                        ));
                    }
                    Err(e) => {
                        metrics
                            .journal_check
                            .store(CHECK_DAMAGED, Ordering::Relaxed);
                        if let Ok(mut error) = shared.journal_error.lock() {
                            *error = Some(e.to_string());
                        }
                        log_line(&format!("ro serve: the journal is damaged: {e}"));
                    }
                }
            })?;
    }
    // Other hosts' commits wake the writer at once (it reads the rows on every tick anyway,
    // so a lost notification costs at most a tick).
    let follower = match at.postgres() {
        Some(pg) => {
            let shared = Arc::clone(&shared);
            let mut follower = crate::pg::Follower::new(pg);
            Some(
                std::thread::Builder::new()
                    .name("ro-follower".into())
                    .spawn(move || {
                        while !*shared.shutdown.borrow() {
                            if follower.wait(Duration::from_millis(250)) {
                                let _ = shared.jobs.try_send(Job::Follow);
                            }
                        }
                    })?,
            )
        }
        None => None,
    };
    let hook = match config.alert_hook.clone() {
        Some(command) => {
            let shared = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("ro-alert-hook".into())
                    .spawn(move || deliver_alerts(&command, &hook_rx, &shared.metrics))?,
            )
        }
        None => None,
    };
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        ready(listener.local_addr()?);
        // The clock also refreshes the probes' view (freshness is a matter of time), so it
        // runs, once a second, even without a scheduler.
        let every = config.tick_every.unwrap_or(Duration::from_secs(1));
        let ticker = {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    // A full queue skips a tick: the next one catches up what is due.
                    let _ = shared.jobs.try_send(Job::Tick);
                }
            })
        };
        let outbox = shared
            .config
            .outbox
            .clone()
            .map(|config| tokio::spawn(outbox::run(Arc::clone(&shared), config)));
        let bus = shared
            .config
            .bus
            .clone()
            .map(|check| tokio::spawn(bus_check(Arc::clone(&shared), check)));
        let watchers = shared
            .mission
            .as_ref()
            .map(|m| mission::spawn(&shared, m))
            .unwrap_or_default();
        let app = router(Arc::clone(&shared));
        // Small writes (an event on a live stream, a short answer) leave at once: with Nagle's
        // algorithm one waits for the peer's delayed acknowledgement of the last (40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                signalled().await;
                // Live streams end, so the graceful shutdown does not wait for them.
                let _ = stop_tx.send(true);
            })
            .await;
        ticker.abort();
        if let Some(outbox) = outbox {
            outbox.abort();
        }
        if let Some(bus) = bus {
            bus.abort();
        }
        for watcher in watchers {
            watcher.abort();
        }
        served
    });
    // The connections are gone; the writer answers and commits what is queued before the
    // stop, then ends.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let _ = shared.jobs.blocking_send(Job::Stop);
    drop(shared);
    let _ = writer.join();
    if let Some(follower) = follower {
        let _ = follower.join();
    }
    // The writer held the last sender: the hook delivers what is queued, then ends.
    if let Some(hook) = hook {
        let _ = hook.join();
    }
    drop(lock);
    Ok(outcome?)
}

async fn signalled() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The most alerts waiting for the hook (more are counted as dropped: the journal and the
/// `ALERTS` query still hold them).
const HOOK_QUEUE: usize = 256;

/// The longest one run of the alert hook may take before it is killed.
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the alert hook once per alert, in order, until the writer is gone.
fn deliver_alerts(
    command: &str,
    alerts: &std::sync::mpsc::Receiver<(u64, Arc<str>)>,
    metrics: &Metrics,
) {
    while let Ok((seq, line)) = alerts.recv() {
        let delivered = run_hook(command, seq, &line);
        let outcome = if delivered {
            &metrics.hook_delivered
        } else {
            &metrics.hook_failed
        };
        outcome.fetch_add(1, Ordering::Relaxed);
    }
}

/// `sh -c COMMAND` with the alert's line on standard input: delivered when it exits 0 within
/// [`HOOK_TIMEOUT`].
fn run_hook(command: &str, seq: u64, line: &str) -> bool {
    use std::io::Write as _;
    let spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("RO_ALERT_SEQ", seq.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = spawned else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its input is no failure of ours.
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    let deadline = Instant::now() + HOOK_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The status contract, freshness and tokens at `now`.
fn view_of(store: &Store, config: &Config, scheduler: Option<&str>, now: Timestamp) -> View {
    let plane = store.kernel().state();
    let calendar = config
        .calendar
        .clone()
        .or_else(|| plane.alerts().config().calendar.clone());
    let query = ro_admin::PlaneQuery::OpsStatus { calendar };
    let clock = Actor::service(config.clock_principal.clone());
    let answer = plane
        .query(&query, &clock, now)
        .ok()
        .and_then(|a| serde_json::to_value(a).ok())
        .unwrap_or(Value::Null);
    let reasons: Vec<String> = answer
        .get("reason_codes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let fresh = !reasons.iter().any(|r| r.ends_with("_STALE"));
    let head = store.head();
    let state = answer.get("state").cloned().unwrap_or(Value::Null);
    let status = json!({
        "status": { "state": state, "reason_codes": reasons },
        "marketdata": { "is_fresh": fresh },
        "safety": answer.get("safety").cloned().unwrap_or(Value::Null),
        "observability": answer.get("observability").cloned().unwrap_or(Value::Null),
        "scheduler": { "running": scheduler.is_none() && config.tick_every.is_some(),
                       "waiting_for_release": plane.lockdown(),
                       "stopped_because": scheduler },
        "head_seq": head.seq,
        "as_of": now,
    });
    let healthz = json!({ "ok": fresh, "state": state, "head_seq": head.seq, "as_of": now });
    let mut signals = Vec::new();
    if let Some(o) = answer.get("observability") {
        flatten("ro_plane", o, &mut signals);
    }
    let principals = plane.policy().access().principals();
    let tokens = plane
        .credentials()
        .iter()
        .map(|(id, record)| {
            let kind = principals
                .get(&record.principal)
                .copied()
                .unwrap_or(ActorKind::Human);
            (
                id.to_string(),
                TokenView {
                    actor: Actor {
                        id: record.principal.clone(),
                        kind,
                    },
                    expires_at: record.expires_at,
                    revoked: record.revoked,
                },
            )
        })
        .collect();
    View {
        head_seq: head.seq,
        status: host::response_text(&status).into(),
        fresh,
        healthz: host::response_text(&healthz).into(),
        signals,
        tokens,
    }
}

/// The integer leaves of a JSON value as metric names (`prefix_key_key`).
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, i64)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let key: String = key
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                flatten(&format!("{prefix}_{key}"), value, out);
            }
        }
        Value::Number(n) => {
            if let Some(n) = n.as_i64() {
                out.push((prefix.to_owned(), n));
            }
        }
        Value::Bool(b) => out.push((prefix.to_owned(), i64::from(*b))),
        _ => {}
    }
}

/// The thread that owns the store.
struct Writer {
    store: Store,
    at: Location,
    shared: Arc<Shared>,
    /// Why the scheduler stopped.
    stopped: Option<String>,
    /// The scheduler's lease on a shared store: only its holder ticks.
    lease: Option<crate::pg::Lease>,
}

impl Writer {
    fn new(store: Store, at: Location, shared: Arc<Shared>) -> Writer {
        Writer {
            lease: at
                .postgres()
                .map(|pg| crate::pg::Lease::new(pg, "scheduler")),
            store,
            at,
            shared,
            stopped: None,
        }
    }

    fn run(mut self, mut jobs: mpsc::Receiver<Job>, mut urgent: mpsc::Receiver<Job>) {
        let mut stopping = false;
        while !stopping && let Some(first) = jobs.blocking_recv() {
            // What makes the plane safer goes first, whatever waits in the queue.
            let mut batch = Vec::new();
            while let Ok(job) = urgent.try_recv() {
                batch.push(job);
            }
            batch.push(first);
            while batch.len() < MAX_JOBS {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            stopping = batch.iter().any(|j| matches!(j, Job::Stop));
            self.batch(batch);
        }
    }

    /// The host's time: the clock, never before the head (a clock stepped back must not
    /// refuse every command as going back in time).
    fn now(&self) -> Timestamp {
        let now = clock();
        self.store.head().at.map_or(now, |head| now.max(head))
    }

    fn batch(&mut self, batch: Vec<Job>) {
        let before = self.store.head().seq;
        // Decide on the journal's tail: what decides takes the write lock and folds what other
        // writers committed; a batch of reads only folds it.
        let decides = batch
            .iter()
            .any(|j| matches!(j, Job::Lines { .. } | Job::Tick | Job::Internal { .. }));
        let caught_up = if decides {
            self.store.begin(|_| false)
        } else {
            self.store.follow()
        };
        match caught_up {
            Ok(0) => {}
            Ok(_) => {
                if let Ok(macs) = self.store.token_macs()
                    && let Ok(mut m) = self.shared.macs.write()
                {
                    *m = Arc::new(macs);
                }
            }
            Err(_) => {
                self.shared
                    .metrics
                    .commit_failures
                    .fetch_add(1, Ordering::Relaxed);
                if let Ok(store) = Store::open_lean(&self.at) {
                    self.store = store;
                }
            }
        }
        let now = self.now();
        let mut answered: Vec<Held> = Vec::new();
        let mut internal: Vec<(oneshot::Sender<Vec<Value>>, Vec<Value>)> = Vec::new();
        let mut reads = Vec::new();
        let mut lines = 0u64;
        let mut ticked = false;
        for job in batch {
            match job {
                Job::Lines {
                    lines: input,
                    caller,
                    reply,
                } => {
                    let out: Vec<Served> = input
                        .iter()
                        .map(|(no, line)| {
                            host::execute_served(self.store.kernel_mut(), line, *no, &caller, now)
                        })
                        .collect();
                    lines += out.len() as u64;
                    answered.push((reply, out));
                }
                Job::Tick => ticked |= self.tick(now),
                Job::Internal { lines, reply } => {
                    let clock = self.shared.config.clock_principal.clone();
                    let out = lines
                        .iter()
                        .map(|line| {
                            host::execute_line(self.store.kernel_mut(), line, Some(&clock), now).1
                        })
                        .collect();
                    internal.push((reply, out));
                }
                Job::Stop | Job::Wake | Job::Follow => {}
                read => reads.push(read),
            }
        }
        let started = Instant::now();
        let committed = self.store.commit();
        let metrics = &self.shared.metrics;
        match committed {
            Ok(_) => {
                self.shared.committing.store(true, Ordering::Relaxed);
                if lines > 0 {
                    let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    metrics.commit_us.observe(us);
                    metrics.batch_lines.observe(lines);
                }
                if let Ok(mut counts) = metrics.commands.lock() {
                    for served in answered.iter().flat_map(|(_, out)| out) {
                        let outcome = match (served.ok, served.pending) {
                            (true, true) => "pending",
                            (true, false) => "accepted",
                            (false, _) => "refused",
                        };
                        *counts
                            .entry((served.ty.unwrap_or("OTHER"), outcome))
                            .or_insert(0) += 1;
                    }
                }
                // The view and the live streams first: a client that reads the probes after
                // its answer sees its own commit.
                self.publish(before);
                if ticked || self.store.head().seq != before {
                    self.refresh(now);
                }
                for (reply, out) in answered {
                    let _ = reply.send(Ok(out));
                }
                for (reply, out) in internal {
                    let _ = reply.send(out);
                }
            }
            Err(e) => {
                // Nothing of this batch is durable: every request hears so, and the plane is
                // rebuilt from the store (the in-memory one is ahead of it).
                metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                self.shared.committing.store(false, Ordering::Relaxed);
                let message = format!("{}: {e}; nothing of this request was recorded", e.code());
                for (reply, _) in answered {
                    let _ = reply.send(Err(message.clone()));
                }
                if let Ok(store) = Store::open_lean(&self.at) {
                    self.store = store;
                }
                self.refresh(now);
            }
        }
        for read in reads {
            self.read(read, now);
        }
    }

    /// Sends `TICK` as the clock principal. Returns whether the view should be refreshed.
    fn tick(&mut self, now: Timestamp) -> bool {
        self.shared.metrics.ticks.fetch_add(1, Ordering::Relaxed);
        if self.stopped.is_some() || self.shared.config.tick_every.is_none() {
            return true;
        }
        // On a shared store one host ticks: the lease's holder (another takes it over when
        // the holder's connection goes).
        if let Some(lease) = &mut self.lease
            && !lease.hold()
        {
            return true;
        }
        // While the lockdown is raised the clock waits (the tick would be refused and recorded
        // every second); once released, what came due is caught up by each job's catch-up
        // policy. The production lock and the kill switch refuse only what enables execution:
        // the clock goes on under them.
        if self.store.kernel().state().lockdown() {
            return true;
        }
        let clock = &self.shared.config.clock_principal;
        let (ok, response) = host::execute_line(
            self.store.kernel_mut(),
            r#"{"type":"TICK"}"#,
            Some(clock),
            now,
        );
        if !ok {
            let why = format!(
                "the clock principal {clock} may not tick: {} (register it as a service and grant it the operator role, then restart)",
                response
                    .pointer("/error/code")
                    .and_then(Value::as_str)
                    .unwrap_or("refused")
            );
            if let Ok(mut s) = self.shared.scheduler.lock() {
                *s = Some(why.clone());
            }
            self.stopped = Some(why);
        }
        true
    }

    /// Publishes the records committed after `before` to the live streams.
    fn publish(&self, before: u64) {
        let records = self.store.kernel().journal().records_after(before);
        if records.is_empty() {
            return;
        }
        let lines: Vec<(u64, Arc<str>)> = records.iter().filter_map(export_line).collect();
        if let Some(hook) = &self.shared.alert_hook {
            for (seq, line) in &lines {
                if line.contains(r#""type":"AlertRaised""#)
                    && hook.try_send((*seq, Arc::clone(line))).is_err()
                {
                    self.shared
                        .metrics
                        .hook_dropped
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        // No subscriber is no error.
        let _ = self.shared.records.send(Arc::new(lines));
    }

    fn refresh(&self, now: Timestamp) {
        let view = view_of(
            &self.store,
            &self.shared.config,
            self.stopped.as_deref(),
            now,
        );
        if let Ok(mut v) = self.shared.view.write() {
            *v = Arc::new(view);
        }
    }

    fn read(&mut self, read: Job, now: Timestamp) {
        match read {
            Job::Query {
                line,
                caller,
                reply,
            } => {
                let _ = reply.send(host::execute_served(
                    self.store.kernel_mut(),
                    &line,
                    None,
                    &caller,
                    now,
                ));
            }
            Job::Records {
                after,
                limit,
                reply,
            } => {
                // Older records are read back from the store (the host holds none it has
                // committed); a read that fails gives an empty page, as an unknown seq does.
                let page = self
                    .store
                    .records_after(after, limit.min(MAX_PAGE))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(export_line)
                    .collect();
                let _ = reply.send(page);
            }
            Job::Status { reply } => {
                let status = host::status(&self.store)
                    .map(|v| host::response_text(&v))
                    .map_err(|e| {
                        host::response_text(&protocol::error_response(
                            e.code(),
                            &e.to_string(),
                            json!({}),
                        ))
                    });
                let _ = reply.send(status);
            }
            Job::Streams { reply } => {
                let _ = reply.send(crate::bus::specs(self.store.kernel().state()));
            }
            Job::Lines { .. }
            | Job::Tick
            | Job::Stop
            | Job::Wake
            | Job::Follow
            | Job::Internal { .. } => {}
        }
    }
}

fn export_line(record: &ro_core::Record) -> Option<(u64, Arc<str>)> {
    let mut out = Vec::with_capacity(record.body.len() + 160);
    record.write_export_line(&mut out).ok()?;
    let text = String::from_utf8(out).ok()?;
    Some((record.seq, text.trim_end().into()))
}

// ---------------------------------------------------------------------------------------
// HTTP

fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.body_limit;
    Router::new()
        .route("/health", get(health))
        .route("/healthz", get(healthz))
        .route("/ops/status", get(ops_status))
        .route("/metrics", get(metrics))
        .route("/v1/commands", post(commands))
        .route("/v1/queries", post(query_post))
        .route("/v1/queries/{ty}", get(query_get))
        .route("/v1/heartbeat", get(heartbeat))
        .route("/ui", get(ui_page))
        .route("/ui/app.js", get(ui_script))
        .route("/ui/style.css", get(ui_style))
        .route("/v1/mission-control", get(mission_control))
        .route("/v1/mission-control/{service}", get(mission_service))
        .route("/v1/status", get(status))
        .route("/v1/audit", get(audit))
        .route("/v1/events", get(events))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), timeout))
        .with_state(shared)
}

/// A JSON response with a status.
fn reply(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    reply(
        status,
        host::response_text(&protocol::error_response(code, message, json!({}))),
    )
}

async fn timeout(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let limit = shared.config.request_timeout;
    let is_stream = request.uri().path() == "/v1/events";
    if is_stream {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            &format!(
                "the request took longer than {} s; a command may still have been recorded: read /v1/audit",
                limit.as_secs()
            ),
        ),
    }
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint: see contracts/ro_http_api_v0.openapi.json",
    )
}

fn view(shared: &Shared) -> Arc<View> {
    shared
        .view
        .read()
        .map(|v| Arc::clone(&v))
        .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
}

/// The health probes need a token unless configured open.
fn probe_auth(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if shared.config.open_probes {
        return None;
    }
    authenticate(shared, headers, true).err()
}

async fn health(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refused) = probe_auth(&shared, &headers) {
        return refused;
    }
    let check = shared.metrics.journal_check.load(Ordering::Relaxed);
    let committing = shared.committing.load(Ordering::Relaxed) && check != CHECK_DAMAGED;
    let head = view(&shared).head_seq;
    let journal = match check {
        CHECK_VERIFIED => json!({ "check": "VERIFIED",
            "verified_seq": shared.metrics.journal_verified.load(Ordering::Relaxed) }),
        CHECK_DAMAGED => json!({ "check": "DAMAGED",
            "error": shared.journal_error.lock().ok().and_then(|e| e.clone()) }),
        _ => json!({ "check": "RUNNING" }),
    };
    let mut body = json!({ "ok": committing, "head_seq": head, "journal": journal });
    // The outbox never fails liveness (commands do not wait for the bus): it says how far
    // behind it is, and why.
    if shared.config.outbox.is_some() {
        let m = &shared.metrics;
        let published = m.outbox_published.load(Ordering::Relaxed);
        let outbox = json!({
            "connected": m.outbox_connected.load(Ordering::Relaxed),
            "published_seq": published,
            "behind": head.saturating_sub(published),
            "error": shared.outbox_error.lock().ok().and_then(|e| e.clone()),
        });
        if let Some(map) = body.as_object_mut() {
            map.insert("outbox".into(), outbox);
        }
    }
    let body = host::response_text(&body);
    if committing {
        reply(StatusCode::OK, body)
    } else {
        reply(StatusCode::SERVICE_UNAVAILABLE, body)
    }
}

async fn healthz(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refused) = probe_auth(&shared, &headers) {
        return refused;
    }
    let view = view(&shared);
    let status = if view.fresh {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    reply(status, view.healthz.to_string())
}

async fn ops_status(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refused) = probe_auth(&shared, &headers) {
        return refused;
    }
    reply(StatusCode::OK, view(&shared).status.to_string())
}

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refused) = probe_auth(&shared, &headers) {
        return refused;
    }
    use std::fmt::Write;
    let view = view(&shared);
    let m = &shared.metrics;
    let mut out = String::with_capacity(4096);
    let _ = writeln!(
        out,
        "# HELP ro_commands_total Lines executed, by type and outcome.\n# TYPE ro_commands_total counter"
    );
    if let Ok(counts) = m.commands.lock() {
        for ((ty, outcome), n) in counts.iter() {
            let _ = writeln!(
                out,
                "ro_commands_total{{type=\"{ty}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    m.commit_us.render(
        &mut out,
        "ro_commit_seconds",
        "Time to commit one group of commands.",
        1_000_000,
    );
    m.batch_lines.render(
        &mut out,
        "ro_group_commit_lines",
        "Lines per group commit.",
        1,
    );
    let gauges: [(&str, &str, u64); 14] = [
        ("ro_head_seq", "The journal's head.", view.head_seq),
        (
            "ro_sse_subscribers",
            "Live event streams.",
            m.sse_subscribers.load(Ordering::Relaxed) as u64,
        ),
        (
            "ro_queue_full_total",
            "Requests answered 503 because the writer's queue was full.",
            m.queue_full.load(Ordering::Relaxed),
        ),
        (
            "ro_commit_failures_total",
            "Group commits that failed (nothing of them was recorded).",
            m.commit_failures.load(Ordering::Relaxed),
        ),
        (
            "ro_ticks_total",
            "Clock ticks taken by the writer.",
            m.ticks.load(Ordering::Relaxed),
        ),
        (
            "ro_fresh",
            "1 when no critical component is stale.",
            u64::from(view.fresh),
        ),
        (
            "ro_alert_hook_delivered_total",
            "Alerts the hook delivered (exit 0).",
            m.hook_delivered.load(Ordering::Relaxed),
        ),
        (
            "ro_alert_hook_failed_total",
            "Alerts the hook failed to deliver (non-zero exit, no start, timeout).",
            m.hook_failed.load(Ordering::Relaxed),
        ),
        (
            "ro_alert_hook_dropped_total",
            "Alerts not handed to the hook because its queue was full.",
            m.hook_dropped.load(Ordering::Relaxed),
        ),
        (
            "ro_outbox_published_seq",
            "The last seq the outbox's bus acknowledged (0 without an outbox).",
            m.outbox_published.load(Ordering::Relaxed),
        ),
        (
            "ro_outbox_behind",
            "Records committed and not yet acknowledged by the outbox's bus.",
            if shared.config.outbox.is_some() {
                view.head_seq
                    .saturating_sub(m.outbox_published.load(Ordering::Relaxed))
            } else {
                0
            },
        ),
        (
            "ro_outbox_connected",
            "1 while the outbox is connected to its bus.",
            u64::from(m.outbox_connected.load(Ordering::Relaxed)),
        ),
        (
            "ro_journal_check",
            "The check of every stored record run at start: 0 running, 1 verified, 2 damaged.",
            u64::from(m.journal_check.load(Ordering::Relaxed)),
        ),
        (
            "ro_journal_verified_seq",
            "The seq the check of every stored record reached.",
            m.journal_verified.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    for (name, value) in &view.signals {
        let _ = writeln!(out, "# TYPE {name} gauge\n{name} {value}");
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
        .into_response()
}

/// The caller a bearer token authenticates. `read`: also refuse a token the plane no longer
/// accepts (a command is refused, and recorded, by the plane instead).
fn authenticate(shared: &Shared, headers: &HeaderMap, read: bool) -> Result<Caller, Response> {
    let unauthenticated = |message: &str| {
        let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ro\""),
        );
        response
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthenticated(
            "send `Authorization: Bearer <token>` (`ro token issue` prints one)",
        ));
    };
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.trim().strip_prefix("ro1."))
        .and_then(|t| t.rsplit_once('.'))
        .and_then(|(id, secret)| Some((id, from_hex(secret)?)));
    let Some((id, secret)) = parsed else {
        return Err(unauthenticated(
            "malformed token: expected `ro1.<token id>.<64 hex digits>`",
        ));
    };
    let presented = blake3::Hash::from(shared.mac_key.token_mac(&secret));
    // Constant-time comparison (blake3::Hash's equality), and the same answer for an unknown
    // id as for a wrong secret.
    let macs = shared
        .macs
        .read()
        .map(|m| Arc::clone(&m))
        .unwrap_or_default();
    let matches = macs
        .get(id)
        .is_some_and(|kept| presented == blake3::Hash::from(*kept));
    let view = view(shared);
    let token = view.tokens.get(id).filter(|_| matches);
    let Some(token) = token else {
        return Err(unauthenticated("unknown token or wrong secret"));
    };
    if read {
        let now = clock();
        let problem = if token.revoked {
            Some(("TOKEN_REVOKED", "this token was revoked"))
        } else if token.expires_at.is_some_and(|t| t <= now) {
            Some(("TOKEN_EXPIRED", "this token has expired"))
        } else {
            None
        };
        if let Some((code, message)) = problem {
            return Err(error(StatusCode::UNAUTHORIZED, code, message));
        }
    }
    let config = &shared.config;
    Ok(Caller {
        actor: token.actor.clone(),
        credential: id.to_owned(),
        skew: Skew {
            ahead: config.skew_seconds,
            behind: if config.history {
                None
            } else {
                Some(config.skew_seconds)
            },
        },
    })
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The body as text, or why not (too large: 413; not UTF-8: 400).
fn body_text(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<String, Response> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                &format!("the body is larger than {limit} bytes; send fewer commands per request"),
            )
        } else {
            error(
                StatusCode::BAD_REQUEST,
                "BODY_UNREADABLE",
                &rejection.body_text(),
            )
        }
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body is not UTF-8 text",
        )
    })
}

/// Whether a document is a command that makes the plane safer (its action is
/// safety-increasing: a lockdown, the kill switch, a pause). Decided without the plane's state:
/// a cheap look for such a command's name first, then the document decoded.
fn makes_safer(line: &str, caller: &Caller) -> bool {
    use ro_policy::{Action, Safety};
    let named = Action::ALL
        .iter()
        .filter(|a| a.safety() == Safety::Increasing)
        .any(|a| line.contains(a.as_str()));
    if !named {
        return false;
    }
    let action = match protocol::decode(line, Some(&caller.actor), Timestamp::MAX) {
        Ok(protocol::Decoded {
            request: protocol::Request::Command(command),
            ..
        }) => match command {
            ro_admin::PlaneCommand::Admin(c) => Some(c.action().0),
            ro_admin::PlaneCommand::Jobs(c) => Some(c.action()),
            ro_admin::PlaneCommand::Policy(c) => Some(c.action().0),
            // An artifact command's action depends on the plane's state: not urgent.
            ro_admin::PlaneCommand::Artifacts(_) => None,
        },
        _ => None,
    };
    action.is_some_and(|a| a.safety() == Safety::Increasing)
}

/// Queues a job that makes the plane safer in its own lane, and wakes the writer (a wake that
/// finds the queue full is not needed: the writer is busy and takes the lane next).
fn enqueue_urgent(shared: &Shared, job: Job) -> Result<(), Response> {
    match shared.urgent.try_send(job) {
        Ok(()) => {
            let _ = shared.jobs.try_send(Job::Wake);
            Ok(())
        }
        // The lane itself is full: wait in the queue like any other request.
        Err(mpsc::error::TrySendError::Full(job)) => enqueue(shared, job),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(writer_gone()),
    }
}

/// The caller ([`authenticate`]) and the body as text ([`body_text`]).
fn authenticated_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    read: bool,
) -> Result<(Caller, String), Response> {
    let caller = authenticate(shared, headers, read)?;
    Ok((caller, body_text(body, shared.config.body_limit)?))
}

/// Queues a job, or answers 503 when the writer's queue is full.
fn enqueue(shared: &Shared, job: Job) -> Result<(), Response> {
    shared.jobs.try_send(job).map_err(|e| {
        shared.metrics.queue_full.fetch_add(1, Ordering::Relaxed);
        let (code, message) = match e {
            mpsc::error::TrySendError::Full(_) => (
                "QUEUE_FULL",
                "the writer is busy: retry after the time in Retry-After",
            ),
            mpsc::error::TrySendError::Closed(_) => ("SHUTTING_DOWN", "the server is stopping"),
        };
        let mut response = error(StatusCode::SERVICE_UNAVAILABLE, code, message);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    })
}

fn writer_gone() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "SHUTTING_DOWN",
        "the server stopped before answering",
    )
}

/// The HTTP status of one line's answer: a document the protocol could not read is 400, a
/// refusal by the plane (it names its recorded trace) 409 unless identity or authorization
/// refused it (403) or its credential (401).
fn status_of(served: &Served) -> StatusCode {
    let by_plane = served.recorded;
    match (served.ok, served.pending, served.code) {
        (false, _, Some("INVALID_COMMAND")) if by_plane => StatusCode::CONFLICT,
        (true, true, _) => StatusCode::ACCEPTED,
        (true, false, _) => StatusCode::OK,
        (
            false,
            _,
            Some(
                "INVALID_JSON" | "INVALID_FIELD" | "UNKNOWN_COMMAND" | "INVALID_COMMAND"
                | "ACTOR_REQUIRED" | "CLOCK_SKEW",
            ),
        ) => StatusCode::BAD_REQUEST,
        (false, _, Some("TOKEN_REVOKED" | "TOKEN_EXPIRED" | "TOKEN_INVALID")) => {
            StatusCode::UNAUTHORIZED
        }
        (
            false,
            _,
            Some(
                "ACTOR_MISMATCH"
                | "PRINCIPAL_KIND_MISMATCH"
                | "UNREGISTERED_PRINCIPAL"
                | "HUMAN_ONLY_ACTION"
                | "UNAUTHORIZED"
                | "SIGNATURE_REQUIRED"
                | "SIGNATURE_INVALID",
            ),
        ) => StatusCode::FORBIDDEN,
        (false, _, _) => StatusCode::CONFLICT,
    }
}

/// `POST /v1/commands`: one JSON document → one response (its status from the outcome); an
/// NDJSON body (`Content-Type: application/x-ndjson`) → one response line per non-blank line,
/// in order, 200. The response bodies are `ro apply`'s, byte for byte.
async fn commands(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (caller, text) = match authenticated_body(&shared, &headers, body, false) {
        Ok(both) => both,
        Err(r) => return r,
    };
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    // As `ro apply` reads its input: blank lines are skipped, and counted (from
    // `X-Ro-Line-Offset` + 1 when a client sends one input in several requests).
    let offset = headers
        .get("x-ro-line-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let lines: Vec<(Option<u64>, String)> = if ndjson {
        text.lines()
            .zip(offset.saturating_add(1)..)
            .filter(|(l, _)| !l.trim().is_empty())
            .map(|(l, no)| (Some(no), l.to_owned()))
            .collect()
    } else {
        vec![(None, text)]
    };
    if lines.is_empty() {
        return reply(StatusCode::OK, "");
    }
    let urgent = lines.len() == 1
        && lines
            .first()
            .is_some_and(|(_, line)| makes_safer(line, &caller));
    let (tx, rx) = oneshot::channel();
    let job = Job::Lines {
        lines,
        caller,
        reply: tx,
    };
    let queued = if urgent {
        enqueue_urgent(&shared, job)
    } else {
        enqueue(&shared, job)
    };
    if let Err(r) = queued {
        return r;
    }
    match rx.await {
        Ok(Ok(served)) if ndjson => {
            let mut out = String::with_capacity(served.iter().map(|s| s.body.len() + 1).sum());
            for s in &served {
                out.push_str(&s.body);
                out.push('\n');
            }
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-ndjson"),
                )],
                out,
            )
                .into_response()
        }
        Ok(Ok(mut served)) => match served.pop() {
            Some(one) => reply(status_of(&one), one.body),
            None => writer_gone(),
        },
        Ok(Err(message)) => error(StatusCode::SERVICE_UNAVAILABLE, "STORE_ERROR", &message),
        Err(_) => writer_gone(),
    }
}

async fn run_query(shared: &Shared, caller: Caller, line: String) -> Response {
    let (tx, rx) = oneshot::channel();
    if let Err(r) = enqueue(
        shared,
        Job::Query {
            line,
            caller,
            reply: tx,
        },
    ) {
        return r;
    }
    match rx.await {
        Ok(served) => reply(status_of(&served), served.body),
        Err(_) => writer_gone(),
    }
}

/// `POST /v1/queries`: one query document, answered as `ro apply` answers it. A command sent
/// here is refused: commands go to `/v1/commands`.
async fn query_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (caller, text) = match authenticated_body(&shared, &headers, body, true) {
        Ok(both) => both,
        Err(r) => return r,
    };
    let ty = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
    if let Some(ty) = ty
        && !protocol::QUERY_TYPES.contains(&ty.as_str())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "NOT_A_QUERY",
            &format!("{ty} is not a query; send commands to POST /v1/commands"),
        );
    }
    run_query(&shared, caller, text).await
}

/// `GET /v1/queries/{TYPE}?field=value…`: a query from the URL (`NEXT_RUNS`, `READ_ARTIFACT`,
/// `RUN_STATUS`…); a value that is a whole number is sent as a number.
async fn query_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(ty): UrlPath<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let caller = match authenticate(&shared, &headers, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ty = ty.to_ascii_uppercase().replace('-', "_");
    if !protocol::QUERY_TYPES.contains(&ty.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            "UNKNOWN_QUERY",
            &format!("no query {ty}; `ro schema` lists them"),
        );
    }
    let mut doc = serde_json::Map::new();
    for (key, value) in params {
        // Numbers and booleans as JSON's, everything else as text.
        let value = match value.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or(Value::String(value)),
        };
        doc.insert(key, value);
    }
    doc.insert("type".into(), Value::String(ty));
    run_query(&shared, caller, Value::Object(doc).to_string()).await
}

/// `GET /v1/heartbeat`.
async fn heartbeat(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let caller = match authenticate(&shared, &headers, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    run_query(&shared, caller, r#"{"type":"HEARTBEAT"}"#.to_owned()).await
}

/// The operations page: static files embedded in the binary (nothing fetched from elsewhere).
/// It reads with the token in its address (`/ui#token=…`) and sends only GET requests.
async fn ui_page() -> Response {
    static_file("text/html; charset=utf-8", include_str!("../ui/index.html"))
}

async fn ui_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    )
}

async fn ui_style() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../ui/style.css"))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /v1/mission-control`: every watched service's state (read-only; mission control's own
/// state is `OK` whatever theirs are).
async fn mission_control(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authenticate(&shared, &headers, true) {
        return r;
    }
    let answer: String = match &shared.mission {
        Some(mission) => mission.overview().to_string(),
        None => json!({ "state": "OK", "as_of": clock(), "services": [] }).to_string(),
    };
    reply(StatusCode::OK, answer)
}

/// `GET /v1/mission-control/{service}`: one service with its recent transitions.
async fn mission_service(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(service): UrlPath<String>,
) -> Response {
    if let Err(r) = authenticate(&shared, &headers, true) {
        return r;
    }
    match shared.mission.as_ref().and_then(|m| m.service(&service)) {
        Some(answer) => reply(StatusCode::OK, answer.to_string()),
        None => error(
            StatusCode::NOT_FOUND,
            "UNKNOWN_SERVICE",
            &format!("mission control does not watch {service:?}"),
        ),
    }
}

/// `GET /v1/status`: `ro status`'s summary (head, state digest, the plane's posture).
async fn status(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authenticate(&shared, &headers, true) {
        return r;
    }
    let (tx, rx) = oneshot::channel();
    if let Err(r) = enqueue(&shared, Job::Status { reply: tx }) {
        return r;
    }
    match rx.await {
        Ok(Ok(body)) => reply(StatusCode::OK, body),
        Ok(Err(body)) => reply(StatusCode::INTERNAL_SERVER_ERROR, body),
        Err(_) => writer_gone(),
    }
}

/// `GET /v1/audit?after=SEQ&limit=N`: a page of export lines (as `ro audit` prints them),
/// `{"ok":true,"records":[…],"next_after":SEQ}`.
async fn audit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&shared, &headers, true) {
        return r;
    }
    let number = |name: &str, default: u64| -> Result<u64, Response> {
        params.get(name).map_or(Ok(default), |v| {
            v.parse::<u64>().map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    &format!("`{name}` must be a whole number, got {v:?}"),
                )
            })
        })
    };
    let (after, limit) = match (number("after", 0), number("limit", 100)) {
        (Ok(a), Ok(l)) if (1..=MAX_PAGE as u64).contains(&l) => {
            (a, usize::try_from(l).unwrap_or(MAX_PAGE))
        }
        (Ok(_), Ok(l)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &format!("`limit` is 1 to {MAX_PAGE}, got {l}"),
            );
        }
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let page = match records(&shared, after, limit).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let next = page.last().map_or(after, |(seq, _)| *seq);
    let mut out = String::from("{\"next_after\":");
    out.push_str(&next.to_string());
    out.push_str(",\"ok\":true,\"records\":[");
    for (i, (_, line)) in page.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(line);
    }
    out.push_str("]}");
    reply(StatusCode::OK, out)
}

async fn records(
    shared: &Shared,
    after: u64,
    limit: usize,
) -> Result<Vec<(u64, Arc<str>)>, Response> {
    let (tx, rx) = oneshot::channel();
    enqueue(
        shared,
        Job::Records {
            after,
            limit,
            reply: tx,
        },
    )?;
    rx.await.map_err(|_| writer_gone())
}

/// Counts a live stream while it lives.
struct Subscribed(Arc<Shared>);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0
            .metrics
            .sse_subscribers
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A live stream's position.
struct Stream {
    shared: Arc<Shared>,
    live: broadcast::Receiver<Lines>,
    pending: VecDeque<(u64, Arc<str>)>,
    /// The last seq sent.
    sent: u64,
    stop: watch::Receiver<bool>,
    /// Counted as a live-event subscriber (the outbox is not).
    _subscribed: Option<Subscribed>,
}

impl Stream {
    /// The next record if it is already read and in order, without waiting.
    fn ready(&mut self) -> Option<(u64, Arc<str>)> {
        match self.pending.front() {
            Some((seq, _)) if *seq == self.sent + 1 => {
                let next = self.pending.pop_front()?;
                self.sent = next.0;
                Some(next)
            }
            _ => None,
        }
    }

    /// The next record, in order, each once: from the journal until the stream has caught up
    /// with the head, then from the live records (a gap, from a slow reader or a race with
    /// the subscription, is filled from the journal again). `None` at shutdown.
    async fn next(&mut self) -> Option<(u64, Arc<str>)> {
        loop {
            while let Some((seq, line)) = self.pending.pop_front() {
                if seq == self.sent + 1 {
                    self.sent = seq;
                    return Some((seq, line));
                }
                if seq > self.sent + 1 {
                    // A gap: read it from the journal.
                    self.pending.clear();
                    break;
                }
            }
            if *self.stop.borrow() {
                return None;
            }
            if view(&self.shared).head_seq > self.sent {
                match records(&self.shared, self.sent, MAX_PAGE).await {
                    Ok(page) if !page.is_empty() => {
                        self.pending.extend(page);
                        continue;
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(batch) => self.pending.extend(batch.iter().filter(|(seq, _)| *seq > self.sent).cloned()),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the live records: catch up from the journal.
                        if let Ok(page) = records(&self.shared, self.sent, MAX_PAGE).await {
                            self.pending.extend(page);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.stop.changed() => return None,
            }
        }
    }
}

/// `GET /v1/events?after=SEQ` (or `Last-Event-ID: SEQ`): every record after SEQ, then each new
/// one as it commits, as Server-Sent Events (`id` the seq, `event: record`, `data` the export
/// line).
async fn events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&shared, &headers, true) {
        return r;
    }
    // Last-Event-ID (a reconnecting client) wins over `after`; both must be a seq.
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()));
    let param = params.get("after").map(|v| v.parse::<u64>().ok());
    let after = match (header, param) {
        (Some(None), _) | (_, Some(None)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "`after` and Last-Event-ID are a seq (a whole number)",
            );
        }
        (Some(Some(seq)), _) | (None, Some(Some(seq))) => seq,
        (None, None) => 0,
    };
    // Subscribe before reading the head: nothing committed in between is missed.
    let live = shared.records.subscribe();
    shared
        .metrics
        .sse_subscribers
        .fetch_add(1, Ordering::Relaxed);
    let stream = Stream {
        live,
        pending: VecDeque::new(),
        sent: after,
        stop: shared.shutdown.clone(),
        _subscribed: Some(Subscribed(Arc::clone(&shared))),
        shared,
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        let (seq, line) = stream.next().await?;
        let event = Event::default()
            .id(seq.to_string())
            .event("record")
            .data(line.as_ref());
        Some((Ok::<_, Infallible>(event), stream))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
