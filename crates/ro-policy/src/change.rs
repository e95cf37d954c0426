//! The changes room: the frozen baseline and change requests (requested, reviewed and approved
//! by others than the requester, applied to move the baseline).
use std::fmt;

use ro_core::ActorId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use ro_core::{Context, EventMeta};

use crate::{Policy, PolicyCommand, PolicyEvent, PolicyRejection, check_text, require_distinct};

ro_core::id_kind!(
    /// Names a component under freeze discipline.
    ComponentId,
    ComponentTag,
    "component id"
);

ro_core::id_kind!(
    /// Identifies a change request.
    ChangeId,
    ChangeTag,
    "change id"
);

/// A baseline version, `v{major}.{minor}`.
#[derive(
    Debug,
    Clone,
    Copy,
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
pub struct BaselineVersion {
    /// Incremented by a breaking change (minor resets to 0).
    pub major: u32,
    /// Incremented by a non-breaking change.
    pub minor: u32,
}

impl BaselineVersion {
    /// The version after a change.
    pub fn next(self, breaking: bool) -> Self {
        if breaking {
            BaselineVersion {
                major: self.major.saturating_add(1),
                minor: 0,
            }
        } else {
            BaselineVersion {
                major: self.major,
                minor: self.minor.saturating_add(1),
            }
        }
    }
}

impl fmt::Display for BaselineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

pub use change_status::ChangeStatus;

mod change_status {
    // rkyv generates a resolver type for this enum whose fields carry no docs.
    #![allow(missing_docs)]

    use ro_core::ActorId;
    use serde::{Deserialize, Serialize};

    use super::BaselineVersion;

    /// Where a change request stands.
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
    #[serde(rename_all = "snake_case", tag = "status")]
    pub enum ChangeStatus {
        /// Requested, awaiting review.
        Requested,
        /// Reviewed by someone other than the requester.
        Reviewed {
            /// The reviewer.
            by: ActorId,
        },
        /// Approved by someone other than the requester.
        Approved {
            /// The approver.
            by: ActorId,
        },
        /// Rejected.
        Rejected {
            /// Who rejected it.
            by: ActorId,
        },
        /// Applied: the baseline moved to `version`.
        Applied {
            /// The new baseline version.
            version: BaselineVersion,
        },
    }
}

impl ChangeStatus {
    /// The status's name, as serialized in its `status` tag (a test holds the two together).
    pub fn name(&self) -> &'static str {
        match self {
            ChangeStatus::Requested => "requested",
            ChangeStatus::Reviewed { .. } => "reviewed",
            ChangeStatus::Approved { .. } => "approved",
            ChangeStatus::Rejected { .. } => "rejected",
            ChangeStatus::Applied { .. } => "applied",
        }
    }
}

/// A request to change one frozen component.
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
pub struct ChangeRequest {
    /// The component to change (one request, one change).
    pub component: ComponentId,
    /// What and why.
    pub description: String,
    /// Whether the change breaks compatibility (a major version).
    pub breaking: bool,
    /// Who asked.
    pub requested_by: ActorId,
    /// Where it stands.
    pub status: ChangeStatus,
}

/// The frozen baseline.
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
pub struct Baseline {
    /// Its version.
    pub version: BaselineVersion,
    /// The frozen components.
    pub frozen: BTreeSet<ComponentId>,
}

impl Policy {
    pub(crate) fn decide_changes(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        use PolicyRejection as R;
        let _reason = ctx.reason.clone();
        match command {
            C::Freeze {
                version,
                components,
            } => {
                if components.is_empty() {
                    return Err(R::Invalid("freeze at least one component".into()));
                }
                let new: BTreeSet<ComponentId> = match &self.baseline {
                    Some(b) if b.version != *version => {
                        return Err(R::Freeze(format!(
                            "the baseline is {}; freeze components into it, or change it through a change request",
                            b.version
                        )));
                    }
                    Some(b) => components.difference(&b.frozen).cloned().collect(),
                    None => components.clone(),
                };
                if new.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::BaselineFrozen {
                    reason: ctx.reason.clone(),
                    version: *version,
                    components: new,
                }])
            }
            C::RequestChange {
                change_id,
                component,
                description,
                breaking,
            } => {
                check_text("description", description)?;
                if self.changes.contains_key(change_id) {
                    return Err(R::Invalid(format!(
                        "change {change_id} already exists: one request, one change"
                    )));
                }
                if self.check_unfrozen(component).is_ok() {
                    return Err(R::Freeze(format!(
                        "{component} is not frozen: no change request is needed"
                    )));
                }
                Ok(vec![E::ChangeRequested {
                    reason: ctx.reason.clone(),
                    change_id: change_id.clone(),
                    component: component.clone(),
                    description: description.clone(),
                    breaking: *breaking,
                }])
            }
            C::ReviewChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if cr.status != ChangeStatus::Requested {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "only a requested change can be reviewed",
                    });
                }
                require_distinct("reviewer-not-requester", &cr.requested_by, &ctx.actor.id)?;
                Ok(vec![E::ChangeReviewed {
                    reason: ctx.reason.clone(),
                    change_id: change_id.clone(),
                }])
            }
            C::ApproveChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if !matches!(cr.status, ChangeStatus::Reviewed { .. }) {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "a change is reviewed before it is approved",
                    });
                }
                require_distinct("approver-not-requester", &cr.requested_by, &ctx.actor.id)?;
                Ok(vec![E::ChangeApproved {
                    reason: ctx.reason.clone(),
                    change_id: change_id.clone(),
                }])
            }
            C::RejectChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if matches!(
                    cr.status,
                    ChangeStatus::Applied { .. } | ChangeStatus::Rejected { .. }
                ) {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "only an open change can be rejected",
                    });
                }
                Ok(vec![E::ChangeRejected {
                    reason: ctx.reason.clone(),
                    change_id: change_id.clone(),
                }])
            }
            C::ApplyChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if !matches!(cr.status, ChangeStatus::Approved { .. }) {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "only an approved change can be applied",
                    });
                }
                let before = self
                    .baseline
                    .as_ref()
                    .map(|b| b.version)
                    .ok_or_else(|| R::Freeze("no baseline".into()))?;
                Ok(vec![E::ChangeApplied {
                    reason: ctx.reason.clone(),
                    change_id: change_id.clone(),
                    component: cr.component.clone(),
                    before,
                    after: before.next(cr.breaking),
                }])
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_changes(&mut self, event: &PolicyEvent, meta: &EventMeta<'_>) {
        use PolicyEvent as E;
        match event {
            E::BaselineFrozen {
                version,
                components,
                ..
            } => {
                let baseline = self.baseline.get_or_insert_with(|| Baseline {
                    version: *version,
                    frozen: BTreeSet::new(),
                });
                baseline.frozen.extend(components.iter().cloned());
            }
            E::ChangeRequested {
                change_id,
                component,
                description,
                breaking,
                ..
            } => {
                self.changes.insert(
                    change_id.clone(),
                    ChangeRequest {
                        component: component.clone(),
                        description: description.clone(),
                        breaking: *breaking,
                        requested_by: meta.actor.id.clone(),
                        status: ChangeStatus::Requested,
                    },
                );
            }
            E::ChangeReviewed { change_id, .. } => self.set_change_status(
                change_id,
                ChangeStatus::Reviewed {
                    by: meta.actor.id.clone(),
                },
            ),
            E::ChangeApproved { change_id, .. } => self.set_change_status(
                change_id,
                ChangeStatus::Approved {
                    by: meta.actor.id.clone(),
                },
            ),
            E::ChangeRejected { change_id, .. } => self.set_change_status(
                change_id,
                ChangeStatus::Rejected {
                    by: meta.actor.id.clone(),
                },
            ),
            E::ChangeApplied {
                change_id, after, ..
            } => {
                self.set_change_status(change_id, ChangeStatus::Applied { version: *after });
                if let Some(b) = &mut self.baseline {
                    b.version = *after;
                }
            }
            _ => {}
        }
    }
}

impl Policy {
    fn set_change_status(&mut self, id: &ChangeId, status: ChangeStatus) {
        if let Some(cr) = self.changes.get_mut(id) {
            cr.status = status;
        }
    }
}

impl Policy {
    pub(crate) fn change_mut_status(
        &self,
        id: &ChangeId,
    ) -> Result<&ChangeRequest, PolicyRejection> {
        self.changes
            .get(id)
            .ok_or_else(|| PolicyRejection::UnknownChange(id.clone()))
    }
}
