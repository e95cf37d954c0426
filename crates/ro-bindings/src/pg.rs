//! The shared store's engine on PostgreSQL: the same rows as the SQLite file (seq, prev, hash,
//! canonical body), snapshots and token hashes, for several planes in one database (told apart
//! by the `plane` column). The schema is versioned in `migrations/postgres/` and applied by
//! `ro init` under an advisory lock.
//!
//! A batch is appended in one transaction that holds the plane row's lock, checks the head the
//! writer expects and inserts the rows; the database refuses, in the same statement, any batch
//! that does not extend the head exactly (a trigger), and the primary key (plane, seq) an equal
//! or lower seq, so no writer (ro or not) can fork the chain. Committing notifies channel
//! [`CHANNEL`] with the plane's name, so other hosts read the new rows at once.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use ro_core::Record;

use crate::store::{FORMAT, StoreError, decode_row};

/// The migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "journal",
    include_str!("../migrations/postgres/0001_journal.sql"),
)];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i32 = 1;

/// The channel a commit notifies, with the plane's name as the payload.
pub const CHANNEL: &str = "ro_journal";

/// The advisory lock key migrations are applied under (any constant; `ro` in ASCII).
const MIGRATION_LOCK: i64 = 0x726f_0001;

/// Where a plane lives in PostgreSQL: the connection and the plane's name.
#[derive(Clone)]
pub struct PgLocation {
    config: postgres::Config,
    /// The plane's name (`?plane=NAME` in the URL; `default` without it).
    plane: String,
    /// The URL as shown: never with its password.
    shown: String,
}

impl std::fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Whether `text` names a PostgreSQL store.
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl PgLocation {
    /// Parses `postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE[?plane=NAME&...]`. The user
    /// defaults to `$USER`, as libpq's does; `plane` names the plane (letters, digits, `_`,
    /// `.`, `-`; `default` without it); the other parameters are the driver's.
    pub fn parse(url: &str, default_user: Option<&str>) -> Result<PgLocation, String> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut plane = None;
        let mut rest = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("plane", name)) => plane = Some(name.to_owned()),
                _ if pair.is_empty() => {}
                _ => rest.push(pair),
            }
        }
        let plane = plane.unwrap_or_else(|| "default".to_owned());
        if plane.is_empty()
            || plane.len() > 64
            || !plane
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(format!(
                "plane name {plane:?}: use 1 to 64 letters, digits, '_', '.' or '-'"
            ));
        }
        let driver_url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: postgres::Config = driver_url
            .parse()
            .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if config.get_user().is_none() {
            match default_user {
                Some(user) => {
                    config.user(user);
                }
                None => return Err("the URL names no user and $USER is not set".into()),
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("ro");
        // Shown without the password, whatever the URL held.
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_default();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let shown = format!(
            "postgres://{}@{host}:{port}/{}?plane={plane}",
            config.get_user().unwrap_or_default(),
            config.get_dbname().unwrap_or_default()
        );
        Ok(PgLocation {
            config,
            plane,
            shown,
        })
    }

    /// The plane's name.
    pub fn plane(&self) -> &str {
        &self.plane
    }

    /// A new connection.
    pub fn connect(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(pg_error(self))
    }
}

/// Wraps a driver error with the store's (password-free) location.
pub fn pg_error(at: &PgLocation) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |source| StoreError::Postgres {
        store: at.shown.clone(),
        source,
    }
}

/// An open connection to one plane.
pub(crate) struct Pg {
    pub(crate) at: PgLocation,
    client: Client,
    /// The statements of every batch, prepared once (each preparation is a round trip).
    prepared: Option<Prepared>,
}

#[derive(Clone)]
struct Prepared {
    lock_head: postgres::Statement,
    insert: postgres::Statement,
}

impl Pg {
    pub(crate) fn connect(at: &PgLocation) -> Result<Pg, StoreError> {
        Ok(Pg {
            client: at.connect()?,
            at: at.clone(),
            prepared: None,
        })
    }

    /// The batch's statements, prepared on first use (a statement is a cheap handle).
    fn prepared(&mut self) -> Result<Prepared, StoreError> {
        if let Some(prepared) = &self.prepared {
            return Ok(prepared.clone());
        }
        let err = pg_error(&self.at);
        let mut prepare = |sql: &str| self.client.prepare(sql).map_err(&err);
        let prepared = Prepared {
            lock_head: prepare("SELECT head_seq FROM ro_planes WHERE plane = $1 FOR UPDATE")?,
            insert: prepare(
                "INSERT INTO ro_journal (plane, seq, prev, hash, body)
                 SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[])",
            )?,
        };
        self.prepared = Some(prepared.clone());
        Ok(prepared)
    }

    /// Applies the migrations this database lacks, under an advisory lock (two `ro init`
    /// at once apply each migration once). Returns the versions applied.
    pub(crate) fn migrate(&mut self) -> Result<Vec<i32>, StoreError> {
        let at = self.at.clone();
        let err = pg_error(&at);
        let mut tx = self.client.transaction().map_err(&err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(&err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS ro_migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .map_err(&err)?;
        let mut applied = Vec::new();
        let have: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM ro_migrations", &[])
            .map_err(&err)?
            .get(0);
        if have > SCHEMA_VERSION {
            return Err(StoreError::Schema(format!(
                "the database's ro schema is version {have}, newer than this build's {SCHEMA_VERSION}: upgrade ro"
            )));
        }
        for (version, name, sql) in MIGRATIONS {
            if *version <= have {
                continue;
            }
            tx.batch_execute(sql).map_err(&err)?;
            tx.execute(
                "INSERT INTO ro_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .map_err(&err)?;
            applied.push(*version);
        }
        tx.commit().map_err(&err)?;
        Ok(applied)
    }

    /// The schema version of the database (0: never migrated).
    fn schema_version(&mut self) -> Result<i32, StoreError> {
        let at = self.at.clone();
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('ro_migrations') IS NOT NULL", &[])
            .map_err(pg_error(&at))?
            .get(0);
        if !exists {
            return Ok(0);
        }
        Ok(self
            .client
            .query_one("SELECT coalesce(max(version), 0) FROM ro_migrations", &[])
            .map_err(pg_error(&at))?
            .get(0))
    }

    /// Creates the plane's row; `Ok(false)` when the plane exists already.
    pub(crate) fn create_plane(&mut self) -> Result<bool, StoreError> {
        let at = self.at.clone();
        let n = self
            .client
            .execute(
                "INSERT INTO ro_planes (plane, format) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&at.plane, &FORMAT],
            )
            .map_err(pg_error(&at))?;
        Ok(n == 1)
    }

    /// Whether the plane exists, with a schema this build reads. A database migrated to an
    /// older version is refused with what to run.
    pub(crate) fn plane_exists(&mut self) -> Result<bool, StoreError> {
        let version = self.schema_version()?;
        if version == 0 {
            return Ok(false);
        }
        if version != SCHEMA_VERSION {
            return Err(StoreError::Schema(format!(
                "the database's ro schema is version {version}, this build's is {SCHEMA_VERSION}: {}",
                if version < SCHEMA_VERSION {
                    "run `ro init` (it applies the missing migrations)"
                } else {
                    "upgrade ro"
                }
            )));
        }
        let at = self.at.clone();
        let format: Option<String> = self
            .client
            .query_opt(
                "SELECT format FROM ro_planes WHERE plane = $1",
                &[&at.plane],
            )
            .map_err(pg_error(&at))?
            .map(|r| r.get(0));
        match format {
            None => Ok(false),
            Some(f) if f == FORMAT => Ok(true),
            Some(f) => Err(StoreError::Schema(format!(
                "plane {} has format {f}, not {FORMAT}",
                at.plane
            ))),
        }
    }

    /// The plane's rows after `after`, in order, streamed ([`next_record`] reads them).
    /// Only rows up to `upto` are read.
    pub(crate) fn rows_after(
        &mut self,
        after: u64,
        upto: u64,
    ) -> Result<postgres::RowIter<'_>, StoreError> {
        let at = self.at.clone();
        let err = pg_error(&at);
        let after = i64::try_from(after).map_err(|_| StoreError::Damaged {
            seq: after,
            message: "sequence number out of range".into(),
        })?;
        let upto = i64::try_from(upto).unwrap_or(i64::MAX);
        // Not prepared: planned for the seq given (a generic plan of "the rows after seq $2"
        // expects a third of the journal and may sort it all, where the tail is a few rows of
        // the index).
        let params: [&(dyn postgres::types::ToSql + Sync); 3] = [&at.plane, &after, &upto];
        self.client
            .query_raw(
                "SELECT seq, prev, hash, body FROM ro_journal
                  WHERE plane = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                params,
            )
            .map_err(&err)
    }

    /// Opens a transaction holding the plane row's lock; returns the stored head seq.
    pub(crate) fn lock_head(&mut self) -> Result<u64, StoreError> {
        let at = self.at.clone();
        let err = pg_error(&at);
        let stmt = self.prepared()?.lock_head;
        self.client.batch_execute("BEGIN").map_err(&err)?;
        let head = self.client.query_opt(&stmt, &[&at.plane]).map_err(&err);
        match head {
            Ok(Some(row)) => Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)),
            Ok(None) => {
                let _ = self.end(false);
                Err(StoreError::Missing(at.shown.clone()))
            }
            Err(e) => {
                let _ = self.end(false);
                Err(e)
            }
        }
    }

    /// Inserts `pending` in the open transaction (the head was checked by the caller under
    /// the lock); the database notifies the other hosts at commit.
    pub(crate) fn insert(&mut self, pending: &[Record]) -> Result<(), StoreError> {
        let at = self.at.clone();
        let err = pg_error(&at);
        let mut seqs = Vec::with_capacity(pending.len());
        let mut prevs = Vec::with_capacity(pending.len());
        let mut hashes = Vec::with_capacity(pending.len());
        let mut bodies = Vec::with_capacity(pending.len());
        for r in pending {
            seqs.push(i64::try_from(r.seq).map_err(|_| StoreError::Damaged {
                seq: r.seq,
                message: "sequence number out of range".into(),
            })?);
            prevs.push(&r.prev.as_bytes()[..]);
            hashes.push(&r.hash.as_bytes()[..]);
            bodies.push(&r.body[..]);
        }
        let stmt = self.prepared()?.insert;
        self.client
            .execute(&stmt, &[&at.plane, &seqs, &prevs, &hashes, &bodies])
            .map_err(&err)?;
        Ok(())
    }

    /// Ends the open transaction.
    pub(crate) fn end(&mut self, commit: bool) -> Result<(), StoreError> {
        let at = self.at.clone();
        self.client
            .batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .map_err(pg_error(&at))
    }

    /// The latest snapshot's bytes.
    pub(crate) fn latest_snapshot(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let at = self.at.clone();
        Ok(self
            .client
            .query_opt(
                "SELECT bytes FROM ro_snapshots WHERE plane = $1 ORDER BY seq DESC LIMIT 1",
                &[&at.plane],
            )
            .map_err(pg_error(&at))?
            .map(|r| r.get(0)))
    }

    /// Every snapshot's bytes, by seq.
    pub(crate) fn snapshots(&mut self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let at = self.at.clone();
        Ok(self
            .client
            .query(
                "SELECT seq, bytes FROM ro_snapshots WHERE plane = $1 ORDER BY seq",
                &[&at.plane],
            )
            .map_err(pg_error(&at))?
            .into_iter()
            .map(|r| (u64::try_from(r.get::<_, i64>(0)).unwrap_or(0), r.get(1)))
            .collect())
    }

    /// Keeps a snapshot and only the latest `kept`.
    pub(crate) fn put_snapshot(
        &mut self,
        seq: i64,
        bytes: &[u8],
        kept: i64,
    ) -> Result<(), StoreError> {
        let at = self.at.clone();
        let err = pg_error(&at);
        let mut tx = self.client.transaction().map_err(&err)?;
        tx.execute(
            "INSERT INTO ro_snapshots (plane, seq, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (plane, seq) DO UPDATE SET bytes = excluded.bytes",
            &[&at.plane, &seq, &bytes],
        )
        .map_err(&err)?;
        tx.execute(
            "DELETE FROM ro_snapshots WHERE plane = $1 AND seq NOT IN
               (SELECT seq FROM ro_snapshots WHERE plane = $1 ORDER BY seq DESC LIMIT $2)",
            &[&at.plane, &kept],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    pub(crate) fn put_token_mac(
        &mut self,
        token_id: &str,
        mac: &[u8; 32],
    ) -> Result<(), StoreError> {
        let at = self.at.clone();
        self.client
            .execute(
                "INSERT INTO ro_api_tokens (plane, token_id, mac) VALUES ($1, $2, $3)",
                &[&at.plane, &token_id, &&mac[..]],
            )
            .map_err(pg_error(&at))?;
        Ok(())
    }

    pub(crate) fn token_macs(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let at = self.at.clone();
        Ok(self
            .client
            .query(
                "SELECT token_id, mac FROM ro_api_tokens WHERE plane = $1",
                &[&at.plane],
            )
            .map_err(pg_error(&at))?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}

/// The next record of [`Pg::rows_after`].
pub(crate) fn next_record(
    rows: &mut postgres::RowIter<'_>,
    at: &PgLocation,
) -> Result<Option<Record>, StoreError> {
    match rows.next() {
        Ok(Some(row)) => decode(&row).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(pg_error(at)(e)),
    }
}

fn decode(row: &postgres::Row) -> Result<Record, StoreError> {
    let bad = |e: postgres::Error| StoreError::Damaged {
        seq: 0,
        message: format!("a journal row does not read: {e}"),
    };
    let seq: i64 = row.try_get(0).map_err(bad)?;
    let prev: &[u8] = row.try_get(1).map_err(bad)?;
    let hash: &[u8] = row.try_get(2).map_err(bad)?;
    let body: Vec<u8> = row.try_get(3).map_err(bad)?;
    decode_row(seq, prev, hash, body)
}

/// The host-wide lease of one plane (the scheduler's): a session advisory lock, held on its
/// own connection for as long as the holder lives. A holder that dies loses its connection,
/// and with it the lease; another host takes it on its next try.
pub struct Lease {
    at: PgLocation,
    key: i64,
    client: Option<Client>,
}

impl Lease {
    /// A lease named `name` on the plane at `at` (not yet taken).
    pub fn new(at: &PgLocation, name: &str) -> Lease {
        let digest = blake3::hash(format!("ro lease {name} {}", at.plane).as_bytes());
        let mut key = [0u8; 8];
        for (k, b) in key.iter_mut().zip(digest.as_bytes()) {
            *k = *b;
        }
        Lease {
            at: at.clone(),
            key: i64::from_le_bytes(key),
            client: None,
        }
    }

    /// Whether this host holds the lease, taking it if it is free. Checks the connection:
    /// a lost one (database restarted) is reconnected and the lease taken again if free.
    pub fn hold(&mut self) -> bool {
        if let Some(client) = &mut self.client {
            if client.is_valid(Duration::from_secs(2)).is_ok() {
                return true;
            }
            self.client = None;
        }
        let Ok(mut client) = self.at.connect() else {
            return false;
        };
        let taken = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&self.key])
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false);
        if taken {
            self.client = Some(client);
        }
        taken
    }
}

/// Waits for other hosts' commits on the plane at `at`: blocks until a notification for the
/// plane arrives or `timeout` passes (the caller reads the rows either way: a notification
/// can be lost with a connection). Reconnects a lost connection.
pub struct Follower {
    at: PgLocation,
    client: Option<Client>,
}

impl Follower {
    /// A follower of the plane at `at` (connects on first wait).
    pub fn new(at: &PgLocation) -> Follower {
        Follower {
            at: at.clone(),
            client: None,
        }
    }

    /// Waits up to `timeout`; returns whether a commit of the plane was announced.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        if self.client.is_none() {
            match self.at.connect() {
                Ok(mut client) => {
                    if client.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok() {
                        self.client = Some(client);
                    }
                }
                Err(_) => {
                    std::thread::sleep(timeout);
                    return false;
                }
            }
        }
        let Some(client) = &mut self.client else {
            std::thread::sleep(timeout);
            return false;
        };
        let mut heard = false;
        let mut lost = false;
        {
            let mut notes = client.notifications();
            let mut iter = notes.timeout_iter(timeout);
            loop {
                match iter.next() {
                    Ok(Some(n)) => {
                        if n.payload() == self.at.plane {
                            heard = true;
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        lost = true;
                        break;
                    }
                }
            }
        }
        if lost || client.is_closed() {
            self.client = None;
        }
        heard
    }
}
