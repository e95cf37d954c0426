//! The plane's test kit (feature `testing`): a cast of actors, a sample plane, proptest
//! strategies for commands from all of them, two-step confirmation as one call, and the
//! plane's invariant check as a public function.
//!
//! # A downstream suite, worked through
//!
//! A team embedding the plane states its own promise ("an agent never lifts a lockdown") and
//! lets proptest look for a history that breaks it, with the kit supplying the actors, the
//! commands, the plane and the checks; [`ro_core::testing::check_replay`] then holds the
//! history to replay = incremental application.
//!
//! ```
//! use proptest::prelude::*;
//! use ro_admin::{AdminCommand, PlaneCommand, testing};
//! use ro_core::{Context, testing::check_replay};
//!
//! proptest!(ProptestConfig::with_cases(16), |(steps in proptest::collection::vec(
//!     (testing::actor(), testing::command(), 0i64..600), 1..40))| {
//!     let mut kernel = testing::sample_plane();
//!     let mut at = testing::start();
//!     for (actor, command, secs) in steps {
//!         at = at.checked_add(time::Duration::seconds(secs)).unwrap();
//!         let locked = kernel.state().lockdown();
//!         let result = kernel.execute(&command, &testing::context(at, actor.clone()));
//!         let lifts = matches!(command, PlaneCommand::Admin(AdminCommand::ReleaseLockdown { .. }));
//!         if locked && lifts && !actor.is_human() {
//!             prop_assert!(result.is_err(), "{actor:?} lifted the lockdown");
//!         }
//!         prop_assert!(testing::check_invariants(kernel.state()).is_ok());
//!     }
//!     check_replay(&kernel);
//! });
//! ```
//!
//! The domain crates' kits compose the same way: `ro_policy::testing` (principals, grants,
//! rules, whole [`ro_policy::Access`] values), `ro_artifacts::testing` (derivation records and
//! graphs), `ro_jobs::testing` (moves of a job history played against its state), and
//! `ro_core::testing` (given / when / then, strategies for the core types, replay checks). A
//! given/when/then case against the plane:
//!
//! ```
//! use ro_admin::{AdminCommand, Plane, PlaneCommand, testing};
//! use ro_core::testing::{agent, given_state};
//!
//! let plane = testing::sample_plane().state().clone();
//! given_state::<Plane>(plane)
//!     .at(testing::start())
//!     .by(agent("bot"))
//!     .when(PlaneCommand::Admin(AdminCommand::EngageKillSwitch {}))
//!     .then_state(|plane| plane.kill_switch());
//! ```

use proptest::prelude::*;
use ro_core::{
    Actor, ActorId, ActorKind, Context, Decider, Envelope, ExecuteError, InvariantViolation,
    Journal, Kernel, Timestamp,
};

use crate::{AdminCommand, Plane, PlaneCommand, PlaneEvent, PlaneRejection};

/// The cast: id, kind and the role [`sample_plane`] grants them.
pub const CAST: [(&str, ActorKind, &str); 5] = [
    ("alice", ActorKind::Human, "admin"),
    ("olga", ActorKind::Human, "operator"),
    ("ana", ActorKind::Human, "analyst"),
    ("bot", ActorKind::Agent, "operator"),
    ("svc", ActorKind::Service, "admin"),
];

/// The confirmation key of [`sample_plane`].
pub const SAMPLE_KEY: [u8; 32] = [7; 32];

/// The models [`sample_plane`] registers.
pub const MODELS: [&str; 2] = ["M-A-V1", "M-B-V2"];

/// When [`sample_plane`]'s history is recorded: 2026-01-05T14:30:00Z.
pub fn start() -> Timestamp {
    ro_core::testing::t0()
}

fn cast_member(i: usize) -> Option<Actor> {
    let (id, kind, _) = CAST.get(i)?;
    Some(Actor {
        id: ActorId::new(*id).ok()?,
        kind: *kind,
    })
}

/// One of the [`CAST`].
pub fn actor() -> impl Strategy<Value = Actor> {
    (0..CAST.len()).prop_filter_map("cast member", cast_member)
}

fn document(value: serde_json::Value) -> Option<PlaneCommand> {
    serde_json::from_value(value).ok()
}

/// Commands over the sample plane, by anyone: grants and revocations among the cast,
/// lockdown, production lock and kill switch, their releases and the other two-step commands
/// (without tokens: the first step), four-eyes on or off, runs of job `report`, artifacts,
/// candidate models, cycles and failures.
pub fn command() -> impl Strategy<Value = PlaneCommand> {
    use serde_json::json;
    let who = 0..CAST.len();
    let roles = proptest::sample::select(&["admin", "operator", "analyst"][..]);
    prop_oneof![
        2 => (who.clone(), roles.clone(), any::<bool>()).prop_filter_map("valid", |(to, role, grant)| {
            let kind = if grant { "GRANT_ROLE" } else { "REVOKE_ROLE" };
            document(json!({"domain": "policy", "command": {"type": kind, "principal": CAST.get(to)?.0, "role": role}}))
        }),
        2 => Just(PlaneCommand::Admin(AdminCommand::EmergencyLockdown {})),
        1 => Just(PlaneCommand::Admin(AdminCommand::ProductionLock {})),
        1 => Just(PlaneCommand::Admin(AdminCommand::EngageKillSwitch {})),
        1 => any::<bool>().prop_map(|four_eyes| PlaneCommand::Admin(AdminCommand::ConfigureConfirmations { four_eyes })),
        4 => (0u8..6).prop_map(|which| PlaneCommand::Admin(two_step(which))),
        2 => (0u8..6).prop_filter_map("valid", |p| document(json!({"domain": "jobs", "command": {
            "type": "REQUEST_RUN", "job_id": "report", "intent": "manual", "partition": format!("p-{p}")}}))),
        2 => (0u8..4, 1u8..3).prop_filter_map("valid", |(a, d)| document(json!({"domain": "artifacts", "command": {
            "type": "REGISTER_ARTIFACT", "ref": format!("runs/r-{a}/report.json"), "digest": format!("blake3:{d:064x}")}}))),
        2 => proptest::sample::select(&MODELS[..]).prop_filter_map("valid", |v| document(json!({"domain": "admin", "command":
            {"type": "SET_CANDIDATE_MODEL", "version": v}}))),
        3 => any::<bool>().prop_filter_map("valid", |buy| document(json!({"domain": "admin", "command":
            {"type": "RECORD_CYCLE", "intent": if buy { "BUY" } else { "HOLD" }, "latency_ms": 5, "survived": true}}))),
        1 => Just(()).prop_filter_map("valid", |()| document(json!({"domain": "admin", "command":
            {"type": "REPORT_FAILURE", "mode": "DEGRADED", "description": "drift"}}))),
    ]
}

/// The two-step admin commands, without a token: 0 releases the lockdown, 1 unlocks
/// production, 2 releases the kill switch, 3 promotes the candidate, 4 rolls the model back,
/// anything else resets the failure status.
pub fn two_step(which: u8) -> AdminCommand {
    match which {
        0 => AdminCommand::ReleaseLockdown {},
        1 => AdminCommand::ProductionUnlock {},
        2 => AdminCommand::ReleaseKillSwitch {},
        3 => AdminCommand::PromoteCandidate {},
        4 => AdminCommand::RollbackModel {},
        _ => AdminCommand::ResetFailureStatus {},
    }
}

/// Runs `command` as its requester would through both steps: when the plane asks for a
/// confirmation, the command is sent again with the token issued to `ctx.actor`. Other
/// outcomes of the first step are returned as they are. (Under four-eyes the second step is
/// refused: the requester may not confirm their own request.)
pub fn execute_confirmed(
    kernel: &mut Kernel<Plane>,
    command: &PlaneCommand,
    ctx: &Context,
) -> Result<Vec<Envelope<PlaneEvent>>, ExecuteError<PlaneRejection>> {
    match kernel.execute(command, ctx) {
        Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(token))) => {
            kernel.execute(command, &ctx.clone().with_confirmation_token(token))
        }
        other => other,
    }
}

/// The context the cast acts in at `at`: `actor`, with a reason (every admin action gives one).
#[allow(clippy::panic)] // a test helper: a fixed reason that stopped being valid must fail loudly
pub fn context(at: Timestamp, actor: Actor) -> Context {
    match ro_core::Reason::new("per runbook") {
        Ok(reason) => Context::new(at, actor).with_reason(reason),
        Err(e) => panic!("the kit's reason is valid: {e}"),
    }
}

/// A plane keyed with [`SAMPLE_KEY`] whose history, recorded at [`start`] by `alice`, grants
/// the [`CAST`] their roles, defines job `report` (a hundred concurrent runs), registers the
/// [`MODELS`] and sets a two-cycle shadow window.
///
/// # Panics
///
/// Never with this crate's own commands (a test asserts it); the kit panics, as test helpers
/// do, if a change of the plane made the sample history invalid.
#[allow(clippy::panic)] // a test helper: a broken sample must fail loudly
pub fn sample_plane() -> Kernel<Plane> {
    use serde_json::json;
    let mut kernel =
        match Kernel::resume(Plane::with_confirmation_key(SAMPLE_KEY), 0, Journal::new()) {
            Ok(kernel) => kernel,
            Err(e) => panic!("an empty journal resumes: {e}"),
        };
    let Some(root) = cast_member(0) else {
        panic!("the cast has an admin")
    };
    let ctx = context(start(), root);
    let mut commands: Vec<Option<PlaneCommand>> = CAST
        .iter()
        .map(|(id, _, role)| {
            document(json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": id, "role": role}}))
        })
        .collect();
    commands.push(document(
        json!({"domain": "jobs", "command": {"type": "DEFINE_JOB",
        "definition": {"job_id": "report", "version": 1, "max_concurrent": 100}}}),
    ));
    for version in MODELS {
        commands.push(document(json!({"domain": "artifacts", "command":
            {"type": "REGISTER_MODEL", "metadata": {"version": version}}})));
    }
    commands.push(Some(PlaneCommand::Admin(
        AdminCommand::ConfigureShadowWindow { cycles: 2 },
    )));
    for command in commands {
        let Some(command) = command else {
            panic!("a sample command no longer decodes")
        };
        if let Err(e) = execute_confirmed(&mut kernel, &command, &ctx) {
            panic!("the sample history refused {command:?}: {e}");
        }
    }
    kernel
}

/// Event histories the plane itself produced on top of [`sample_plane`] (whose own events are
/// not included): commands from the cast a few minutes apart.
pub fn events() -> impl Strategy<Value = Vec<PlaneEvent>> {
    proptest::collection::vec((actor(), command(), 0i64..600), 0..32).prop_map(|steps| {
        let mut kernel = sample_plane();
        let mut at = start();
        let commands: Vec<(Context, PlaneCommand)> = steps
            .into_iter()
            .map(|(actor, command, secs)| {
                at = at.checked_add(time::Duration::seconds(secs)).unwrap_or(at);
                (context(at, actor), command)
            })
            .collect();
        ro_core::testing::events_of(&mut kernel, commands)
    })
}

/// The plane's invariants (every domain's, and the plane's own), for downstream suites.
pub fn check_invariants(plane: &Plane) -> Result<(), InvariantViolation> {
    plane.check_invariants()
}
