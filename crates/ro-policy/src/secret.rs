//! Secrets by reference only: [`SecretRef`] (name, version, keyed fingerprint) in state and
//! events; [`SecretValue`] for hosts, which prints, logs and serialises as a redaction.

use std::fmt;

use crate::{Action, Policy, PolicyCommand, PolicyEvent, PolicyRejection};
use ro_core::Digest;
use ro_core::{Context, EventMeta};
use serde::{Deserialize, Serialize, Serializer};

ro_core::id_kind!(
    /// Names a secret (e.g. `db-password`).
    SecretName,
    SecretNameTag,
    "secret name"
);
ro_core::id_kind!(
    /// A secret's version (e.g. `v3`).
    SecretVersion,
    SecretVersionTag,
    "secret version"
);

/// What redacted output says in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// A secret value, held by a host only long enough to use it or fingerprint it.
///
/// Its `Debug`, `Display` and `Serialize` print [`REDACTED`]; only [`SecretValue::expose`]
/// gives the value. The domain never holds one: state and events carry [`SecretRef`]s.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The keyed blake3 fingerprint of the value: reveals nothing without the key, and tells
    /// two versions apart.
    pub fn fingerprint(&self, key: &FingerprintKey) -> Digest {
        Digest::keyed(&key.0, self.0.as_bytes())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// The host's key for secret fingerprints (kept outside the journal). Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintKey([u8; 32]);

impl FingerprintKey {
    /// Wraps 32 key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        FingerprintKey(bytes)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A reference to one version of a secret: never its value.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret.
    pub name: SecretName,
    /// The version.
    pub version: SecretVersion,
    /// The keyed fingerprint of the value.
    pub fingerprint: Digest,
}

impl Policy {
    pub(crate) fn decide_secrets(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        use PolicyRejection as R;
        let _reason = ctx.reason.clone();
        match command {
            C::RegisterSecret {
                name,
                version,
                fingerprint,
            } => {
                if self.secrets.contains_key(name) {
                    return Err(R::Secret(name.clone(), "already exists: rotate it instead"));
                }
                Ok(vec![E::SecretRegistered {
                    reason: ctx.reason.clone(),
                    secret: SecretRef {
                        name: name.clone(),
                        version: version.clone(),
                        fingerprint: *fingerprint,
                    },
                }])
            }
            C::RotateSecret {
                name,
                version,
                fingerprint,
            } => {
                let reason = ctx
                    .reason
                    .clone()
                    .ok_or(R::ReasonRequired(Action::RotateSecret))?;
                let history = self
                    .secrets
                    .get(name)
                    .ok_or_else(|| R::Secret(name.clone(), "does not exist"))?;
                if history.iter().any(|s| &s.version == version) {
                    return Err(R::Secret(
                        name.clone(),
                        "that version was used before: versions are never reused",
                    ));
                }
                if history.iter().any(|s| &s.fingerprint == fingerprint) {
                    return Err(R::Secret(
                        name.clone(),
                        "the new value equals an earlier one",
                    ));
                }
                let from_version = history
                    .last()
                    .map(|s| s.version.clone())
                    .ok_or_else(|| R::Secret(name.clone(), "has no version"))?;
                Ok(vec![E::SecretRotated {
                    name: name.clone(),
                    from_version,
                    to_version: version.clone(),
                    fingerprint: *fingerprint,
                    actor: ctx.actor.id.clone(),
                    reason,
                }])
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_secrets(&mut self, event: &PolicyEvent, _meta: &EventMeta<'_>) {
        use PolicyEvent as E;
        match event {
            E::SecretRegistered { secret, .. } => {
                self.secrets
                    .entry(secret.name.clone())
                    .or_default()
                    .push(secret.clone());
            }
            E::SecretRotated {
                name,
                to_version,
                fingerprint,
                ..
            } => {
                self.secrets
                    .entry(name.clone())
                    .or_default()
                    .push(SecretRef {
                        name: name.clone(),
                        version: to_version.clone(),
                        fingerprint: *fingerprint,
                    });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_print() {
        let v = SecretValue::new("hunter2-PLANTED");
        for shown in [
            format!("{v:?}"),
            format!("{v}"),
            serde_json::to_string(&v).unwrap(),
            format!("{:?}", Some(&v)),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert_eq!(v.expose(), "hunter2-PLANTED");
        let key = FingerprintKey::new([7; 32]);
        assert!(!format!("{key:?}").contains('7'));
        assert_ne!(
            v.fingerprint(&key),
            SecretValue::new("other").fingerprint(&key)
        );
        assert_ne!(
            v.fingerprint(&key),
            v.fingerprint(&FingerprintKey::new([8; 32]))
        );
    }
}
