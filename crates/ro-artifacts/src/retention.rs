//! The retention room: retention policies per class (shortening one takes two steps) and the
//! expiry passes that tombstone what they no longer keep.

use ro_core::{Context, EventMeta};

use crate::*;

use serde::{Deserialize, Serialize};

/// A retention policy for a class: an artifact expires once it is neither among the newest
/// `keep_last` nor younger than `keep_days` (counted in trading days when `trading_days`).
#[derive(
    Debug,
    Clone,
    Copy,
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
pub struct RetentionPolicy {
    /// Keep at least the newest N (0 keeps none by count).
    pub keep_last: u32,
    /// Keep everything younger than N days (calendar or trading days).
    pub keep_days: u32,
    /// Count `keep_days` in trading days (Monday to Friday, less the class's holidays).
    #[serde(default)]
    pub trading_days: bool,
}

impl RetentionPolicy {
    /// Whether `self` keeps less than `other` in any dimension (a safety-reducing change).
    pub fn shortens(&self, other: &RetentionPolicy) -> bool {
        self.keep_last < other.keep_last
            || self.keep_days < other.keep_days
            || (self.trading_days && !other.trading_days)
    }
}

impl Artifacts {
    pub(crate) fn decide_retention(
        &self,
        command: &ArtifactCommand,
        ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        use ArtifactCommand as C;
        use ArtifactEvent as E;
        use ArtifactRejection as R;
        match command {
            C::SetRetention {
                class,
                policy,
                holidays,
            } => {
                let reason = ctx
                    .reason
                    .clone()
                    .ok_or(R::ReasonRequired("SET_RETENTION"))?;
                if policy.keep_days > 36_500 {
                    return Err(R::Invalid("keep_days is at most 36500".into()));
                }
                if holidays.len() > 10_000 {
                    return Err(R::Invalid("at most 10000 holidays".into()));
                }
                let before = self.retention.get(class);
                if before.is_some_and(|(p, h)| p == policy && h == holidays) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RetentionChanged {
                    class: class.clone(),
                    before: before.map(|(p, _)| *p),
                    after: *policy,
                    holidays: holidays.clone(),
                    actor: ctx.actor.id.clone(),
                    reason,
                }])
            }
            C::ExpireArtifacts {} => Ok(self.expire(ctx.at)),
            _ => Err(misrouted()),
        }
    }

    pub(crate) fn evolve_retention(&mut self, event: &ArtifactEvent, meta: &EventMeta<'_>) {
        use ArtifactEvent as E;
        match event {
            E::RetentionChanged {
                class,
                after,
                holidays,
                ..
            } => {
                self.retention
                    .insert(class.clone(), (*after, holidays.clone()));
            }
            E::ArtifactTombstoned { locator, .. } => {
                if let Some(a) = self.artifacts.get_mut(locator) {
                    a.tombstoned_at = Some(meta.at);
                }
            }
            _ => {}
        }
    }
}
