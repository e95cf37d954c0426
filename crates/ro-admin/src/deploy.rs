//! Environments, deployments, rollouts and last-known-good captures, as events: a rollout is a sequence of events (requested, applied, verified or
//! failed), never an edit.
//!
//! - `DEFINE_ENVIRONMENT` (human-only): a name, whether it is production, its services.
//! - `DEPLOY` (human-only; two-step into production; refused into production while the
//!   production lock or the kill switch holds): a service's version pinned to a registered,
//!   gate-PASS artifact by digest, with its config versions.
//! - `RECORD_ROLLOUT` (the host): `applied`, then `verified`, or `failed` at any point before.
//! - `CAPTURE_LKG`: the environment's current deployments as an immutable record (the last
//!   [`LKG_KEPT`] per environment are kept); `RESTORE_LKG` (human-only, two-step) requests
//!   those deployments again.
//! - `DEPLOY_REPORT`: what is deployed where, pinned to digests, and whether it is healthy (the
//!   component of the same name, at the query's time).

use std::collections::{BTreeMap, BTreeSet};

use ro_artifacts::ArtifactRef;
use ro_core::{ActorId, Context, EventMeta, Timestamp};
use ro_policy::{Action, ConfigVersionRef};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection, raise};

/// How many last-known-good captures are kept per environment.
pub const LKG_KEPT: usize = 30;
/// The most services an environment may list.
pub const MAX_SERVICES: usize = 256;

ro_core::id_kind!(
    /// Names an environment (dev, stage, prod, …).
    EnvironmentName,
    EnvironmentTag,
    "environment name"
);
ro_core::id_kind!(
    /// Names a deployable service or job.
    ServiceName,
    ServiceTag,
    "service name"
);

/// An environment.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Its name.
    pub environment: EnvironmentName,
    /// Whether it is production (deploys are two-step and stop under the production lock).
    #[serde(default)]
    pub production: bool,
    /// The services it runs.
    #[serde(default)]
    pub services: BTreeSet<ServiceName>,
}

/// What a deployment puts where.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// The environment.
    pub environment: EnvironmentName,
    /// The service.
    pub service: ServiceName,
    /// The version deployed (1 to 64 printable characters).
    pub version: String,
    /// The image or bundle, by reference and digest (registered, gate PASS).
    pub artifact: ArtifactRef,
    /// The config versions it runs with.
    #[serde(default)]
    pub config_versions: Vec<ConfigVersionRef>,
}

/// Where a rollout stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Asked for.
    Requested,
    /// Applied by the host.
    Applied,
    /// Verified healthy after applying.
    Verified,
    /// Failed.
    Failed,
}

impl RolloutState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Requested => "requested",
            RolloutState::Applied => "applied",
            RolloutState::Verified => "verified",
            RolloutState::Failed => "failed",
        }
    }

    /// Whether a rollout may move from `self` to `next`.
    pub fn may_become(self, next: RolloutState) -> bool {
        matches!(
            (self, next),
            (RolloutState::Requested, RolloutState::Applied)
                | (RolloutState::Applied, RolloutState::Verified)
                | (
                    RolloutState::Requested | RolloutState::Applied,
                    RolloutState::Failed
                )
        )
    }
}

/// One deployment and its rollout.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Deployment {
    /// Its number (1, 2, …).
    pub deployment: u64,
    /// What it deploys.
    pub spec: DeploymentSpec,
    /// Where its rollout stands.
    pub state: RolloutState,
    /// Who asked for it.
    pub by: ActorId,
    /// When.
    pub requested_at: Timestamp,
    /// When its rollout last moved.
    pub updated_at: Timestamp,
    /// The last-known-good capture it restores, if any.
    pub from_lkg: Option<u64>,
}

/// A last-known-good capture.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Lkg {
    /// Its number (1, 2, … per plane).
    pub lkg: u64,
    /// The environment.
    pub environment: EnvironmentName,
    /// When it was captured.
    pub captured_at: Timestamp,
    /// The deployments it pins, by service.
    pub deployments: Vec<DeploymentSpec>,
    /// The safety posture when it was captured (absent on captures recorded before it was
    /// kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureAtCapture>,
}

/// The plane's safety posture at a capture.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct PostureAtCapture {
    /// The emergency lockdown was raised.
    pub lockdown: bool,
    /// Production was locked.
    pub production_locked: bool,
    /// The kill switch was engaged.
    pub kill_switch: bool,
    /// A readiness NO-GO was in force.
    pub no_go: bool,
}

/// Environments, deployments and captures.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Deployments {
    captured: u64,
    /// (environment, service) → the latest deployment that is not failed.
    current: BTreeMap<EnvironmentName, BTreeMap<ServiceName, u64>>,
    deployments: BTreeMap<u64, Deployment>,
    environments: BTreeMap<EnvironmentName, EnvironmentSpec>,
    lkgs: BTreeMap<EnvironmentName, Vec<Lkg>>,
}

impl Deployments {
    /// An environment.
    pub fn environment(&self, name: &EnvironmentName) -> Option<&EnvironmentSpec> {
        self.environments.get(name)
    }

    /// A deployment.
    pub fn deployment(&self, n: u64) -> Option<&Deployment> {
        self.deployments.get(&n)
    }

    /// The number the next deployment gets.
    pub fn next_deployment(&self) -> u64 {
        self.deployments.keys().next_back().map_or(1, |n| n + 1)
    }

    /// The number the next capture gets.
    pub fn next_lkg(&self) -> u64 {
        self.captured + 1
    }

    /// The current deployments of an environment (latest not failed, per service).
    pub fn current(&self, environment: &EnvironmentName) -> Vec<&Deployment> {
        self.current
            .get(environment)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|n| self.deployments.get(n))
            .collect()
    }

    /// The kept captures of an environment, oldest first.
    pub fn lkgs(&self, environment: &EnvironmentName) -> &[Lkg] {
        self.lkgs.get(environment).map_or(&[], Vec::as_slice)
    }

    /// Every environment, by name.
    pub fn environments(&self) -> impl Iterator<Item = &EnvironmentSpec> {
        self.environments.values()
    }

    pub(crate) fn define(&mut self, spec: &EnvironmentSpec) {
        self.environments
            .insert(spec.environment.clone(), spec.clone());
    }

    pub(crate) fn request(
        &mut self,
        n: u64,
        spec: &DeploymentSpec,
        by: &ActorId,
        at: Timestamp,
        from_lkg: Option<u64>,
    ) {
        self.deployments.insert(
            n,
            Deployment {
                deployment: n,
                spec: spec.clone(),
                state: RolloutState::Requested,
                by: by.clone(),
                requested_at: at,
                updated_at: at,
                from_lkg,
            },
        );
        self.current
            .entry(spec.environment.clone())
            .or_default()
            .insert(spec.service.clone(), n);
    }

    pub(crate) fn rollout(&mut self, n: u64, state: RolloutState, at: Timestamp) {
        let Some(d) = self.deployments.get_mut(&n) else {
            return;
        };
        d.state = state;
        d.updated_at = at;
        if state == RolloutState::Failed {
            // The service falls back to its latest deployment that did not fail.
            let (env, service) = (d.spec.environment.clone(), d.spec.service.clone());
            let previous = self
                .deployments
                .values()
                .filter(|x| {
                    x.spec.environment == env
                        && x.spec.service == service
                        && x.state != RolloutState::Failed
                })
                .map(|x| x.deployment)
                .next_back();
            let services = self.current.entry(env).or_default();
            match previous {
                Some(p) => services.insert(service, p),
                None => services.remove(&service),
            };
        }
    }

    pub(crate) fn capture(&mut self, lkg: Lkg) {
        self.captured = self.captured.max(lkg.lkg);
        let kept = self.lkgs.entry(lkg.environment.clone()).or_default();
        kept.push(lkg);
        if kept.len() > LKG_KEPT {
            kept.remove(0);
        }
    }
}

/// Checks a version string.
pub fn check_version(version: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&version.len()) && version.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err("version is 1 to 64 printable ASCII characters".into())
    }
}

/// One row of the deploy report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DeployedService {
    /// The environment.
    pub environment: EnvironmentName,
    /// Whether it is production.
    pub production: bool,
    /// The service.
    pub service: ServiceName,
    /// The deployment in effect (none when never deployed).
    pub deployment: Option<Deployment>,
    /// The component of the same name at the query's time: `OK`, `UNHEALTHY`, `STALE`,
    /// `OFFLINE` (never reported).
    pub health: crate::health::ComponentStatus,
}

impl Plane {
    /// Environments, deployments and captures.
    pub fn deployments(&self) -> &Deployments {
        &self.deployments
    }

    /// The environment a deployment goes to, refused into production while the production
    /// lock or the kill switch holds.
    fn deployable(&self, name: &EnvironmentName) -> Result<&EnvironmentSpec, PlaneRejection> {
        let env = self
            .deployments
            .environment(name)
            .ok_or_else(|| PlaneRejection::UnknownEnvironment(name.clone()))?;
        if env.production {
            if self.kill_switch.is_some() {
                return Err(PlaneRejection::KillSwitchEngaged);
            }
            if self.production_lock.is_some() {
                return Err(PlaneRejection::ProductionLocked);
            }
        }
        Ok(env)
    }

    pub(crate) fn decide_deploy(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::DefineEnvironment(spec) => {
                if spec.services.len() > MAX_SERVICES {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "at most {} services per environment",
                        MAX_SERVICES
                    )));
                }
                let before = self.deployments.environment(&spec.environment).cloned();
                Ok(raise(
                    before.as_ref() == Some(spec),
                    AdminEvent::EnvironmentDefined {
                        spec: spec.clone(),
                        before,
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::Deploy(spec) => {
                let env = self.deployable(&spec.environment)?;
                check_version(&spec.version).map_err(PlaneRejection::InvalidArgument)?;
                if !env.services.is_empty() && !env.services.contains(&spec.service) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "service {} is not one of environment {}'s services",
                        spec.service, spec.environment
                    )));
                }
                let registered = self
                    .artifacts
                    .read(&spec.artifact.locator)
                    .map_err(PlaneRejection::Artifacts)?;
                if registered.digest != spec.artifact.digest {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "artifact {} is registered with digest {}, not {}",
                        spec.artifact.locator, registered.digest, spec.artifact.digest
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::DeploymentRequested {
                    deployment: self.deployments.next_deployment(),
                    spec: spec.clone(),
                    from_lkg: None,
                    by,
                    reason,
                })])
            }
            AdminCommand::RecordRollout {
                deployment,
                outcome,
            } => {
                let d = self.deployments.deployment(*deployment).ok_or_else(|| {
                    PlaneRejection::InvalidArgument(format!("unknown deployment {deployment}"))
                })?;
                if !d.state.may_become(*outcome) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "a {} rollout cannot become {} (requested → applied → verified; failed before verified)",
                        d.state.as_str(),
                        outcome.as_str()
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::RolloutRecorded {
                    deployment: *deployment,
                    before: d.state,
                    after: *outcome,
                })])
            }
            AdminCommand::CaptureLkg { environment } => {
                if self.deployments.environment(environment).is_none() {
                    return Err(PlaneRejection::UnknownEnvironment(environment.clone()));
                }
                let deployments: Vec<DeploymentSpec> = self
                    .deployments
                    .current(environment)
                    .into_iter()
                    .filter(|d| d.state == RolloutState::Verified)
                    .map(|d| d.spec.clone())
                    .collect();
                if deployments.is_empty() {
                    return Err(PlaneRejection::Invalid(
                        "nothing verified to capture: record verified rollouts first",
                    ));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::LkgCaptured {
                    lkg: Lkg {
                        lkg: self.deployments.next_lkg(),
                        environment: environment.clone(),
                        captured_at: ctx.at,
                        deployments,
                        posture: Some(PostureAtCapture {
                            lockdown: self.lockdown(),
                            production_locked: self.production_locked(),
                            kill_switch: self.kill_switch(),
                            no_go: self.readiness.no_go.is_some(),
                        }),
                    },
                    by,
                    reason,
                })])
            }
            AdminCommand::RestoreLkg { environment, lkg } => {
                self.deployable(environment)?;
                let capture = self
                    .deployments
                    .lkgs(environment)
                    .iter()
                    .find(|l| l.lkg == *lkg)
                    .ok_or_else(|| {
                        PlaneRejection::InvalidArgument(format!(
                            "no kept capture {lkg} for environment {environment}"
                        ))
                    })?;
                let first = self.deployments.next_deployment();
                let mut events = Vec::new();
                for (n, spec) in (first..).zip(&capture.deployments) {
                    events.push(PlaneEvent::Admin(AdminEvent::DeploymentRequested {
                        deployment: n,
                        spec: spec.clone(),
                        from_lkg: Some(*lkg),
                        by: by.clone(),
                        reason: reason.clone(),
                    }));
                }
                Ok(events)
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_deploy(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        match event {
            AdminEvent::EnvironmentDefined { spec, .. } => self.deployments.define(spec),
            AdminEvent::DeploymentRequested {
                deployment,
                spec,
                from_lkg,
                by,
                ..
            } => self
                .deployments
                .request(*deployment, spec, by, meta.at, *from_lkg),
            AdminEvent::RolloutRecorded {
                deployment, after, ..
            } => self.deployments.rollout(*deployment, *after, meta.at),
            AdminEvent::LkgCaptured { lkg, .. } => self.deployments.capture(lkg.clone()),
            _ => {}
        }
    }
}

/// The audit record's shape of a deploy event (rollout steps are the host's reports).
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::EnvironmentDefined {
            spec,
            before,
            reason,
            ..
        } => applied(
            Action::DefineEnvironment,
            vec![format!("environment:{}", spec.environment)],
            reason,
            (json!(before), json!(spec)),
        ),
        AdminEvent::DeploymentRequested {
            deployment,
            spec,
            from_lkg,
            reason,
            ..
        } => applied(
            if from_lkg.is_some() {
                Action::RestoreLkg
            } else {
                Action::Deploy
            },
            vec![
                format!("environment:{}", spec.environment),
                format!("service:{}", spec.service),
                format!("deployment:{deployment}"),
            ],
            reason,
            (
                Value::Null,
                json!({ "deployment": deployment, "spec": spec, "from_lkg": from_lkg }),
            ),
        ),
        AdminEvent::LkgCaptured { lkg, reason, .. } => applied(
            Action::CaptureLkg,
            vec![format!("environment:{}", lkg.environment)],
            reason,
            (
                Value::Null,
                json!({ "lkg": lkg.lkg, "deployments": lkg.deployments.len() }),
            ),
        ),
        _ => None,
    }
}
