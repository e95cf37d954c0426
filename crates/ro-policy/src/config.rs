//! The configs room: configuration versions, published by reference and digest, never edited.

use ro_core::Digest;
use ro_core::{Context, EventMeta};
use serde::{Deserialize, Serialize};

use crate::{Policy, PolicyCommand, PolicyEvent, PolicyRejection, check_text};

ro_core::id_kind!(
    /// Names a config.
    ConfigName,
    ConfigNameTag,
    "config name"
);

ro_core::id_kind!(
    /// A config version.
    ConfigVersion,
    ConfigVersionTag,
    "config version"
);

/// A published config version, as runs and derivations record it.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ConfigVersionRef {
    /// The config.
    pub config_name: ConfigName,
    /// Its version.
    pub config_version: ConfigVersion,
    /// The digest of its content.
    #[serde(default)]
    pub digest: Option<Digest>,
    /// Where its content lives.
    #[serde(default, rename = "ref")]
    pub locator: Option<String>,
}

impl Policy {
    pub(crate) fn decide_configs(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        use PolicyRejection as R;
        let _reason = ctx.reason.clone();
        match command {
            C::PublishConfig {
                config_name,
                config_version,
                digest,
                locator,
            } => {
                if let Some(l) = locator {
                    check_text("ref", l)?;
                }
                match self.config(config_name, config_version) {
                    Some(existing) if existing.digest == Some(*digest) => Ok(Vec::new()),
                    Some(_) => Err(R::ConfigVersionConflict {
                        name: config_name.clone(),
                        version: config_version.clone(),
                    }),
                    None => Ok(vec![E::ConfigPublished {
                        reason: ctx.reason.clone(),
                        config: ConfigVersionRef {
                            config_name: config_name.clone(),
                            config_version: config_version.clone(),
                            digest: Some(*digest),
                            locator: locator.clone(),
                        },
                    }]),
                }
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_configs(&mut self, event: &PolicyEvent, _meta: &EventMeta<'_>) {
        if let PolicyEvent::ConfigPublished { config, .. } = event {
            self.configs
                .entry(config.config_name.clone())
                .or_default()
                .insert(config.config_version.clone(), config.clone());
        }
    }
}
