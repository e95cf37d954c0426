//! Properties of deployments, streams and signed operations, over seeded random histories from
//! humans, an agent and a service, with production locks, kill switches, two-step
//! confirmations and signatures (valid, forged, by another principal's key, for another
//! command, at another time). After every command:
//!
//! - no deployment is requested into production while the production lock or the kill switch
//!   holds, and only humans request deployments (restores of last known good included);
//! - every stream change carries its before and after, and they are the stream's settings
//!   before and after the command;
//! - a command whose signature fails changes nothing: it appends its rejection and the
//!   signature-failure deviation, and no other state moves;
//! - a command that needs a signature and has none is refused;
//!
//! and at the end replay equals incremental application.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use ro_admin::{
    AdminEvent, Plane, PlaneCommand, PlaneEvent, PlaneRejection, command_digest, signing,
};
use ro_core::{
    Actor, ActorId, CommandSignature, Context, ExecuteError, Journal, Kernel, Timestamp,
    testing::check_replay,
};
use serde_json::{Value, json};

/// (id, kind): 0 human admin, 1 human operator, 2 agent admin, 3 service operator.
const ACTORS: [(&str, u8); 4] = [("alice", 0), ("olga", 0), ("bot", 1), ("svc", 2)];
const STREAMS: [&str; 2] = ["orders", "fills"];
const RETENTIONS: [u64; 4] = [1, 24, 168, 720];
const OUTCOMES: [&str; 3] = ["applied", "verified", "failed"];
const LOCKS: [&str; 4] = [
    "PRODUCTION_LOCK",
    "PRODUCTION_UNLOCK",
    "ENGAGE_KILL_SWITCH",
    "RELEASE_KILL_SWITCH",
];

fn actor(i: usize) -> Actor {
    let (id, kind) = ACTORS[i];
    let id = ActorId::new(id).unwrap();
    match kind {
        0 => Actor::human(id),
        1 => Actor::agent(id),
        _ => Actor::service(id),
    }
}

fn key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&[u8::try_from(i).unwrap() + 1; 32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn admin(command: Value) -> PlaneCommand {
    serde_json::from_value(json!({"domain": "admin", "command": command})).unwrap()
}

#[derive(Debug, Clone)]
enum Tamper {
    None,
    FlipByte,
    OtherCommand,
    OtherTime,
    OtherKey,
    UnknownKey,
    /// Signed as the actor's id under another kind.
    OtherKind,
    /// Signed for another plane.
    OtherPlane,
}

#[derive(Debug, Clone)]
enum Step {
    Advance(i64),
    Deploy {
        by: usize,
        prod: bool,
        version: u8,
        confirm: bool,
    },
    Rollout {
        by: usize,
        deployment: u64,
        outcome: u8,
    },
    CaptureLkg {
        by: usize,
        prod: bool,
    },
    RestoreLkg {
        by: usize,
        lkg: u64,
        confirm: bool,
    },
    Lock {
        by: usize,
        which: u8,
        confirm: bool,
    },
    CreateStream {
        by: usize,
        stream: usize,
        partitions: u32,
        retention: usize,
    },
    Retention {
        by: usize,
        stream: usize,
        retention: usize,
        confirm: bool,
    },
    Partitions {
        by: usize,
        stream: usize,
        partitions: u32,
    },
    RequireSignatures {
        on: bool,
    },
    Signed {
        by: usize,
        stream: usize,
        partitions: u32,
        tamper: Tamper,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0..ACTORS.len();
    prop_oneof![
        2 => (0i64..600).prop_map(Step::Advance),
        4 => (who.clone(), any::<bool>(), 0u8..3, any::<bool>())
            .prop_map(|(by, prod, version, confirm)| Step::Deploy { by, prod, version, confirm }),
        2 => (who.clone(), 1u64..6, 0u8..3).prop_map(|(by, deployment, outcome)| Step::Rollout { by, deployment, outcome }),
        1 => (who.clone(), any::<bool>()).prop_map(|(by, prod)| Step::CaptureLkg { by, prod }),
        1 => (who.clone(), 1u64..4, any::<bool>()).prop_map(|(by, lkg, confirm)| Step::RestoreLkg { by, lkg, confirm }),
        3 => (who.clone(), 0u8..4, any::<bool>()).prop_map(|(by, which, confirm)| Step::Lock { by, which, confirm }),
        2 => (who.clone(), 0..STREAMS.len(), 0u32..5, 0..RETENTIONS.len())
            .prop_map(|(by, stream, partitions, retention)| Step::CreateStream { by, stream, partitions, retention }),
        2 => (who.clone(), 0..STREAMS.len(), 0..RETENTIONS.len(), any::<bool>())
            .prop_map(|(by, stream, retention, confirm)| Step::Retention { by, stream, retention, confirm }),
        2 => (who.clone(), 0..STREAMS.len(), 0u32..12).prop_map(|(by, stream, partitions)| Step::Partitions { by, stream, partitions }),
        1 => any::<bool>().prop_map(|on| Step::RequireSignatures { on }),
        4 => (who, 0..STREAMS.len(), 1u32..12, prop_oneof![
            Just(Tamper::None), Just(Tamper::FlipByte), Just(Tamper::OtherCommand),
            Just(Tamper::OtherTime), Just(Tamper::OtherKey), Just(Tamper::UnknownKey),
            Just(Tamper::OtherKind), Just(Tamper::OtherPlane),
        ]).prop_map(|(by, stream, partitions, tamper)| Step::Signed { by, stream, partitions, tamper }),
    ]
}

fn deploy(prod: bool, version: u8) -> PlaneCommand {
    admin(
        json!({"type": "DEPLOY", "environment": if prod { "prod" } else { "stage" },
        "service": "api", "version": format!("1.{version}.0"),
        "artifact": {"ref": format!("images/api-{version}.tar"),
                     "digest": format!("blake3:{:064x}", u32::from(version) + 1), "digest_alg": "blake3"}}),
    )
}

fn partitions(stream: usize, partitions: u32) -> PlaneCommand {
    admin(
        json!({"type": "CHANGE_STREAM_PARTITIONS", "stream": STREAMS[stream], "partitions": partitions}),
    )
}

/// Signs `command` as actor `by` would on the plane `plane_id`, then spoils the signature as
/// `tamper` says.
fn sign(
    plane_id: &ro_core::Digest,
    by: usize,
    command: &PlaneCommand,
    at: Timestamp,
    tamper: &Tamper,
) -> CommandSignature {
    let (signed_command, signed_at, signer) = match tamper {
        Tamper::OtherCommand => (partitions(0, 99), at, by),
        Tamper::OtherTime => (
            command.clone(),
            Timestamp::from_unix_seconds(at.unix_seconds() + 1).unwrap(),
            by,
        ),
        Tamper::OtherKey => (command.clone(), at, (by + 1) % ACTORS.len()),
        _ => (command.clone(), at, by),
    };
    let mut signer_actor = actor(by);
    if matches!(tamper, Tamper::OtherKind) {
        signer_actor.kind = if signer_actor.is_human() {
            ro_core::ActorKind::Service
        } else {
            ro_core::ActorKind::Human
        };
    }
    let plane_id = match tamper {
        Tamper::OtherPlane => ro_core::Digest::of(b"another plane"),
        _ => *plane_id,
    };
    static NONCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let nonce = format!(
        "n-{:010}",
        NONCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let message = signing::signing_message(
        &plane_id,
        &signer_actor,
        &nonce,
        &command_digest(&signed_command),
        signed_at,
    );
    let mut signature = hex(&key(signer).sign(&message).to_bytes());
    if matches!(tamper, Tamper::FlipByte) {
        let flipped = if signature.starts_with('0') { "1" } else { "0" };
        signature.replace_range(0..1, flipped);
    }
    let key_id = match tamper {
        Tamper::UnknownKey => "k-nobody".to_owned(),
        _ => format!("k-{}", ACTORS[by].0),
    };
    CommandSignature {
        key_id: signing::KeyId::new(&key_id).unwrap(),
        signature,
        nonce,
    }
}

fn setup(kernel: &mut Kernel<Plane>, at: Timestamp) {
    let root = Context::new(at, actor(0)).with_reason(ro_core::Reason::new("per runbook").unwrap());
    for (to, role) in [
        ("alice", "admin"),
        ("olga", "operator"),
        ("bot", "admin"),
        ("svc", "operator"),
    ] {
        let grant = json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": to, "role": role}});
        kernel
            .execute(&serde_json::from_value(grant).unwrap(), &root)
            .unwrap();
    }
    for version in 0u8..3 {
        for (kind, status) in [
            ("REGISTER_ARTIFACT", None),
            ("SET_ARTIFACT_GATE", Some("PASS")),
        ] {
            let mut body = json!({"type": kind, "ref": format!("images/api-{version}.tar")});
            match status {
                Some(s) => body["status"] = json!(s),
                None => body["digest"] = json!(format!("blake3:{:064x}", u32::from(version) + 1)),
            }
            let command = json!({"domain": "artifacts", "command": body});
            kernel
                .execute(&serde_json::from_value(command).unwrap(), &root)
                .unwrap();
        }
    }
    for (env, production) in [("stage", false), ("prod", true)] {
        let define = admin(
            json!({"type": "DEFINE_ENVIRONMENT", "environment": env, "production": production, "services": ["api"]}),
        );
        kernel.execute(&define, &root).unwrap();
    }
    // Each principal registers its own key, with proof of possession.
    for (i, (who, _)) in ACTORS.iter().enumerate() {
        let key_id = signing::KeyId::new(format!("k-{who}")).unwrap();
        let public = *key(i).verifying_key().as_bytes();
        let proof = key(i).sign(&signing::key_registration_message(
            &kernel.state().signing().plane_id(),
            &actor(i).id,
            &key_id,
            &public,
        ));
        let register = admin(json!({"type": "REGISTER_SIGNING_KEY", "key_id": key_id,
            "principal": who, "public_key": hex(&public), "proof": hex(&proof.to_bytes())}));
        kernel
            .execute(
                &register,
                &Context::new(at, actor(i))
                    .with_reason(ro_core::Reason::new("per runbook").unwrap()),
            )
            .unwrap();
    }
}

/// What a stream looked like: (partitions, retention hours).
fn stream_settings(plane: &Plane, name: &str) -> Option<(u32, u64)> {
    let name = ro_admin::streams::StreamName::new(name).unwrap();
    plane
        .streams()
        .get(&name)
        .map(|s| (s.partitions, s.retention_hours))
}

/// The plane's state without the policy's deviations (which a failed signature opens).
fn without_deviations(plane: &Plane) -> Value {
    let mut value = serde_json::to_value(plane).unwrap();
    value["policy"]["deviations"] = Value::Null;
    value["policy"]["deviations_opened"] = Value::Null;
    // The day's count of refused signatures is the record of the refusal, like its deviation.
    value["signing"]["daily"] = Value::Null;
    // So is the alert the deviation raises.
    value["alerts"] = Value::Null;
    value
}

/// 32 seeded histories, plus `RO_SIM_SEEDS` more when set.
#[allow(clippy::disallowed_methods)] // test configuration, not domain code
fn cases() -> u32 {
    32 + std::env::var("RO_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn deployments_streams_and_signatures_keep_their_promises(
        steps in proptest::collection::vec(step(), 1..80)
    ) {
        let mut kernel = Kernel::resume(Plane::with_confirmation_key([9; 32]), 0, Journal::new()).unwrap();
        let mut at = Timestamp::parse_rfc3339("2026-03-02T14:00:00Z").unwrap();
        setup(&mut kernel, at);
        for step in steps {
            let mut tampered = false;
            let mut signature = None;
            let (by, command, confirm, needs_signature_check) = match step {
                Step::Advance(secs) => {
                    at = Timestamp::from_unix_seconds(at.unix_seconds() + secs).unwrap();
                    continue;
                }
                Step::Deploy { by, prod, version, confirm } => (by, deploy(prod, version), confirm, false),
                Step::Rollout { by, deployment, outcome } => (by, admin(json!({"type": "RECORD_ROLLOUT",
                    "deployment": deployment, "outcome": OUTCOMES[usize::from(outcome)]})), false, false),
                Step::CaptureLkg { by, prod } => (by, admin(json!({"type": "CAPTURE_LKG",
                    "environment": if prod { "prod" } else { "stage" }})), false, false),
                Step::RestoreLkg { by, lkg, confirm } => (by, admin(json!({"type": "RESTORE_LKG",
                    "environment": "prod", "lkg": lkg})), confirm, false),
                Step::Lock { by, which, confirm } => (by, admin(json!({"type":
                    LOCKS[usize::from(which)]})), confirm, false),
                Step::CreateStream { by, stream, partitions, retention } => {
                    let document = json!({"domain": "admin", "command": {"type": "CREATE_STREAM",
                        "stream": STREAMS[stream], "partitions": partitions, "retention_hours": RETENTIONS[retention]}});
                    // A stream without partitions is refused as it is read: it never reaches the plane.
                    match serde_json::from_value::<PlaneCommand>(document) {
                        Ok(command) => (by, command, false, true),
                        Err(e) => {
                            prop_assert_eq!(partitions, 0, "{}", e);
                            continue;
                        }
                    }
                }
                Step::Retention { by, stream, retention, confirm } => (by, admin(json!({"type": "CHANGE_STREAM_RETENTION",
                    "stream": STREAMS[stream], "retention_hours": RETENTIONS[retention]})), confirm, false),
                Step::Partitions { by, stream, partitions: n } => (by, partitions(stream, n), false, true),
                Step::RequireSignatures { on } => {
                    // Signed: once signatures are required, the requirement itself needs one.
                    let actions: Vec<&str> = if on { vec!["CREATE_STREAM", "CHANGE_STREAM_PARTITIONS"] } else { vec![] };
                    let command = admin(json!({"type": "REQUIRE_SIGNATURES", "actions": actions}));
                    signature = Some(sign(&kernel.state().signing().plane_id(), 0, &command, at, &Tamper::None));
                    (0, command, false, false)
                }
                Step::Signed { by, stream, partitions: n, tamper } => {
                    tampered = !matches!(tamper, Tamper::None);
                    let command = partitions(stream, n);
                    signature = Some(sign(&kernel.state().signing().plane_id(), by, &command, at, &tamper));
                    (by, command, false, false)
                }
            };
            let who = actor(by);
            let mut ctx = Context::new(at, who.clone()).with_reason(ro_core::Reason::new("per runbook").unwrap());
            ctx.signature = signature;
            let first = run(&mut kernel, &command, &ctx, needs_signature_check)?;
            if tampered {
                prop_assert!(
                    matches!(first, Err(ExecuteError::Rejected(PlaneRejection::SignatureInvalid(_)))),
                    "a spoiled signature was not refused: {:?}", first
                );
            }
            if confirm && let Err(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(token))) = first {
                run(&mut kernel, &command, &ctx.clone().with_confirmation_token(token), false)?.ok();
            }
        }
        check_replay(&kernel);
    }
}

/// Executes one command and checks the properties of its outcome.
fn run(
    kernel: &mut Kernel<Plane>,
    command: &PlaneCommand,
    ctx: &Context,
    unsigned_needs_check: bool,
) -> Result<Result<Vec<ro_core::Envelope<PlaneEvent>>, ExecuteError<PlaneRejection>>, TestCaseError>
{
    let before = kernel.state().clone();
    let head = kernel.head().seq;
    let (action, _) = before.action_of(command);
    let prod_blocked = before.production_locked() || before.kill_switch();
    let result = kernel.execute(command, ctx);
    let appended: Vec<PlaneEvent> = kernel
        .journal()
        .records_after(head)
        .iter()
        .map(|r| r.decode::<PlaneEvent>().unwrap().event)
        .collect();
    for event in &appended {
        match event {
            PlaneEvent::Admin(AdminEvent::DeploymentRequested { spec, by, .. }) => {
                prop_assert!(ctx.actor.is_human(), "{:?} deployed", ctx.actor);
                prop_assert_eq!(by, &ctx.actor.id);
                if spec.environment.as_str() == "prod" {
                    prop_assert!(!prod_blocked, "a deployment reached a locked production");
                }
            }
            PlaneEvent::Admin(AdminEvent::StreamRetentionChanged {
                stream,
                before: b,
                after: a,
                shortens_replay_window,
                note,
                ..
            }) => {
                let was = stream_settings(&before, stream.as_str()).unwrap();
                let now = stream_settings(kernel.state(), stream.as_str()).unwrap();
                prop_assert_eq!((*b, *a), (was.1, now.1));
                prop_assert_ne!(b, a);
                prop_assert_eq!(*shortens_replay_window, a < b);
                prop_assert_eq!(note.is_some(), a < b, "a shortening says so");
            }
            PlaneEvent::Admin(AdminEvent::StreamPartitionsChanged {
                stream,
                before: b,
                after: a,
                ..
            }) => {
                let was = stream_settings(&before, stream.as_str()).unwrap();
                let now = stream_settings(kernel.state(), stream.as_str()).unwrap();
                prop_assert_eq!((*b, *a), (was.0, now.0));
                prop_assert!(a > b, "partitions only grow");
            }
            PlaneEvent::Admin(AdminEvent::StreamCreated { spec, .. }) => {
                prop_assert!(stream_settings(&before, spec.stream.as_str()).is_none());
            }
            _ => {}
        }
    }
    // Every stream change is one of the events above: settings never move silently.
    for name in STREAMS {
        let (was, now) = (
            stream_settings(&before, name),
            stream_settings(kernel.state(), name),
        );
        if was != now {
            prop_assert!(
                appended.iter().any(|e| matches!(
                    e,
                    PlaneEvent::Admin(
                        AdminEvent::StreamCreated { .. }
                            | AdminEvent::StreamRetentionChanged { .. }
                            | AdminEvent::StreamPartitionsChanged { .. }
                    )
                )),
                "stream {name} changed without its event"
            );
        }
    }
    if let Err(ExecuteError::Rejected(PlaneRejection::SignatureInvalid(_))) = &result {
        let kinds: Vec<String> = appended
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["event"]["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        // The deviation it opens raises its alert in the same append.
        prop_assert_eq!(
            kinds,
            ["SignatureRejected", "DeviationOpened", "AlertRaised"]
        );
        prop_assert!(
            without_deviations(&before) == without_deviations(kernel.state()),
            "a command with an invalid signature changed the state"
        );
    }
    if ctx.signature.is_some() && result.as_ref().is_ok_and(|e| !e.is_empty()) {
        let verified_first = matches!(
            appended.first(),
            Some(PlaneEvent::Admin(AdminEvent::SignatureVerified { .. }))
        );
        prop_assert!(
            verified_first,
            "an accepted signed command records its verification first"
        );
    }
    if unsigned_needs_check && before.signing().requires(action) {
        prop_assert!(
            matches!(
                result,
                Err(ExecuteError::Rejected(PlaneRejection::SignatureRequired(_)))
            ),
            "an unsigned {:?} passed: {:?}",
            action,
            result
        );
    }
    Ok(result)
}
