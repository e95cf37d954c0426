//! The host's secret keys, kept in a key file beside the store (`<store>.keys`), never in the
//! store: whoever holds a copy of the store or of its audit export cannot mint a confirmation
//! token nor sign a checkpoint. The file is JSON (`{"format": "ro.keys.v1",
//! "confirmation_key": "<64 hex>", "checkpoint_key": "<64 hex>"}`: the token key and the
//! Ed25519 seed checkpoints are signed with), written with owner-only permissions and refused
//! when group or others can read it. A file written before checkpoints gets its checkpoint key
//! on first read.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// The format written in the key file.
pub const KEYS_FORMAT: &str = "ro.keys.v1";

/// The key file of the store at `store`: the store's path with `.keys` appended.
pub fn key_file_for(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// The host's keys. `Debug` never shows them.
#[derive(Clone)]
pub struct Keys {
    /// The key confirmation tokens are minted with.
    pub confirmation: [u8; 32],
    /// The Ed25519 seed the host signs checkpoints with.
    pub checkpoint: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

fn key_error(path: &Path, message: impl std::fmt::Display) -> StoreError {
    StoreError::Key(format!("key file {}: {message}", path.display()))
}

/// 32 bytes from the operating system's random source.
pub(crate) fn draw_key() -> Result<[u8; 32], StoreError> {
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| StoreError::Key(format!("cannot draw a key: {e}")))?;
    Ok(key)
}

use ro_admin::signing::to_hex as hex;

impl Keys {
    /// Fresh keys.
    pub fn draw() -> Result<Keys, StoreError> {
        Ok(Keys {
            confirmation: draw_key()?,
            checkpoint: draw_key()?,
        })
    }

    /// The keyed hash a store keeps of an API token's secret: keyed by a key derived from the
    /// confirmation key, so a copy of the store without its key file cannot test guesses.
    pub fn token_mac(&self, secret: &[u8]) -> [u8; 32] {
        let key = blake3::derive_key("ro api token v1", &self.confirmation);
        *blake3::keyed_hash(&key, secret).as_bytes()
    }

    /// The keyed hash a store keeps beside a snapshot this build wrote, over the snapshot's
    /// checksum (which covers every byte of it): an open that finds it trusts the snapshot
    /// without recomputing its state digest or re-reading the records before it. Keyed by a
    /// key derived from the confirmation key and this build's version, so neither a writer of
    /// the store without the key file nor another version's layout passes.
    pub fn snapshot_mac(&self, checksum: &[u8]) -> [u8; 32] {
        let key = blake3::derive_key(
            concat!("ro snapshot v1 ", env!("CARGO_PKG_VERSION")),
            &self.confirmation,
        );
        *blake3::keyed_hash(&key, checksum).as_bytes()
    }

    /// The checkpoint signing key.
    pub fn checkpoint_signing_key(&self) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&self.checkpoint)
    }

    /// The public key checkpoints verify with (`ro keys` prints it, to publish).
    pub fn checkpoint_public_key(&self) -> [u8; 32] {
        self.checkpoint_signing_key().verifying_key().to_bytes()
    }

    /// Writes the key file at `path` (replacing one left by a removed store), owner-only,
    /// through a temporary file renamed into place so a crash never leaves half a key.
    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        let text = serde_json::json!({
            "format": KEYS_FORMAT,
            "confirmation_key": hex(&self.confirmation),
            "checkpoint_key": hex(&self.checkpoint),
        })
        .to_string();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options.open(&tmp).and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        });
        written
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| key_error(path, e))
    }

    /// Reads the key file at `path`: `Ok(None)` when there is none. A file without a
    /// checkpoint key gets one (written back).
    pub fn read(path: &Path) -> Result<Option<Keys>, StoreError> {
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_error(path, e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file
                .metadata()
                .map_err(|e| key_error(path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(key_error(
                    path,
                    format!(
                        "readable by others (mode {:o}); `chmod 600` it, and treat its keys as exposed",
                        mode & 0o777
                    ),
                ));
            }
        }
        let mut text = String::new();
        Read::by_ref(&mut file)
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| key_error(path, e))?;
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct KeyFile {
            format: String,
            confirmation_key: String,
            #[serde(default)]
            checkpoint_key: Option<String>,
        }
        let parsed: KeyFile = serde_json::from_str(&text).map_err(|e| key_error(path, e))?;
        if parsed.format != KEYS_FORMAT {
            return Err(key_error(
                path,
                format!("format {:?}, expected {KEYS_FORMAT:?}", parsed.format),
            ));
        }
        let confirmation =
            ro_admin::signing::parse_hex::<32>(&parsed.confirmation_key, "confirmation_key")
                .map_err(|e| key_error(path, e))?;
        let keys = match parsed.checkpoint_key {
            Some(text) => Keys {
                confirmation,
                checkpoint: ro_admin::signing::parse_hex::<32>(&text, "checkpoint_key")
                    .map_err(|e| key_error(path, e))?,
            },
            None => {
                let keys = Keys {
                    confirmation,
                    checkpoint: draw_key()?,
                };
                keys.write(path)?;
                keys
            }
        };
        Ok(Some(keys))
    }
}
