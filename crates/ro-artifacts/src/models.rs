//! The models room: model versions registered with their metadata and artifacts.

use ro_core::{Context, EventMeta};
use serde_json::Value;

use crate::*;

use crate::locator::Locator;
use serde::Serialize;

ro_core::id_kind!(
    /// A model version, e.g. `M-MyModel-V1`.
    ModelVersion,
    ModelVersionTag,
    "model version"
);

/// A registered model version.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
pub struct ModelRecord {
    /// The metadata as registered, canonical JSON.
    pub metadata: String,
    /// Its artifacts.
    pub artifacts: Vec<Locator>,
    /// When it was registered.
    pub registered_at: Timestamp,
}

impl Artifacts {
    pub(crate) fn decide_models(
        &self,
        command: &ArtifactCommand,
        _ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        use ArtifactCommand as C;
        use ArtifactEvent as E;
        use ArtifactRejection as R;
        match command {
            C::RegisterModel {
                metadata,
                artifacts,
            } => {
                let Some(version) = metadata.get("version").and_then(Value::as_str) else {
                    return Err(R::Invalid(
                        "metadata is an object with a string \"version\"".into(),
                    ));
                };
                let version = ModelVersion::new(version).map_err(|e| R::Invalid(e.to_string()))?;
                let canonical = ro_core::canonical::value_to_canonical_vec(metadata)
                    .map_err(|e| R::Invalid(format!("metadata: {e}")))?;
                if canonical.len() > MAX_METADATA_BYTES {
                    return Err(R::Invalid(format!(
                        "metadata is larger than {MAX_METADATA_BYTES} bytes"
                    )));
                }
                let canonical =
                    String::from_utf8(canonical).map_err(|e| R::Invalid(e.to_string()))?;
                if let Some(missing) = artifacts.iter().find(|l| !self.artifacts.contains_key(*l)) {
                    return Err(R::UnknownArtifact(missing.clone()));
                }
                match self.models.get(&version) {
                    Some(m) if m.metadata == canonical && &m.artifacts == artifacts => {
                        Ok(Vec::new())
                    }
                    Some(_) => Err(R::ModelExists(version)),
                    None => Ok(vec![E::ModelRegistered {
                        version,
                        metadata: canonical,
                        artifacts: artifacts.clone(),
                    }]),
                }
            }
            _ => Err(misrouted()),
        }
    }

    pub(crate) fn evolve_models(&mut self, event: &ArtifactEvent, meta: &EventMeta<'_>) {
        if let ArtifactEvent::ModelRegistered {
            version,
            metadata,
            artifacts,
        } = event
        {
            self.models.insert(
                version.clone(),
                ModelRecord {
                    metadata: metadata.clone(),
                    artifacts: artifacts.clone(),
                    registered_at: meta.at,
                },
            );
        }
    }
}
