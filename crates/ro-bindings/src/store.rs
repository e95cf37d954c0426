//! The store: one row per journal record (seq, prev, hash and the canonical body, exactly what
//! is hashed), the kept snapshots and the keyed hashes of API tokens, on one of two engines
//! behind one interface: an SQLite file (the embedded default, one machine) or a plane in a
//! PostgreSQL database (shared by many hosts; [`crate::pg`]). The host's keys live in a key
//! file outside both ([`crate::keys`]): a store opened without its key file can be read and
//! verified, not written.
//!
//! Appends are transactions that check the expected head under the store's write lock
//! (SQLite's `BEGIN IMMEDIATE`; the plane row's lock on PostgreSQL, where the database also
//! refuses any batch that does not extend the head), so a second writer waits and then gets
//! [`StoreError::Conflict`], never a fork. A writer that takes the lock first
//! ([`Store::begin`]) reads what other writers appended and decides on it, so it never
//! conflicts. On SQLite a safety-increasing command waiting for the lock raises a yield marker
//! (`<store>.yield`) that other writers honour before their next batch, so a lockdown lands
//! within about one group commit of a writer streaming at full speed; PostgreSQL grants the
//! plane's lock in the order it was asked for. SQLite runs in WAL mode with `synchronous=FULL`,
//! so readers never block the writer and a committed append survives a crash. Opening re-reads
//! every row and checks the chain (a damaged row is reported by its seq, never skipped), then
//! restores the state from the latest snapshot (rkyv) and replays only the records after it; a
//! truncated, damaged or foreign snapshot falls back to replaying everything. Snapshots never
//! hold the key.

use std::path::{Path, PathBuf};

use ro_admin::{Plane, PlaneEvent};
use ro_core::{
    CheckedRecord, Digest, Head, Journal, Kernel, Record, ReplayError, Restored, VerifyError,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::keys::{Keys, key_file_for};
use crate::pg::{Pg, PgLocation};

/// The format written in the metadata table.
pub const FORMAT: &str = "ro.store.v1";

/// Where a store is, and where its key file is.
#[derive(Clone, Debug)]
pub struct Location {
    engine: Engine,
    key_file: PathBuf,
    /// The key file was named (not the engine's default): `create` uses the keys it holds.
    named_key_file: bool,
}

#[derive(Clone, Debug)]
enum Engine {
    File(PathBuf),
    Postgres(Box<PgLocation>),
}

impl Location {
    /// A store named on the command line: a `postgres://` (or `postgresql://`) URL names a
    /// plane in PostgreSQL (`?plane=NAME`, `default` without it; the user defaults to
    /// `$USER`); anything else is an SQLite file's path. The key file is `<path>.keys` for a
    /// file and `ro-<plane>.keys` in the working directory for PostgreSQL, unless
    /// [`Location::with_key_file`] says otherwise.
    pub fn parse(text: &str) -> Result<Location, StoreError> {
        if crate::pg::is_url(text) {
            let user = std::env::var("USER").ok();
            let at = PgLocation::parse(text, user.as_deref()).map_err(StoreError::Location)?;
            let key_file = PathBuf::from(format!("ro-{}.keys", at.plane()));
            Ok(Location {
                engine: Engine::Postgres(Box::new(at)),
                key_file,
                named_key_file: false,
            })
        } else {
            Ok(Location::file(text))
        }
    }

    /// An SQLite file.
    pub fn file(path: impl Into<PathBuf>) -> Location {
        let path = path.into();
        Location {
            key_file: key_file_for(&path),
            engine: Engine::File(path),
            named_key_file: false,
        }
    }

    /// The same store with its key file at `key_file` (if the file exists when the store is
    /// created, the store takes its keys: one host's keys may serve several stores).
    pub fn with_key_file(mut self, key_file: impl Into<PathBuf>) -> Location {
        self.key_file = key_file.into();
        self.named_key_file = true;
        self
    }

    /// The key file.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// The SQLite file, when the store is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.engine {
            Engine::File(path) => Some(path),
            Engine::Postgres(_) => None,
        }
    }

    /// The PostgreSQL plane, when the store is one.
    pub fn postgres(&self) -> Option<&PgLocation> {
        match &self.engine {
            Engine::File(_) => None,
            Engine::Postgres(at) => Some(at),
        }
    }
}

/// Shown without any password.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.engine {
            Engine::File(path) => write!(f, "{}", path.display()),
            Engine::Postgres(at) => write!(f, "{at}"),
        }
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Location {
        Location::file(path)
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::file(path)
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::file(path)
    }
}

impl From<&Location> for Location {
    fn from(at: &Location) -> Location {
        at.clone()
    }
}

/// What went wrong with a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store {path}: {source}")]
    Sqlite {
        /// The store.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// PostgreSQL failed (or could not be reached).
    #[error("store {store}: {source}")]
    Postgres {
        /// The store, without its password.
        store: String,
        /// The driver's error.
        source: postgres::Error,
    },
    /// The store's address does not parse.
    #[error("--store: {0}")]
    Location(String),
    /// The database's schema is not the one this build reads.
    #[error("{0}")]
    Schema(String),
    /// `init` on a store that already holds a plane.
    #[error("store {0} already exists; choose another --store or remove it")]
    Exists(String),
    /// The store was never initialised.
    #[error(
        "store {0} does not exist or holds no plane; run `ro --store {0} init --admin ID` first"
    )]
    Missing(String),
    /// A record is damaged: the chain breaks or the body does not decode.
    #[error("journal damaged at seq {seq}: {message}")]
    Damaged {
        /// The first bad sequence number.
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// A kept snapshot records a state the journal does not produce at its seq: it was not
    /// written from this journal (forged, or by a faulty writer), and an open would have
    /// trusted it.
    #[error(
        "the snapshot at seq {seq} records a state the journal does not produce there; remove it from the store's snapshots table (`ro snapshot` writes a new one)"
    )]
    SnapshotMismatch {
        /// The snapshot's seq.
        seq: u64,
    },
    /// Another writer appended since this one read the head.
    #[error(
        "another writer appended (head is {actual}, expected {expected}); nothing was written, reopen and retry"
    )]
    Conflict {
        /// The head this writer expected.
        expected: u64,
        /// The head in the store.
        actual: u64,
    },
    /// The key file cannot be drawn, written or read (missing permissions, exposed to
    /// others, malformed).
    #[error("{0}")]
    Key(String),
    /// A write to a store opened without its key file.
    #[error(
        "the store's key file {0} is missing: this copy of the store can be read and verified, not written (name another with --key-file)"
    )]
    KeysMissing(PathBuf),
    /// A server (`ro serve`) holds the store: write through it, or stop it first.
    #[error(
        "a server holds store {0} (its lock file {0}.lock is taken): send commands to it (`ro --server URL`) or stop it first"
    )]
    ServerRunning(PathBuf),
}

impl StoreError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sqlite { .. } | StoreError::Postgres { .. } => "STORE_ERROR",
            StoreError::Location(_) => "INVALID_ARGUMENT",
            StoreError::Schema(_) => "STORE_SCHEMA",
            StoreError::Exists(_) => "STORE_EXISTS",
            StoreError::Missing(_) => "STORE_MISSING",
            StoreError::Damaged { .. } => "JOURNAL_DAMAGED",
            StoreError::SnapshotMismatch { .. } => "SNAPSHOT_MISMATCH",
            StoreError::Conflict { .. } => "STALE_SEQUENCE",
            StoreError::Key(_) => "KEY_UNAVAILABLE",
            StoreError::KeysMissing(_) => "KEY_FILE_MISSING",
            StoreError::ServerRunning(_) => "SERVER_RUNNING",
        }
    }
}

/// Takes an SQLite store's lock file (`STORE.lock`): exclusively for a server, which keeps the
/// plane in memory and must be the only writer; shared for a writer at the console, so any
/// number of those run together but none beside a server. Held until the file is dropped. A
/// PostgreSQL store has none (`None`): every writer, server or console, takes the plane's lock
/// and reads the tail before it decides.
pub fn lock(at: &Location, exclusive: bool) -> Result<Option<std::fs::File>, StoreError> {
    let Some(path) = at.path() else {
        return Ok(None);
    };
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Key(format!("lock file {}: {e}", lock_path.display())))?;
    let taken = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match taken {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::ServerRunning(path.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Key(format!(
            "lock file {}: {e}",
            lock_path.display()
        ))),
    }
}

/// How many snapshots a store keeps (the latest ones).
pub const SNAPSHOTS_KEPT: i64 = 2;

/// An open store and the plane folded from it.
pub struct Store {
    at: Location,
    db: Db,
    kernel: Kernel<Plane>,
    durable: u64,
    /// How the plane was rebuilt on open (`None`: from every record, no snapshot asked for or
    /// present).
    restored: Option<Restored>,
    /// The key file's keys: without them, nothing is written.
    keys: Option<Keys>,
    /// Whether this writer holds the write lock ([`Store::begin`]).
    in_txn: bool,
    /// Opened with [`Store::open_lean`]: committed records are not held in memory.
    lean: bool,
    /// The seq and state digest an authenticated snapshot recorded (the state is that one
    /// until a record is folded after it).
    snapshot_digest: Option<(u64, Digest)>,
}

/// How [`Store::open_with`] rebuilds the plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Every record checked and held; restored from the latest snapshot.
    Full,
    /// Every record checked, held and folded; snapshots ignored.
    Replaying,
    /// From this build's authenticated snapshot and the records after it, holding no
    /// committed record (falls back to checking every record, still holding none).
    Lean,
    /// Every record checked and folded, none held, each kept snapshot checked against the
    /// state at its seq as the fold passes it ([`Store::open_verifying`]).
    Verifying,
}

/// The store's database, checked to be a store (the file exists and holds ro's format; the
/// plane exists), its tables brought up to date.
fn open_db(at: &Location) -> Result<Db, StoreError> {
    Ok(match &at.engine {
        Engine::File(path) => {
            if !path.exists() {
                return Err(StoreError::Missing(at.to_string()));
            }
            let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            let sql = sql_error(path);
            let format: Option<Vec<u8>> = conn
                .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                    r.get(0)
                })
                .optional()
                .or_else(|e| match e {
                    rusqlite::Error::SqliteFailure(..) => Ok(None),
                    other => Err(other),
                })
                .map_err(sql)?;
            if format.is_none() {
                return Err(StoreError::Missing(at.to_string()));
            }
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL) STRICT;
                 CREATE TABLE IF NOT EXISTS api_tokens (token_id TEXT PRIMARY KEY, mac BLOB NOT NULL) STRICT;",
            )
            .map_err(sql)?;
            Db::Sqlite {
                path: path.clone(),
                conn,
                raised_yield: None,
            }
        }
        Engine::Postgres(pg_at) => {
            let mut pg = Pg::connect(pg_at)?;
            if !pg.plane_exists()? {
                return Err(StoreError::Missing(at.to_string()));
            }
            Db::Postgres(Box::new(pg))
        }
    })
}

/// How many checked records a lean open holds before forgetting them.
const FORGET_EVERY: usize = 4096;

/// The seqs of the records that opened the plane's open incidents.
fn open_incident_seqs(kernel: &Kernel<Plane>) -> impl Iterator<Item = u64> + '_ {
    kernel
        .state()
        .registry()
        .incidents()
        .iter()
        .filter(|i| i.resolved_at.is_none())
        .map(|i| i.audit_seq)
}

/// Forgets the held records up to `upto`, keeping the `prev` of those that opened an open
/// incident.
fn pin_and_forget(kernel: &mut Kernel<Plane>, upto: u64) {
    let pins: Vec<(u64, Digest)> = open_incident_seqs(kernel)
        .filter(|&s| s <= upto)
        .filter_map(|s| kernel.journal().get(s).map(|r| (s, r.prev)))
        .collect();
    kernel.forget_records_through(upto);
    for (seq, prev) in pins {
        kernel.pin_prev(seq, prev);
    }
}

/// What follows a snapshot this build wrote in the store: a tag and the keyed hash of the
/// snapshot's checksum ([`Keys::snapshot_mac`]).
const SNAPSHOT_MAC_TAG: &[u8; 8] = b"ROSMAC\0\x01";

/// A stored snapshot's bytes without the MAC trailer, and the MAC when there is one.
fn split_mac(stored: &[u8]) -> (&[u8], Option<&[u8]>) {
    let Some(split) = stored.len().checked_sub(40) else {
        return (stored, None);
    };
    let (snapshot, trailer) = stored.split_at(split);
    match trailer.split_at(8) {
        (tag, mac) if tag == SNAPSHOT_MAC_TAG => (snapshot, Some(mac)),
        _ => (stored, None),
    }
}

/// The checksum that ends a snapshot (what its MAC covers).
fn snapshot_checksum(snapshot: &[u8]) -> &[u8] {
    snapshot
        .get(snapshot.len().saturating_sub(32)..)
        .unwrap_or_default()
}

/// The head seq and hash a snapshot says it reflects, read from its header without checking
/// it (the restore checks everything; this only says which row to read first).
fn snapshot_head(snapshot: &[u8]) -> Option<(u64, Digest)> {
    let seq = u64::from_le_bytes(snapshot.get(8..16)?.try_into().ok()?);
    let hash = Digest::from_bytes(snapshot.get(16..48)?.try_into().ok()?);
    Some((seq, hash))
}

/// The open engine.
enum Db {
    Sqlite {
        path: PathBuf,
        conn: Connection,
        /// The yield marker this writer raised while waiting for the lock, removed at commit.
        raised_yield: Option<PathBuf>,
    },
    Postgres(Box<Pg>),
}

/// How long a yield marker asks other writers to wait; an older one is stale (its writer
/// died) and ignored.
const YIELD_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a writer waits for a yield marker to go before taking the lock anyway.
const YIELD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a writer waits for the write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The yield marker of the store at `store`.
fn yield_file_for(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".yield");
    PathBuf::from(name)
}

/// Whether a fresh yield marker is at `path`.
fn yield_raised(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age < YIELD_FRESH)
}

impl Drop for Store {
    fn drop(&mut self) {
        self.lower_yield();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("at", &self.at.to_string())
            .field("head", &self.kernel.head())
            .finish_non_exhaustive()
    }
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let sql = sql_error(path);
    // SQLite's multi-thread mode, as rusqlite's own default flags ask: a connection is
    // never used by two threads at once (`Connection` is not `Sync`), so its serialized
    // mode would only lock and unlock a mutex around every call (each column of each row
    // read by an open: an eighth of the reading thread's instructions).
    let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    Ok(conn)
}

fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Damaged {
        seq,
        message: "sequence number out of range".into(),
    })
}

impl Store {
    /// Creates a new store (on PostgreSQL: applies the schema's missing migrations, then
    /// creates the plane), and its key file with fresh keys. A key file that exists already
    /// is used as it is on PostgreSQL and when named ([`Location::with_key_file`]): one
    /// host's keys may serve several planes; the default key file beside an SQLite file is a
    /// removed store's, and replaced. Refused if the plane is already there.
    pub fn create(at: impl Into<Location>) -> Result<Store, StoreError> {
        Self::create_with(at.into(), None)
    }

    /// Creates a new store holding `keys` (`ro copy`: the copy keeps the source's keys, so
    /// its confirmations and API tokens stay valid). A key file already at the destination
    /// must hold the same keys.
    pub fn create_with_keys(at: impl Into<Location>, keys: &Keys) -> Result<Store, StoreError> {
        Self::create_with(at.into(), Some(keys))
    }

    fn create_with(at: Location, given: Option<&Keys>) -> Result<Store, StoreError> {
        let db = match &at.engine {
            Engine::File(path) => {
                let conn = connect(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
                )?;
                let sql = sql_error(path);
                let exists: bool = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE name = 'meta'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(sql)?
                    > 0;
                if exists {
                    return Err(StoreError::Exists(at.to_string()));
                }
                Db::Sqlite {
                    path: path.clone(),
                    conn,
                    raised_yield: None,
                }
            }
            Engine::Postgres(pg_at) => {
                let mut pg = Pg::connect(pg_at)?;
                pg.migrate()?;
                if pg.plane_exists()? {
                    return Err(StoreError::Exists(at.to_string()));
                }
                Db::Postgres(Box::new(pg))
            }
        };
        let existing = Keys::read(&at.key_file)?;
        let reuse = at.named_key_file || matches!(db, Db::Postgres(_));
        let keys = match (given, existing) {
            (Some(given), Some(existing)) if reuse => {
                if given.confirmation != existing.confirmation
                    || given.checkpoint != existing.checkpoint
                {
                    return Err(StoreError::Key(format!(
                        "key file {} holds other keys than the source's: name another with --to-key-file",
                        at.key_file.display()
                    )));
                }
                existing
            }
            (Some(given), _) => {
                given.write(&at.key_file)?;
                given.clone()
            }
            (None, Some(existing)) if reuse => existing,
            (None, _) => {
                let keys = Keys::draw()?;
                keys.write(&at.key_file)?;
                keys
            }
        };
        let mut db = db;
        match &mut db {
            Db::Sqlite { path, conn, .. } => {
                let sql = sql_error(path);
                conn.execute_batch(
                    "BEGIN IMMEDIATE;
                     CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
                     CREATE TABLE journal (seq INTEGER PRIMARY KEY, prev BLOB NOT NULL,
                                           hash BLOB NOT NULL, body BLOB NOT NULL) STRICT;
                     CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL) STRICT;
                     CREATE TABLE api_tokens (token_id TEXT PRIMARY KEY, mac BLOB NOT NULL) STRICT;",
                )
                .map_err(sql)?;
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('format', ?1)",
                    params![FORMAT.as_bytes()],
                )
                .map_err(sql)?;
                conn.execute_batch("COMMIT").map_err(sql)?;
            }
            Db::Postgres(pg) => {
                if !pg.create_plane()? {
                    return Err(StoreError::Exists(at.to_string()));
                }
            }
        }
        let key = keys.confirmation;
        let kernel =
            Kernel::resume(Plane::with_confirmation_key(key), 0, Journal::new()).map_err(|e| {
                StoreError::Damaged {
                    seq: e.seq,
                    message: e.to_string(),
                }
            })?;
        Ok(Store {
            at,
            db,
            kernel,
            durable: 0,
            restored: None,
            keys: Some(keys),
            in_txn: false,
            lean: false,
            snapshot_digest: None,
        })
    }

    /// Opens an existing store: reads every record, checks the chain, and rebuilds the plane
    /// from the latest snapshot and the records after it (or from every record when there is
    /// no usable snapshot).
    pub fn open(at: impl Into<Location>) -> Result<Store, StoreError> {
        Self::open_with(at.into(), Open::Full)
    }

    /// Opens an existing store rebuilding the plane from every record, ignoring snapshots
    /// (what `ro verify` does).
    pub fn open_replaying(at: impl Into<Location>) -> Result<Store, StoreError> {
        Self::open_with(at.into(), Open::Replaying)
    }

    /// Opens an existing store for a host that writes and answers from the state (`ro
    /// status`, `apply`, `snapshot`, `serve`): with the key file and a snapshot this build
    /// wrote (its MAC checks), the plane is restored from it and only the records after it are
    /// read and checked, the snapshot's head row checked against it; the records before it
    /// are trusted as proven when the snapshot was taken (`ro verify`, and `ro serve`'s check
    /// at start, re-read them all). Without one, every record is checked as [`Store::open`]
    /// does. Either way no committed record is held in memory: [`Store::records_after`] reads
    /// them back.
    pub fn open_lean(at: impl Into<Location>) -> Result<Store, StoreError> {
        Self::open_with(at.into(), Open::Lean)
    }

    /// `ro verify`'s open: every record is read, checked and folded from the first, as
    /// [`Store::open_replaying`] does, but none is held: `visit` sees each one once folded.
    /// Each kept snapshot that an open would use (readable, this plane's type, its head's hash
    /// in the journal) must record the state the records fold to at its seq, else
    /// [`StoreError::SnapshotMismatch`]. Returns the store and how many snapshots were checked.
    pub fn open_verifying(
        at: impl Into<Location>,
        visit: &mut dyn FnMut(&Record),
    ) -> Result<(Store, usize), StoreError> {
        let mut checked = 0;
        let store = Self::open_with_visit(at.into(), Open::Verifying, Some(visit), &mut checked)?;
        Ok((store, checked))
    }

    fn open_with(at: Location, mode: Open) -> Result<Store, StoreError> {
        Self::open_with_visit(at, mode, None, &mut 0)
    }

    fn open_with_visit(
        at: Location,
        mode: Open,
        mut visit: Option<&mut dyn FnMut(&Record)>,
        snapshots_checked: &mut usize,
    ) -> Result<Store, StoreError> {
        let use_snapshot = !matches!(mode, Open::Replaying | Open::Verifying);
        let mut db = open_db(&at)?;
        let keys = match &db {
            Db::Sqlite { conn, .. } => read_keys(&at.key_file, conn)?,
            Db::Postgres(_) => Keys::read(&at.key_file)?,
        };
        // Without its key file the store is opened for reading: an ephemeral key mints
        // tokens no commit will ever record.
        let key = match &keys {
            Some(keys) => keys.confirmation,
            None => crate::keys::draw_key()?,
        };
        let snapshot: Option<Vec<u8>> = match (&mut db, use_snapshot) {
            (_, false) => None,
            (Db::Sqlite { path, conn, .. }, true) => conn
                .query_row(
                    "SELECT bytes FROM snapshots ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_error(path))?,
            (Db::Postgres(pg), true) => pg.latest_snapshot()?,
        };
        if let (Open::Lean, Some(k), Some(stored)) = (mode, &keys, &snapshot) {
            let (bytes, mac) = split_mac(stored);
            let authentic = mac.is_some_and(|mac| {
                blake3::Hash::from(k.snapshot_mac(snapshot_checksum(bytes)))
                    == blake3::Hash::from(<[u8; 32]>::try_from(mac).unwrap_or([0; 32]))
            });
            // A snapshot that does not restore (damaged, or the head row differs) falls back
            // to the full read below.
            if authentic && let Ok(kernel) = Self::open_trusted(&mut db, bytes, key) {
                let (seq, _) = snapshot_head(bytes).unwrap_or_default();
                // Checked with the snapshot's checksum by the restore.
                let digest = bytes
                    .get(48..80)
                    .and_then(|d| <[u8; 32]>::try_from(d).ok())
                    .map(|d| (seq, Digest::from_bytes(d)));
                let mut store = Store {
                    at,
                    db,
                    durable: kernel.head().seq,
                    kernel,
                    restored: Some(Restored::FromSnapshot { seq }),
                    keys,
                    in_txn: false,
                    lean: true,
                    snapshot_digest: digest,
                };
                store.forget_committed()?;
                return Ok(store);
            }
        }
        // A lean open uses only a snapshot it can authenticate (above): restoring from
        // another would need every record held until the snapshot's head is found.
        let snapshot = match mode {
            Open::Lean | Open::Verifying => None,
            Open::Full | Open::Replaying => snapshot.map(|stored| split_mac(&stored).0.to_vec()),
        };
        let lean = matches!(mode, Open::Lean | Open::Verifying);
        // The snapshots to check as the fold passes their seqs (ordered by seq).
        let mut to_check: Vec<ro_core::snapshot::SnapshotHeader> = Vec::new();
        if mode == Open::Verifying {
            for stored in db.snapshots()? {
                if let Ok(header) =
                    ro_core::snapshot::snapshot_header::<Plane>(split_mac(&stored).0)
                {
                    to_check.push(header);
                }
            }
            to_check.sort_by_key(|h| std::cmp::Reverse(h.head_seq));
        }
        let mut mismatch: Option<u64> = None;
        // Without a snapshot every record is checked, decoded once and folded as it is read
        // (`Kernel::push_checked`, the self-contained checks run ahead on a second thread);
        // with one, the records are checked into a journal first (the same way, the event
        // skipped) and only those after the snapshot are folded.
        let mut replaying = match snapshot {
            None => Some(
                Kernel::resume(Plane::with_confirmation_key(key), 0, Journal::new())
                    .map_err(replay_damaged)?,
            ),
            Some(_) => None,
        };
        let mut journal = Journal::new();
        db.each_row_after(0, |next| match &mut replaying {
            Some(kernel) => read_rows(next, Record::check::<PlaneEvent>, |c| {
                kernel.push_checked(c)?;
                if let Some(record) = kernel.journal().records().last() {
                    if let Some(visit) = visit.as_mut() {
                        visit(record);
                    }
                    // A snapshot whose head is this record must hold this state.
                    while to_check.last().is_some_and(|h| h.head_seq <= record.seq) {
                        if let Some(header) = to_check.pop()
                            && header.head_seq == record.seq
                            && header.head_hash == record.hash
                        {
                            *snapshots_checked += 1;
                            let digest = ro_core::state_digest(kernel.state()).ok();
                            if digest != Some(header.state_digest) && mismatch.is_none() {
                                mismatch = Some(record.seq);
                            }
                        }
                    }
                }
                if lean && kernel.journal().len() >= FORGET_EVERY {
                    let head = kernel.head().seq;
                    pin_and_forget(kernel, head);
                }
                Ok(())
            }),
            None => read_rows(next, Record::check_shape, |c| {
                journal.push_checked(c).map(drop)
            }),
        })?;
        if let Some(seq) = mismatch {
            return Err(StoreError::SnapshotMismatch { seq });
        }
        let (kernel, restored) = match (replaying, snapshot) {
            (Some(kernel), _) => (kernel, None),
            (None, Some(bytes)) => {
                let (kernel, how) = Kernel::restore_with(
                    &bytes,
                    journal,
                    Plane::with_confirmation_key(key),
                    |plane| plane.set_confirmation_key(key),
                )
                .map_err(replay_damaged)?;
                (kernel, Some(how))
            }
            (None, None) => (
                Kernel::resume(Plane::with_confirmation_key(key), 0, journal)
                    .map_err(replay_damaged)?,
                None,
            ),
        };
        let durable = kernel.journal().head().seq;
        let mut store = Store {
            at,
            db,
            kernel,
            durable,
            restored,
            keys,
            in_txn: false,
            lean,
            snapshot_digest: None,
        };
        if store.lean {
            store.forget_committed()?;
        }
        Ok(store)
    }

    /// The plane from an authenticated snapshot (`bytes`, its MAC checked) and the rows after
    /// it: the snapshot's head row is read and checked against the snapshot's head, then every
    /// later row is checked and folded as at any open.
    fn open_trusted(db: &mut Db, bytes: &[u8], key: [u8; 32]) -> Result<Kernel<Plane>, StoreError> {
        let (seq, hash) = snapshot_head(bytes).ok_or(StoreError::Damaged {
            seq: 0,
            message: "snapshot header".into(),
        })?;
        let mut kernel = None;
        db.each_row_after(seq.saturating_sub(1), |next| {
            let journal = if seq == 0 {
                ro_core::Journal::new()
            } else {
                let row = next()?.ok_or(StoreError::Damaged {
                    seq,
                    message: "the snapshot's head row is missing".into(),
                })?;
                if row.seq != seq || row.hash != hash {
                    return Err(StoreError::SnapshotMismatch { seq });
                }
                // The head row itself is checked (hash, canonical body) and its time kept to
                // order the next row.
                let mut journal = ro_core::Journal::starting_at(Head {
                    seq: seq - 1,
                    hash: row.prev,
                    at: None,
                });
                journal.push_record(row).map_err(damaged)?;
                journal.forget_through(seq);
                journal
            };
            let (restored, _) =
                Kernel::restore_authenticated(bytes, journal, |plane: &mut Plane| {
                    plane.set_confirmation_key(key)
                })
                .map_err(|e| StoreError::Damaged {
                    seq,
                    message: e.to_string(),
                })?;
            let k = kernel.insert(restored);
            // The tail is forgotten as it is folded, as at a full check.
            read_rows(next, Record::check::<PlaneEvent>, |c| {
                k.push_checked(c)?;
                if k.journal().len() >= FORGET_EVERY {
                    let head = k.head().seq;
                    pin_and_forget(k, head);
                }
                Ok(())
            })
        })?;
        kernel.ok_or(StoreError::Damaged {
            seq,
            message: "snapshot".into(),
        })
    }

    /// A lean store forgets the records of the previous batch when the next one starts (they
    /// stay until then for whoever renders or publishes them).
    fn forget_if_lean(&mut self) -> Result<(), StoreError> {
        if self.lean && self.kernel.journal().base().seq < self.durable {
            self.forget_committed()?;
        }
        Ok(())
    }

    /// Drops the committed records from memory, first pinning the `prev` of every open
    /// incident's record (its audit hash), read back from the store when no longer held.
    fn forget_committed(&mut self) -> Result<(), StoreError> {
        let base = self.kernel.journal().base().seq;
        let missing: Vec<u64> = open_incident_seqs(&self.kernel)
            .filter(|&s| s <= base && self.kernel.journal().prev_of(s).is_none())
            .collect();
        for seq in missing {
            if let Some(record) = self.records_between(seq - 1, seq)?.pop() {
                self.kernel.pin_prev(seq, record.prev);
            }
        }
        pin_and_forget(&mut self.kernel, self.durable);
        Ok(())
    }

    /// Up to `limit` records after `after`, in order: from memory when held, else read back
    /// from the store (a lean store holds only its last batch). Records past the durable head
    /// are included only while held (not yet committed).
    pub fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let base = self.kernel.journal().base().seq;
        if after >= base {
            return Ok(self
                .kernel
                .journal()
                .records_after(after)
                .iter()
                .take(limit)
                .cloned()
                .collect());
        }
        let upto = base.min(after.saturating_add(u64::try_from(limit).unwrap_or(u64::MAX)));
        let mut out = self.records_between(after, upto)?;
        let rest = limit.saturating_sub(out.len());
        out.extend(
            self.kernel
                .journal()
                .records_after(base)
                .iter()
                .take(rest)
                .cloned(),
        );
        Ok(out)
    }

    /// The stored records after `after` up to `upto`, each checked against its hash.
    fn records_between(&mut self, after: u64, upto: u64) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        self.db.each_row_between(after, upto, |next| {
            while let Some(record) = next()? {
                // The store's bytes are read back as they were checked at open or commit; a
                // row changed since then is refused rather than served.
                if ro_core::journal::chain_hash(&record.prev, &record.body) != record.hash {
                    return Err(StoreError::Damaged {
                        seq: record.seq,
                        message: "the row's hash does not match its body".into(),
                    });
                }
                out.push(record);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The state digest an authenticated snapshot recorded, while the state is still the
    /// snapshot's (nothing folded after it): what `ro status` prints without re-encoding a
    /// large state.
    pub fn recorded_state_digest(&self) -> Option<Digest> {
        self.snapshot_digest
            .filter(|(seq, _)| *seq == self.kernel.head().seq)
            .map(|(_, digest)| digest)
    }

    /// Re-reads every stored record from the first and checks the chain (each hash, canonical
    /// body, link and time order) on a connection of its own, holding none of them (`visit`
    /// sees each once checked): the check a lean open leaves out, which `ro serve` runs at
    /// start, and the read under `ro checkpoint` and `ro proof`. Returns the head it reached.
    pub fn verify_journal(
        at: &Location,
        visit: &mut dyn FnMut(&Record),
    ) -> Result<Head, StoreError> {
        let mut db = open_db(at)?;
        let mut journal = Journal::new();
        db.each_row_after(0, |next| {
            read_rows(next, Record::check_shape, |c| {
                journal.push_checked(c)?;
                if let Some(record) = journal.records().last() {
                    visit(record);
                }
                if journal.len() >= FORGET_EVERY {
                    let head = journal.head().seq;
                    journal.forget_through(head);
                }
                Ok(())
            })
        })?;
        Ok(journal.head())
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        &self.at
    }

    /// Takes the write lock for a batch of commands and folds what other writers appended
    /// since this one last read, so what it decides next is decided on the journal's tail and
    /// its commit cannot conflict. Returns how many records it read. Does nothing while it
    /// holds the lock already, or while records of its own await their commit.
    ///
    /// On SQLite, if another writer holds the lock and `urgent` says the batch's first command
    /// makes the plane safer (a lockdown, the kill switch), raises the yield marker while
    /// waiting: other writers let it pass before their next batch. Otherwise waits for any
    /// fresh marker to go first (at most [`YIELD_WAIT`]). On PostgreSQL the plane's lock is
    /// granted in the order it was asked for.
    pub fn begin(
        &mut self,
        urgent: impl FnOnce(&Kernel<Plane>) -> bool,
    ) -> Result<usize, StoreError> {
        if self.in_txn || self.kernel.head().seq != self.durable {
            return Ok(0);
        }
        self.forget_if_lean()?;
        match &mut self.db {
            Db::Sqlite {
                path,
                conn,
                raised_yield,
            } => {
                let sql = sql_error(path);
                let marker = yield_file_for(path);
                let mut urgent = Some(urgent);
                let mut is_urgent = None;
                let kernel = &self.kernel;
                let mut ask = || -> bool {
                    *is_urgent.get_or_insert_with(|| urgent.take().is_some_and(|f| f(kernel)))
                };
                if yield_raised(&marker) && !ask() {
                    let waited = std::time::Instant::now();
                    while yield_raised(&marker) && waited.elapsed() < YIELD_WAIT {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                conn.busy_timeout(std::time::Duration::ZERO).map_err(sql)?;
                let first = conn.execute_batch("BEGIN IMMEDIATE");
                conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
                if let Err(e) = first {
                    if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
                        return Err(sql(e));
                    }
                    if ask() && std::fs::write(&marker, std::process::id().to_string()).is_ok() {
                        *raised_yield = Some(marker);
                    }
                    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                        let e = sql(e);
                        self.lower_yield();
                        return Err(e);
                    }
                }
            }
            Db::Postgres(pg) => {
                // The plane row holds the head: when no one else wrote, nothing is read.
                if pg.lock_head()? == self.durable {
                    self.in_txn = true;
                    return Ok(0);
                }
            }
        }
        self.in_txn = true;
        match self.catch_up() {
            Ok(n) => Ok(n),
            Err(e) => {
                self.end_txn(false);
                Err(e)
            }
        }
    }

    /// Folds what other writers committed since this one last read, without taking the write
    /// lock (a server between batches learns the other hosts' records this way). Does nothing
    /// while it holds the lock, or while records of its own await their commit. Returns how
    /// many records it read.
    pub fn follow(&mut self) -> Result<usize, StoreError> {
        if self.in_txn || self.kernel.head().seq != self.durable {
            return Ok(0);
        }
        self.forget_if_lean()?;
        self.catch_up()
    }

    /// Folds the records other writers appended after this one's durable head.
    fn catch_up(&mut self) -> Result<usize, StoreError> {
        let kernel = &mut self.kernel;
        let mut n = 0;
        self.db.each_row_after(self.durable, |next| {
            while let Some(record) = next()? {
                kernel
                    .push_checked(Record::check::<PlaneEvent>(record))
                    .map_err(damaged)?;
                n += 1;
            }
            Ok(())
        })?;
        self.durable = self.kernel.head().seq;
        Ok(n)
    }

    /// Ends the transaction `begin` opened (committing or rolling back) and lowers the yield
    /// marker this writer raised.
    fn end_txn(&mut self, commit: bool) {
        if self.in_txn {
            match &mut self.db {
                Db::Sqlite { conn, .. } => {
                    let _ = conn.execute_batch(if commit { "COMMIT" } else { "ROLLBACK" });
                }
                Db::Postgres(pg) => {
                    let _ = pg.end(commit);
                }
            }
            self.in_txn = false;
        }
        self.lower_yield();
    }

    fn lower_yield(&mut self) {
        if let Db::Sqlite { raised_yield, .. } = &mut self.db
            && let Some(marker) = raised_yield.take()
        {
            let _ = std::fs::remove_file(marker);
        }
    }

    /// How the plane was rebuilt when the store was opened: from a snapshot, or by a full
    /// replay because the snapshot was unusable (and why); `None` when no snapshot was used.
    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    /// Checks every kept snapshot against the journal: the state digest it records must be
    /// the digest of the state the journal's records fold to at the snapshot's seq. A
    /// snapshot's own checks (checksum, layout, recorded digest) catch damage but not a
    /// snapshot written whole by someone else, which an open would trust; this replays the
    /// journal up to each snapshot to prove it. Snapshots an open would not use anyway
    /// (unreadable, for another state type, or not matching the journal's head hash) are
    /// skipped. Returns how many were checked; `ro verify` runs it after a full replay.
    pub fn verify_snapshots(&mut self) -> Result<usize, StoreError> {
        let blobs = self.db.snapshots()?;
        let journal = self.kernel.journal();
        let mut headers = Vec::new();
        for stored in &blobs {
            let (bytes, _) = split_mac(stored);
            let Ok(header) = ro_core::snapshot::snapshot_header::<Plane>(bytes) else {
                continue;
            };
            // The head check an open makes before using a snapshot.
            if header.matches(journal) {
                headers.push(header);
            }
        }
        headers.sort_by_key(|h| h.head_seq);
        let mut plane = Plane::default();
        let mut folded = 0u64;
        for header in &headers {
            let upto = header.head_seq;
            for record in journal
                .records_after(folded)
                .iter()
                .take_while(|r| r.seq <= upto)
            {
                let envelope = record
                    .decode::<PlaneEvent>()
                    .map_err(|e| StoreError::Damaged {
                        seq: record.seq,
                        message: e.to_string(),
                    })?;
                ro_core::Decider::evolve(&mut plane, &envelope.event, &envelope.meta());
            }
            folded = upto;
            let digest = ro_core::state_digest(&plane).map_err(|e| StoreError::Damaged {
                seq: header.head_seq,
                message: e.to_string(),
            })?;
            if digest != header.state_digest {
                return Err(StoreError::SnapshotMismatch {
                    seq: header.head_seq,
                });
            }
        }
        Ok(headers.len())
    }

    /// Writes a snapshot of the plane at the durable head (commit first) and keeps only the
    /// latest [`SNAPSHOTS_KEPT`]. Returns the snapshot's seq and size in bytes.
    pub fn snapshot(&mut self) -> Result<(u64, usize), StoreError> {
        self.commit()?;
        let seq = self.kernel.head().seq;
        let bytes = self.kernel.snapshot().map_err(|e| StoreError::Damaged {
            seq,
            message: e.to_string(),
        })?;
        let mut bytes = bytes;
        if let Some(keys) = &self.keys {
            let mac = keys.snapshot_mac(snapshot_checksum(&bytes));
            bytes.extend_from_slice(SNAPSHOT_MAC_TAG);
            bytes.extend_from_slice(&mac);
        }
        self.put_snapshot(seq, &bytes)?;
        Ok((seq, bytes.len()))
    }

    /// Keeps snapshot `bytes` taken at `seq` (and only the latest [`SNAPSHOTS_KEPT`]); `ro
    /// copy` carries snapshots this way. An open checks a snapshot before it trusts it.
    pub fn put_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let seq_i = seq_i64(seq)?;
        match &mut self.db {
            Db::Sqlite { path, conn, .. } => {
                let sql = sql_error(path);
                conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
                let written = conn
                    .execute(
                        "INSERT OR REPLACE INTO snapshots (seq, bytes) VALUES (?1, ?2)",
                        params![seq_i, bytes],
                    )
                    .and_then(|_| {
                        conn.execute(
                            "DELETE FROM snapshots WHERE seq NOT IN
                               (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
                            params![SNAPSHOTS_KEPT],
                        )
                    })
                    .and_then(|_| conn.execute_batch("COMMIT"));
                if let Err(e) = written {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(sql(e));
                }
                Ok(())
            }
            Db::Postgres(pg) => pg.put_snapshot(seq_i, bytes, SNAPSHOTS_KEPT),
        }
    }

    /// Every kept snapshot, by seq (what `ro copy` carries).
    pub fn snapshots(&mut self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.db.snapshots_by_seq()
    }

    /// The key file's keys (`None`: opened without them, for reading).
    pub fn keys(&self) -> Option<&Keys> {
        self.keys.as_ref()
    }

    /// Keeps the keyed hash of an API token's secret ([`Keys::token_mac`]), outside the
    /// journal: the secret itself is never stored, and the journal records only the token's
    /// id, principal and expiry. Refused for an id already kept.
    pub fn put_token_mac(&mut self, token_id: &str, mac: &[u8; 32]) -> Result<(), StoreError> {
        match &mut self.db {
            Db::Sqlite { path, conn, .. } => {
                conn.execute(
                    "INSERT INTO api_tokens (token_id, mac) VALUES (?1, ?2)",
                    params![token_id, &mac[..]],
                )
                .map_err(sql_error(path))?;
                Ok(())
            }
            Db::Postgres(pg) => pg.put_token_mac(token_id, mac),
        }
    }

    /// Every kept token hash, by token id.
    pub fn token_macs(
        &mut self,
    ) -> Result<std::collections::BTreeMap<String, [u8; 32]>, StoreError> {
        let rows: Vec<(String, Vec<u8>)> = match &mut self.db {
            Db::Sqlite { path, conn, .. } => {
                let sql = sql_error(path);
                let mut stmt = conn
                    .prepare("SELECT token_id, mac FROM api_tokens")
                    .map_err(sql)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql)?;
                rows.collect::<Result<_, _>>().map_err(sql)?
            }
            Db::Postgres(pg) => pg.token_macs()?,
        };
        let mut macs = std::collections::BTreeMap::new();
        for (id, mac) in rows {
            let mac: [u8; 32] = mac.try_into().map_err(|_| StoreError::Damaged {
                seq: 0,
                message: format!("the kept hash of token {id} is not 32 bytes"),
            })?;
            macs.insert(id, mac);
        }
        Ok(macs)
    }

    /// The plane's kernel: execute commands on it, then [`Store::commit`].
    pub fn kernel_mut(&mut self) -> &mut Kernel<Plane> {
        &mut self.kernel
    }

    /// The plane's kernel.
    pub fn kernel(&self) -> &Kernel<Plane> {
        &self.kernel
    }

    /// The head.
    pub fn head(&self) -> Head {
        self.kernel.head()
    }

    /// Writes every record appended since the last commit in one transaction (group commit).
    /// Responses for those records may be printed once this returns `Ok`. On error nothing was
    /// written and the in-memory plane is ahead of the store: drop it and reopen.
    pub fn commit(&mut self) -> Result<usize, StoreError> {
        let pending = self.kernel.journal().records_after(self.durable);
        if pending.is_empty() {
            self.end_txn(true);
            return Ok(0);
        }
        if self.keys.is_none() {
            self.end_txn(false);
            return Err(StoreError::KeysMissing(self.at.key_file.clone()));
        }
        let outcome = self.db.append(self.in_txn, self.durable, pending);
        // Whatever the outcome, the transaction is over (committed, or rolled back).
        self.in_txn = false;
        if let Err(e) = outcome {
            self.end_txn(false);
            return Err(e);
        }
        let n = pending.len();
        self.lower_yield();
        self.durable = self.kernel.head().seq;
        Ok(n)
    }

    /// Appends records of another store (`ro copy`): each must extend this store's head; they
    /// are checked and folded like rows read at open, and written in one transaction per
    /// batch. The records keep their bytes, so every hash is kept.
    pub fn append_records(&mut self, records: Vec<Record>) -> Result<(), StoreError> {
        for record in records {
            self.kernel
                .push_checked(Record::check::<PlaneEvent>(record))
                .map_err(damaged)?;
        }
        self.commit().map(drop)
    }
}

impl Db {
    /// Hands `read` a reader of the journal's rows after `after`, in order.
    fn each_row_after(
        &mut self,
        after: u64,
        read: impl FnOnce(
            &mut dyn FnMut() -> Result<Option<Record>, StoreError>,
        ) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.each_row_between(after, u64::MAX, read)
    }

    /// Hands `read` a reader of the journal's rows after `after` up to `upto`, in order.
    fn each_row_between(
        &mut self,
        after: u64,
        upto: u64,
        read: impl FnOnce(
            &mut dyn FnMut() -> Result<Option<Record>, StoreError>,
        ) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Db::Sqlite { path, conn, .. } => {
                let after = seq_i64(after)?;
                let upto = i64::try_from(upto).unwrap_or(i64::MAX);
                let sql = sql_error(path);
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT seq, prev, hash, body FROM journal WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
                    )
                    .map_err(sql)?;
                let mut rows = stmt.query([after, upto]).map_err(sql)?;
                let path = path.as_path();
                read(&mut || match rows.next() {
                    Ok(Some(row)) => read_row(row, path).map(Some),
                    Ok(None) => Ok(None),
                    Err(e) => Err(sql(e)),
                })
            }
            Db::Postgres(pg) => {
                let at = pg.at.clone();
                let mut rows = pg.rows_after(after, upto)?;
                read(&mut || crate::pg::next_record(&mut rows, &at))
            }
        }
    }

    fn snapshots_by_seq(&mut self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        match self {
            Db::Sqlite { path, conn, .. } => {
                let sql = sql_error(path);
                let mut stmt = conn
                    .prepare("SELECT seq, bytes FROM snapshots ORDER BY seq")
                    .map_err(sql)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?))
                    })
                    .map_err(sql)?;
                rows.collect::<Result<_, _>>().map_err(sql)
            }
            Db::Postgres(pg) => pg.snapshots(),
        }
    }

    fn snapshots(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .snapshots_by_seq()?
            .into_iter()
            .map(|(_, bytes)| bytes)
            .collect())
    }

    /// Writes `pending` (the records after `durable`) in one transaction, opened here unless
    /// `in_txn`, after checking under the lock that the store's head is still `durable`;
    /// commits. On error the transaction is rolled back.
    fn append(&mut self, in_txn: bool, durable: u64, pending: &[Record]) -> Result<(), StoreError> {
        match self {
            Db::Sqlite { path, conn, .. } => {
                let sql = sql_error(path);
                // Take the write lock before reading the head, so two writers cannot both
                // pass the check (unless `begin` holds it already).
                if !in_txn {
                    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
                }
                let written = write_records(path, conn, durable, pending)
                    .and_then(|()| conn.execute_batch("COMMIT").map_err(sql));
                if written.is_err() {
                    // Best effort: the transaction may already be gone with the error.
                    let _ = conn.execute_batch("ROLLBACK");
                }
                written
            }
            Db::Postgres(pg) => {
                let actual = if in_txn { durable } else { pg.lock_head()? };
                let written = if actual == durable {
                    pg.insert(pending).and_then(|()| pg.end(true))
                } else {
                    Err(StoreError::Conflict {
                        expected: durable,
                        actual,
                    })
                };
                if written.is_err() {
                    let _ = pg.end(false);
                }
                written
            }
        }
    }
}

/// The store's keys, from its key file. A store written before keys moved out of it holds its
/// confirmation key in `meta`: the key file is written with a new key and the old one erased
/// from the store (tokens already issued stay valid: the journal holds their digests). `None`
/// when there is no key file and none can be written.
fn read_keys(file: &Path, conn: &Connection) -> Result<Option<Keys>, StoreError> {
    if let Some(keys) = Keys::read(file)? {
        return Ok(Some(keys));
    }
    let sql = |source| StoreError::Key(format!("reading the store's legacy key: {source}"));
    let legacy = conn
        .query_row(
            "SELECT count(*) FROM meta WHERE key = 'confirmation_key'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(sql)?
        > 0;
    if !legacy {
        return Ok(None);
    }
    let keys = Keys::draw()?;
    if keys.write(file).is_err() {
        return Ok(None);
    }
    // Overwrite the old key's bytes, in the database and in the write-ahead log.
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         DELETE FROM meta WHERE key = 'confirmation_key';
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .map_err(sql)?;
    Ok(Some(keys))
}

fn write_records(
    path: &Path,
    conn: &Connection,
    durable: u64,
    pending: &[Record],
) -> Result<(), StoreError> {
    let sql = sql_error(path);
    let actual: i64 = conn
        .query_row("SELECT coalesce(max(seq), 0) FROM journal", [], |r| {
            r.get(0)
        })
        .map_err(sql)?;
    let actual = u64::try_from(actual).unwrap_or(0);
    if actual != durable {
        return Err(StoreError::Conflict {
            expected: durable,
            actual,
        });
    }
    let mut stmt = conn
        .prepare_cached("INSERT INTO journal (seq, prev, hash, body) VALUES (?1, ?2, ?3, ?4)")
        .map_err(sql)?;
    for r in pending {
        stmt.execute(params![
            seq_i64(r.seq)?,
            &r.prev.as_bytes()[..],
            &r.hash.as_bytes()[..],
            &r.body
        ])
        .map_err(sql)?;
    }
    Ok(())
}

/// Turns one journal row (`seq`, `prev`, `hash`, `body` as SQLite holds them) into a
/// [`Record`]: a negative seq or a digest that is not 32 bytes is [`StoreError::Damaged`]. The
/// record is not yet checked against the chain: [`Journal::push_record`] does that (and the
/// fuzz target `journal_rows` drives both).
pub fn decode_row(seq: i64, prev: &[u8], hash: &[u8], body: Vec<u8>) -> Result<Record, StoreError> {
    let damaged = |seq: u64, message: &str| StoreError::Damaged {
        seq,
        message: message.into(),
    };
    let seq = u64::try_from(seq).map_err(|_| damaged(0, "a stored seq is negative"))?;
    let digest = |bytes: &[u8]| -> Result<Digest, StoreError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| damaged(seq, "a stored digest is not 32 bytes"))?;
        Ok(Digest::from_bytes(bytes))
    };
    Ok(Record {
        seq,
        prev: digest(prev)?,
        hash: digest(hash)?,
        body,
    })
}

/// One journal row as a record (the digests are read in place, not copied out first).
fn read_row(row: &rusqlite::Row<'_>, path: &Path) -> Result<Record, StoreError> {
    let sql = sql_error(path);
    let blob = |i: usize| -> Result<&[u8], StoreError> {
        row.get_ref(i)
            .and_then(|v| v.as_blob().map_err(rusqlite::Error::from))
            .map_err(sql)
    };
    let seq: i64 = row.get(0).map_err(sql)?;
    let (prev, hash) = (blob(1)?, blob(2)?);
    let body: Vec<u8> = row.get(3).map_err(sql)?;
    decode_row(seq, prev, hash, body)
}

/// How many records are checked together, on either thread.
const CHECK_BATCH: usize = 256;

/// Reads every journal row and pushes it (into a kernel, which folds it, or into a journal),
/// in order. Each record's self-contained checks (`check`: its hash, canonical form and
/// decoding, most of the work of an open) run on a second thread while this one reads the
/// next rows from SQLite and links and pushes the records already checked; when the second
/// thread falls behind, this one checks the next batch itself, so both stay busy. The outcome
/// is exactly a sequential read's, first error included: a row that cannot be read is
/// reported only after every record before it was pushed. Without a second thread (the OS
/// refused one) all the work runs here.
fn read_rows<E: Send>(
    mut next_record: impl FnMut() -> Result<Option<Record>, StoreError>,
    check: fn(Record) -> CheckedRecord<E>,
    mut push: impl FnMut(CheckedRecord<E>) -> Result<(), VerifyError>,
) -> Result<(), StoreError> {
    use std::collections::VecDeque;
    use std::sync::mpsc;
    /// A batch in flight, in journal order: on the checking thread, or checked here.
    enum Slot<E> {
        Away,
        Here(Vec<CheckedRecord<E>>),
    }
    std::thread::scope(|scope| {
        let (to_check, inbox) = mpsc::sync_channel::<Vec<Record>>(2);
        let (to_fold, checked) = mpsc::channel::<Vec<CheckedRecord<E>>>();
        let spawned = std::thread::Builder::new()
            .name("ro-open-check".into())
            .spawn_scoped(scope, move || {
                for batch in inbox {
                    let batch = batch.into_iter().map(check).collect();
                    if to_fold.send(batch).is_err() {
                        break;
                    }
                }
            });
        let to_check = spawned.is_ok().then_some(to_check);
        let mut pending: VecDeque<Slot<E>> = VecDeque::new();
        // Pushes the batches at the front that are ready (all of them when `wait`).
        let mut push_ready =
            |pending: &mut VecDeque<Slot<E>>, wait: bool| -> Result<(), StoreError> {
                while let Some(front) = pending.pop_front() {
                    let batch = match front {
                        Slot::Here(batch) => batch,
                        Slot::Away => {
                            let received = if wait {
                                checked.recv().ok()
                            } else {
                                checked.try_recv().ok()
                            };
                            match received {
                                Some(batch) => batch,
                                // The checking thread only drops a batch after this one stopped
                                // listening; not yet ready otherwise.
                                None if wait => break,
                                None => {
                                    pending.push_front(Slot::Away);
                                    break;
                                }
                            }
                        }
                    };
                    batch.into_iter().try_for_each(&mut push).map_err(damaged)?;
                }
                Ok(())
            };
        let dispatch = |batch: Vec<Record>, pending: &mut VecDeque<Slot<E>>| {
            let batch = match &to_check {
                Some(to_check) => match to_check.try_send(batch) {
                    Ok(()) => {
                        pending.push_back(Slot::Away);
                        return;
                    }
                    Err(
                        mpsc::TrySendError::Full(batch) | mpsc::TrySendError::Disconnected(batch),
                    ) => batch,
                },
                None => batch,
            };
            pending.push_back(Slot::Here(batch.into_iter().map(check).collect()));
        };
        let mut batch = Vec::with_capacity(CHECK_BATCH);
        let mut unread = Ok(());
        loop {
            match next_record() {
                Ok(Some(record)) => batch.push(record),
                Ok(None) => break,
                Err(e) => {
                    unread = Err(e);
                    break;
                }
            }
            if batch.len() == CHECK_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(CHECK_BATCH));
                dispatch(full, &mut pending);
                push_ready(&mut pending, false)?;
            }
        }
        if !batch.is_empty() {
            dispatch(batch, &mut pending);
        }
        drop(to_check);
        push_ready(&mut pending, true)?;
        unread
    })
}

fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn damaged(e: VerifyError) -> StoreError {
    StoreError::Damaged {
        seq: e.seq,
        message: e.to_string(),
    }
}

fn replay_damaged(e: ReplayError) -> StoreError {
    StoreError::Damaged {
        seq: e.seq,
        message: e.to_string(),
    }
}
