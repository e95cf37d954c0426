//! A seeded simulation of the plane: random commands from humans, agents and services with
//! irregularly advancing time. After every command: no agent or service performed a
//! human-only action, the lockdown refused every management command, no run was requested
//! under a production lock or the kill switch, no confirmation token was accepted twice or
//! from anyone but the actor it was issued to, every cycle recorded while halted has intent
//! `STOP`, no promotion skipped its shadow window; at the end, replay equals
//! incremental application and two replays agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::collections::BTreeSet;

use proptest::prelude::*;
use ro_admin::{AdminCommand, Plane, PlaneCommand, PlaneRejection, testing};
use ro_core::{
    Actor, ActorId, ConfirmationToken, Context, ExecuteError, Journal, Kernel, Timestamp,
    testing::check_replay,
};
use ro_policy::Safety;
use serde_json::json;

const ACTORS: [(&str, ro_core::ActorKind, &str); 5] = testing::CAST;

#[derive(Debug, Clone)]
enum TokenChoice {
    None,
    OwnLatest,
    AnyIssued(usize),
    Wrong,
}

#[derive(Debug, Clone)]
enum Step {
    Advance(i64),
    Grant {
        by: usize,
        to: usize,
        role: usize,
    },
    Revoke {
        by: usize,
        to: usize,
        role: usize,
    },
    Lockdown {
        by: usize,
    },
    ProductionLock {
        by: usize,
    },
    KillSwitch {
        by: usize,
    },
    /// `which`: 0 releases the lockdown, 1 unlocks production, 2 releases the kill switch,
    /// 3 promotes the candidate, 4 rolls the model back, 5 resets the failure status.
    Release {
        by: usize,
        which: u8,
        token: TokenChoice,
    },
    RequestRun {
        by: usize,
        partition: u8,
    },
    FourEyes {
        by: usize,
        on: bool,
    },
    Register {
        by: usize,
        artifact: u8,
        digest: u8,
    },
    DefinePool {
        by: usize,
        max: u32,
    },
    Candidate {
        by: usize,
        version: u8,
    },
    Cycle {
        by: usize,
        buy: bool,
    },
    ReportFailure {
        by: usize,
    },
    /// A two-step command (`which` as for `Release`) confirmed at once by its requester.
    Confirmed {
        by: usize,
        which: u8,
    },
}

const ROLES: [&str; 3] = ["admin", "operator", "analyst"];
const MODELS: [&str; 2] = testing::MODELS;

fn step() -> impl Strategy<Value = Step> {
    let who = 0..ACTORS.len();
    prop_oneof![
        2 => (0i64..400).prop_map(Step::Advance),
        1 => (who.clone(), who.clone(), 0..ROLES.len()).prop_map(|(by, to, role)| Step::Grant { by, to, role }),
        1 => (who.clone(), who.clone(), 0..ROLES.len()).prop_map(|(by, to, role)| Step::Revoke { by, to, role }),
        2 => who.clone().prop_map(|by| Step::Lockdown { by }),
        1 => who.clone().prop_map(|by| Step::ProductionLock { by }),
        1 => who.clone().prop_map(|by| Step::KillSwitch { by }),
        1 => (who.clone(), any::<bool>()).prop_map(|(by, on)| Step::FourEyes { by, on }),
        2 => (who.clone(), 0u8..6).prop_map(|(by, partition)| Step::RequestRun { by, partition }),
        3 => (who.clone(), 0u8..2).prop_map(|(by, version)| Step::Candidate { by, version }),
        4 => (who.clone(), any::<bool>()).prop_map(|(by, buy)| Step::Cycle { by, buy }),
        1 => who.clone().prop_map(|by| Step::ReportFailure { by }),
        4 => (0usize..3, 0u8..6).prop_map(|(by, which)| Step::Confirmed { by, which }),
        6 => (who.clone(), 0u8..6, prop_oneof![
            Just(TokenChoice::None),
            Just(TokenChoice::OwnLatest),
            (0usize..8).prop_map(TokenChoice::AnyIssued),
            Just(TokenChoice::Wrong),
        ]).prop_map(|(by, which, token)| Step::Release { by, which, token }),
        3 => (who.clone(), 0u8..4, 1u8..3).prop_map(|(by, artifact, digest)| Step::Register { by, artifact, digest }),
        1 => (who, 0u32..3).prop_map(|(by, max)| Step::DefinePool { by, max }),
    ]
}

fn actor(i: usize) -> Actor {
    let (id, kind, _) = ACTORS[i];
    Actor {
        id: ActorId::new(id).unwrap(),
        kind,
    }
}

fn command(value: serde_json::Value) -> PlaneCommand {
    serde_json::from_value(value).unwrap()
}

/// 96 seeded histories, plus `RO_SIM_SEEDS` more when set (`RO_SIM_SEEDS=5000 cargo test -p
/// ro-admin --test properties`). A failing history is shrunk by proptest to a minimal list of
/// steps, printed with its seed and kept in `properties.proptest-regressions`, which replays it
/// first on every later run.
#[allow(clippy::disallowed_methods)] // test configuration, not domain code
fn simulation_cases() -> u32 {
    96 + std::env::var("RO_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
}

fn grant(to: &str, role: &str) -> PlaneCommand {
    command(
        json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": to, "role": role}}),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(simulation_cases()))]

    #[test]
    fn the_plane_keeps_its_promises(steps in proptest::collection::vec(step(), 1..120)) {
        let mut kernel = testing::sample_plane();
        let mut at = testing::start();
        // Tokens handed out, with the actor they were issued to; tokens accepted so far.
        // (Under four-eyes, `AnyIssued` plays the colleague who was handed a token.)
        let mut issued: Vec<(ActorId, String)> = Vec::new();
        let mut consumed: BTreeSet<String> = BTreeSet::new();
        let mut steps = steps.into_iter();
        let mut followup: Option<(usize, PlaneCommand, Option<String>)> = None;
        loop {
            let mut two_step = false;
            let mut token = None;
            let (by, cmd) = if let Some((by, cmd, confirm)) = followup.take() { token = confirm; (by, cmd) } else {
            let Some(step) = steps.next() else { break };
            match step {
                Step::Advance(secs) => {
                    at = Timestamp::from_unix_seconds(at.unix_seconds() + secs).unwrap();
                    continue;
                }
                Step::Grant { by, to, role } => (by, grant(ACTORS[to].0, ROLES[role])),
                Step::Revoke { by, to, role } => (by, command(json!({"domain": "policy", "command":
                    {"type": "REVOKE_ROLE", "principal": ACTORS[to].0, "role": ROLES[role]}}))),
                Step::Lockdown { by } => (by, PlaneCommand::Admin(AdminCommand::EmergencyLockdown {})),
                Step::FourEyes { by, on } => (by, PlaneCommand::Admin(AdminCommand::ConfigureConfirmations { four_eyes: on })),
                Step::ProductionLock { by } => (by, PlaneCommand::Admin(AdminCommand::ProductionLock {})),
                Step::KillSwitch { by } => (by, PlaneCommand::Admin(AdminCommand::EngageKillSwitch {})),
                Step::RequestRun { by, partition } => (by, command(json!({"domain": "jobs", "command": {
                    "type": "REQUEST_RUN", "job_id": "report", "intent": "manual", "partition": format!("p-{partition}")}}))),
                Step::Release { by, which, token: choice } => {
                    let me = actor(by).id;
                    token = match choice {
                        TokenChoice::None => None,
                        TokenChoice::OwnLatest => issued.iter().rev().find(|(a, _)| *a == me).map(|(_, t)| t.clone()),
                        TokenChoice::AnyIssued(i) if !issued.is_empty() => Some(issued[i % issued.len()].1.clone()),
                        TokenChoice::AnyIssued(_) => None,
                        TokenChoice::Wrong => Some("0".repeat(64)),
                    };
                    (by, PlaneCommand::Admin(testing::two_step(which)))
                }
                Step::Confirmed { by, which } => {
                    two_step = true;
                    (by, PlaneCommand::Admin(testing::two_step(which)))
                }
                Step::Register { by, artifact, digest } => (by, command(json!({"domain": "artifacts", "command": {
                    "type": "REGISTER_ARTIFACT", "ref": format!("runs/r-{artifact}/report.json"),
                    "digest": format!("blake3:{digest:064x}")}}))),
                Step::DefinePool { by, max } => (by, command(json!({"domain": "jobs", "command":
                    {"type": "DEFINE_POOL", "pool": "batch", "max_running": max}}))),
                Step::Candidate { by, version } => (by, command(json!({"domain": "admin", "command":
                    {"type": "SET_CANDIDATE_MODEL", "version": MODELS[usize::from(version)]}}))),
                Step::Cycle { by, buy } => (by, command(json!({"domain": "admin", "command":
                    {"type": "RECORD_CYCLE", "intent": if buy { "BUY" } else { "HOLD" }, "latency_ms": 5, "survived": true}}))),
                Step::ReportFailure { by } => (by, command(json!({"domain": "admin", "command":
                    {"type": "REPORT_FAILURE", "mode": "DEGRADED", "description": "drift"}}))),
            }
            };
            let who = actor(by);
            let mut ctx = Context::new(at, who.clone()).with_reason(ro_core::Reason::new("per runbook").unwrap());
            if let Some(token) = &token {
                ctx = ctx.with_confirmation_token(ConfirmationToken::new(token.clone()));
            }
            let (action, _) = kernel.state().action_of(&cmd);
            let locked = kernel.state().lockdown();
            let four_eyes = kernel.state().four_eyes();
            let execution_halted = kernel.state().production_locked() || kernel.state().kill_switch();
            let halted = !kernel.state().safe_to_execute();
            let shadow_complete = kernel.state().registry().shadow_complete();
            let result = kernel.execute(&cmd, &ctx);
            // Every admin action that changed something, and every denied attempt, leaves an
            // AdminEvent record.
            if let Ok(envelopes) = &result {
                let changed_admin = matches!(cmd, PlaneCommand::Admin(ref a) if !matches!(a, AdminCommand::RecordCycle { .. }))
                    && !envelopes.is_empty();
                let records: Vec<_> = envelopes.iter().filter_map(ro_admin::audit::admin_record).collect();
                if changed_admin {
                    prop_assert!(records.iter().any(|r| r.result == ro_admin::audit::AdminResult::Applied && r.action_type == action),
                        "no AdminEvent record for {cmd:?}");
                }
            }
            if let Err(ExecuteError::Rejected(PlaneRejection::Policy(ro_policy::PolicyRejection::Unauthorized { .. }) | PlaneRejection::LockdownActive)) = &result {
                // The denial, the deviation it may open and the alert that deviation raises.
                let denied = kernel.journal().records().iter().rev().take(3)
                    .map(|r| r.decode::<ro_admin::PlaneEvent>().unwrap())
                    .filter_map(|e| ro_admin::audit::admin_record(&e))
                    .any(|r| r.result == ro_admin::audit::AdminResult::Denied && r.action_type == action);
                prop_assert!(denied, "a denied {action:?} left no AdminEvent record");
            }
            if let Ok(envelopes) = &result {
                match ro_admin::command_result(envelopes.iter().map(|e| &e.event)) {
                    ro_admin::CommandResult::Cycle { intent, .. } if halted => {
                        prop_assert_eq!(intent.as_str(), "STOP", "a cycle ran while halted");
                    }
                    _ => {}
                }
                if matches!(cmd, PlaneCommand::Admin(AdminCommand::PromoteCandidate { .. })) {
                    prop_assert!(shadow_complete, "a promotion skipped its shadow window");
                }
            }
            let accepted = result.is_ok();
            if let Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(issued_now))) = &result {
                prop_assert!(who.is_human(), "a confirmation was offered to {who:?}");
                let issued_now = issued_now.reveal().to_owned();
                issued.push((who.id.clone(), issued_now.clone()));
                if two_step {
                    followup = Some((by, cmd.clone(), Some(issued_now)));
                }
            }
            if !who.is_human() && action.safety() == Safety::Reducing {
                prop_assert!(!accepted, "{who:?} performed human-only {action:?}");
            }
            let is_release_lockdown = matches!(cmd, PlaneCommand::Admin(AdminCommand::ReleaseLockdown { .. }));
            let is_cycle = matches!(cmd, PlaneCommand::Admin(AdminCommand::RecordCycle { .. }));
            if locked && !is_release_lockdown && !is_cycle && action.safety() != Safety::Increasing {
                prop_assert!(!accepted, "{action:?} passed the lockdown");
            }
            if execution_halted && matches!(cmd, PlaneCommand::Jobs(_)) && action == ro_policy::Action::TriggerRun {
                prop_assert!(!accepted, "a run was requested under a production lock or the kill switch");
            }
            if let (true, Some(t)) = (accepted, &token) {
                prop_assert!(consumed.insert(t.clone()), "token accepted twice");
                let issued_to = issued.iter().find(|(_, i)| i == t).map(|(a, _)| a.clone());
                prop_assert!(issued_to.is_some(), "a token never issued was accepted");
                if four_eyes {
                    prop_assert!(issued_to != Some(who.id.clone()), "four-eyes: {who:?} confirmed their own request");
                    prop_assert!(who.is_human());
                } else {
                    prop_assert_eq!(issued_to, Some(who.id.clone()), "token not issued to {:?}", who);
                }
            }
            prop_assert_eq!(
                kernel.state().safe_to_execute(),
                kernel.state().halt_reasons().is_empty()
            );
        }
        check_replay(&kernel);
    }
}

/// Unused confirmations do not pile up: those expired for more than a TTL are forgotten, while
/// a token that expired recently is still refused as expired.
#[test]
fn expired_confirmations_are_forgotten() {
    let mut kernel =
        Kernel::resume(Plane::with_confirmation_key([7; 32]), 0, Journal::new()).unwrap();
    let t0 = Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap();
    let at = |secs: i64| Timestamp::from_unix_seconds(t0.unix_seconds() + secs).unwrap();
    kernel
        .execute(
            &grant("alice", "admin"),
            &Context::new(at(0), actor(0))
                .with_reason(ro_core::Reason::new("per runbook").unwrap()),
        )
        .unwrap();
    kernel
        .execute(
            &PlaneCommand::Admin(AdminCommand::EmergencyLockdown {}),
            &Context::new(at(0), actor(0))
                .with_reason(ro_core::Reason::new("per runbook").unwrap()),
        )
        .unwrap();
    let release = PlaneCommand::Admin(AdminCommand::ReleaseLockdown {});
    let ttl = ro_admin::CONFIRMATION_TTL_SECONDS;
    let mut first_token = None;
    for i in 0..50 {
        let ctx = Context::new(at(i * ttl / 2), actor(0))
            .with_reason(ro_core::Reason::new("per runbook").unwrap());
        let result = kernel.execute(&release, &ctx);
        let Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(token))) = result
        else {
            panic!("{result:?}");
        };
        first_token.get_or_insert(token);
        // Requests every half TTL: at most the last four (two TTLs) are remembered.
        assert!(
            kernel.state().pending_confirmations() <= 5,
            "{}",
            kernel.state().pending_confirmations()
        );
    }
    assert_eq!(kernel.state().confirmations_issued(), 50);
    let late = Context::new(at(50 * ttl), actor(0))
        .with_reason(ro_core::Reason::new("per runbook").unwrap())
        .with_confirmation_token(first_token.unwrap());
    let result = kernel.execute(&release, &late);
    assert!(matches!(
        result,
        Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRefused(
            _
        )))
    ));
    check_replay(&kernel);
}

/// A snapshot of the whole plane (policy, artifacts, jobs with schedules and calendars, the
/// registry, components, pending confirmations) restores to the same state, rebuilds the jobs'
/// derived caches (the planner proposes the same runs), never holds the confirmation key, and
/// a damaged snapshot falls back to full replay.
#[test]
fn plane_snapshots_restore_or_fall_back() {
    let key = [9; 32];
    let mut kernel = Kernel::resume(Plane::with_confirmation_key(key), 0, Journal::new()).unwrap();
    let t0 = Timestamp::parse_rfc3339("2026-03-02T13:00:00Z").unwrap();
    let ctx = Context::new(t0, actor(0)).with_reason(ro_core::Reason::new("per runbook").unwrap());
    for doc in [
        json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": "alice", "role": "admin"}}),
        json!({"domain": "jobs", "command": {"type": "DEFINE_CALENDAR", "calendar": {"name": "equities", "version": 1, "timezone": "America/New_York", "weekmask": [true, true, true, true, true, false, false], "holidays": ["2026-03-04"], "early_closes": {"2026-03-05": "13:00"}}}}),
        json!({"domain": "jobs", "command": {"type": "DEFINE_JOB", "definition": {"job_id": "close", "version": 1, "schedule": {"cron": "0 16 * * *", "timezone": "America/New_York"}, "calendar": "equities"}}}),
        json!({"domain": "jobs", "command": {"type": "OVERRIDE_CALENDAR_DATE", "name": "equities", "date": "2026-03-06", "override": {"kind": "closed"}}}),
        json!({"domain": "artifacts", "command": {"type": "REGISTER_MODEL", "metadata": {"version": "M-1"}}}),
        json!({"domain": "admin", "command": {"type": "SET_CANDIDATE_MODEL", "version": "M-1"}}),
        json!({"domain": "admin", "command": {"type": "RECORD_CYCLE", "intent": "HOLD", "latency_ms": 7, "survived": true}}),
        json!({"domain": "admin", "command": {"type": "REPORT_COMPONENT", "component": "marketdata", "healthy": true, "critical": true}}),
        json!({"domain": "admin", "command": {"type": "EMERGENCY_LOCKDOWN"}}),
    ] {
        kernel.execute(&command(doc), &ctx).unwrap();
    }
    let release = PlaneCommand::Admin(AdminCommand::ReleaseLockdown {});
    let Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(token))) =
        kernel.execute(&release, &ctx)
    else {
        panic!("the release asks for a confirmation");
    };
    let bytes = kernel.snapshot().unwrap();
    assert!(
        !bytes.windows(32).any(|w| w == key),
        "the snapshot holds the confirmation key"
    );
    let journal = kernel.journal().clone();
    let (restored, how) = Kernel::<Plane>::restore_with(
        &bytes,
        journal.clone(),
        Plane::with_confirmation_key(key),
        |p| p.set_confirmation_key(key),
    )
    .unwrap();
    assert_eq!(
        how,
        ro_core::Restored::FromSnapshot {
            seq: kernel.head().seq
        }
    );
    assert_eq!(
        restored.state_digest().unwrap(),
        kernel.state_digest().unwrap()
    );
    assert_eq!(restored.state(), kernel.state());
    let later = Timestamp::parse_rfc3339("2026-03-09T22:00:00Z").unwrap();
    assert_eq!(
        restored.state().jobs().plan(later),
        kernel.state().jobs().plan(later)
    );
    assert!(
        !kernel.state().jobs().plan(later).is_empty(),
        "the planner proposes the due slot"
    );
    // The restored plane accepts the token issued before the snapshot (the key was set).
    let mut restored = restored;
    restored
        .execute(&release, &ctx.clone().with_confirmation_token(token))
        .unwrap();
    assert!(!restored.state().lockdown());
    // A truncated or flipped snapshot falls back to full replay, to the same state.
    for damaged in [bytes[..bytes.len() / 2].to_vec(), {
        let mut b = bytes.clone();
        let mid = b.len() / 2;
        b[mid] ^= 1;
        b
    }] {
        let (replayed, how) = Kernel::<Plane>::restore_with(
            &damaged,
            journal.clone(),
            Plane::with_confirmation_key(key),
            |p| p.set_confirmation_key(key),
        )
        .unwrap();
        assert!(
            matches!(how, ro_core::Restored::FullReplay { .. }),
            "{how:?}"
        );
        assert_eq!(replayed.state(), kernel.state());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The kit's event histories are histories the decider accepts: folded through a kernel
    /// they keep every invariant and replay to the same state.
    #[test]
    fn kit_event_histories_replay(events in testing::events()) {
        let scenario = ro_core::testing::given::<ro_admin::Plane>(events.clone());
        prop_assert_eq!(scenario.kernel().head().seq, events.len() as u64);
        prop_assert!(testing::check_invariants(scenario.kernel().state()).is_ok());
        ro_core::testing::check_replay(scenario.kernel());
    }
}
