//! Signed operations through the plane: a required signature is enforced, a valid one is
//! recorded, an invalid one changes nothing but the record of its failure and the
//! signature-failure deviation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use ed25519_dalek::{Signer, SigningKey};
use ro_admin::{
    AdminCommand, Plane, PlaneCommand, PlaneEvent, PlaneRejection, command_digest, signing,
};
use ro_core::{
    Actor, ActorId, CommandSignature, Context, ExecuteError, Journal, Kernel, Timestamp,
    testing::check_replay,
};
use serde_json::json;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn command(value: serde_json::Value) -> PlaneCommand {
    serde_json::from_value(value).unwrap()
}

fn at() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-02T13:00:00Z").unwrap()
}

/// A fresh nonce for every signature of a test run.
fn nonce() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "nonce-{:08}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The signature of `command` by `key` (registered as `key_id`), sent by `actor` at [`at`] on
/// `kernel`'s plane.
fn signed(
    kernel: &Kernel<Plane>,
    key: &SigningKey,
    key_id: &str,
    actor: &Actor,
    command: &PlaneCommand,
) -> CommandSignature {
    let nonce = nonce();
    let message = signing::signing_message(
        &kernel.state().signing().plane_id(),
        actor,
        &nonce,
        &command_digest(command),
        at(),
    );
    CommandSignature {
        key_id: signing::KeyId::new(key_id).unwrap(),
        signature: hex(&key.sign(&message).to_bytes()),
        nonce,
    }
}

/// `who` registers its own `key` as `key_id`, with proof of possession.
fn register_own(kernel: &mut Kernel<Plane>, key: &SigningKey, key_id: &str, who: &Actor) {
    let key_id = signing::KeyId::new(key_id).unwrap();
    let public = *key.verifying_key().as_bytes();
    let proof = key.sign(&signing::key_registration_message(
        &kernel.state().signing().plane_id(),
        &who.id,
        &key_id,
        &public,
    ));
    let register = PlaneCommand::Admin(AdminCommand::RegisterSigningKey {
        key_id,
        principal: who.id.clone(),
        public_key: hex(&public),
        proof: Some(hex(&proof.to_bytes())),
    });
    kernel
        .execute(
            &register,
            &Context::new(at(), who.clone())
                .with_reason(ro_core::Reason::new("per runbook").unwrap()),
        )
        .unwrap();
}

#[test]
fn signatures_are_required_verified_and_failures_recorded() {
    let at = at();
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let mallory = Actor::human(ActorId::new("mallory").unwrap());
    let ctx =
        Context::new(at, alice.clone()).with_reason(ro_core::Reason::new("per runbook").unwrap());
    let mut kernel =
        Kernel::resume(Plane::with_confirmation_key([5; 32]), 0, Journal::new()).unwrap();
    for principal in ["alice", "mallory"] {
        let grant = json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": principal, "role": "admin"}});
        kernel.execute(&command(grant), &ctx).unwrap();
    }
    let alice_key = SigningKey::from_bytes(&[1; 32]);
    let mallory_key = SigningKey::from_bytes(&[2; 32]);
    register_own(&mut kernel, &alice_key, "k-alice", &alice);
    register_own(&mut kernel, &mallory_key, "k-mallory", &mallory);
    let bad_key = PlaneCommand::Admin(AdminCommand::RegisterSigningKey {
        key_id: signing::KeyId::new("k-bad").unwrap(),
        principal: ActorId::new("alice").unwrap(),
        public_key: "zz".repeat(32),
        proof: None,
    });
    assert_eq!(
        kernel.execute(&bad_key, &ctx).unwrap_err().code(),
        "INVALID_COMMAND"
    );
    let require = command(
        json!({"domain": "admin", "command": {"type": "REQUIRE_SIGNATURES", "actions": ["EMERGENCY_LOCKDOWN", "GRANT_ROLE"]}}),
    );
    kernel.execute(&require, &ctx).unwrap();

    let lockdown = PlaneCommand::Admin(AdminCommand::EmergencyLockdown {});
    // Unsigned: refused and recorded.
    let unsigned = kernel.execute(&lockdown, &ctx).unwrap_err();
    assert_eq!(unsigned.code(), "SIGNATURE_REQUIRED");
    // Signed with another principal's key, or a forged signature, or for another command:
    // refused, recorded with the deviation, nothing else changes.
    let head = kernel.head().seq;
    let state = kernel.state().clone();
    let forged = {
        let mut forged = signed(&kernel, &alice_key, "k-alice", &alice, &lockdown);
        let mut s = forged.signature.into_bytes();
        s[0] = if s[0] == b'0' { b'1' } else { b'0' };
        forged.signature = String::from_utf8(s).unwrap();
        forged
    };
    for (what, attempt) in [
        (
            "another principal's key",
            signed(&kernel, &mallory_key, "k-mallory", &alice, &lockdown),
        ),
        ("a forged signature", forged),
        (
            "a signature of another command",
            signed(&kernel, &alice_key, "k-alice", &alice, &require),
        ),
        (
            "an unknown key",
            signed(&kernel, &alice_key, "k-nobody", &alice, &lockdown),
        ),
    ] {
        let before = kernel.head().seq;
        let error = kernel
            .execute(&lockdown, &ctx.clone().with_signature(attempt))
            .unwrap_err();
        assert_eq!(error.code(), "SIGNATURE_INVALID", "{what}");
        let recorded: Vec<String> = kernel
            .journal()
            .records_after(before)
            .iter()
            .map(|r| r.decode::<PlaneEvent>().unwrap())
            .map(|e| {
                serde_json::to_value(&e.event).unwrap()["event"]["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            recorded,
            ["SignatureRejected", "DeviationOpened", "AlertRaised"],
            "{what}"
        );
        assert!(!kernel.state().lockdown(), "{what}");
    }
    assert_eq!(kernel.state().policy().deviations().len(), 4);
    assert!(kernel.head().seq > head);
    // Keys and requirements unchanged; only the day's count of refused signatures moved.
    let (now, then) = (kernel.state().signing(), state.signing());
    assert_eq!(now.required(), then.required());
    for key in ["k-alice", "k-mallory", "k-nobody"] {
        let key = signing::KeyId::new(key).unwrap();
        assert_eq!(now.key(&key), then.key(&key));
    }
    let today = ro_policy::Day::of(at);
    assert_eq!(now.verifications_between(today, today), (0, 4));
    // Signed properly: accepted, the verification recorded first.
    let events = kernel
        .execute(
            &lockdown,
            &ctx.clone()
                .with_signature(signed(&kernel, &alice_key, "k-alice", &alice, &lockdown)),
        )
        .unwrap();
    let first = serde_json::to_value(&events[0].event).unwrap();
    assert_eq!(first["event"]["type"], "SignatureVerified");
    assert_eq!(first["event"]["key_id"], "k-alice");
    assert!(kernel.state().lockdown());
    // Mallory cannot use her key for Alice's identity, and an unsigned release of a signed
    // action is refused too: actions not in the set need no signature.
    let by_mallory = kernel.execute(
        &lockdown,
        &Context::new(at, mallory.clone())
            .with_reason(ro_core::Reason::new("per runbook").unwrap())
            .with_signature(signed(
                &kernel,
                &mallory_key,
                "k-mallory",
                &mallory,
                &lockdown,
            )),
    );
    assert!(
        matches!(by_mallory, Ok(ref e) if e.is_empty()),
        "{by_mallory:?}"
    );
    let release = PlaneCommand::Admin(AdminCommand::ReleaseLockdown {});
    assert!(matches!(
        kernel.execute(&release, &ctx),
        Err(ExecuteError::Rejected(
            PlaneRejection::ConfirmationRequired(_)
        ))
    ));
    check_replay(&kernel);

    // The per-cycle signature log: the first cycle closes the window of the five signed
    // operations above (four failures, one verified); the second has none.
    let cycle =
        command(json!({"domain": "admin", "command": {"type": "RECORD_CYCLE", "intent": "HOLD"}}));
    kernel.execute(&cycle, &ctx).unwrap();
    kernel.execute(&cycle, &ctx).unwrap();
    kernel
        .execute(
            &cycle,
            &ctx.clone()
                .with_signature(signed(&kernel, &alice_key, "k-alice", &alice, &cycle)),
        )
        .unwrap();
    // The attestation of the day counts the signed operations and the share that verified:
    // two of six (the lockdown and the cycle; four refusals).
    let day = ro_policy::Day::of(at);
    let attestation = ro_admin::attestation::attest(kernel.state(), day, day).unwrap();
    assert_eq!(attestation.signed_operations, 6);
    assert_eq!(attestation.signature_verification_rate_bp, Some(3_333));
    let next = day.next();
    let quiet = ro_admin::attestation::attest(kernel.state(), next, next).unwrap();
    assert_eq!(
        (
            quiet.signed_operations,
            quiet.signature_verification_rate_bp
        ),
        (0, None)
    );
    let mut logs = signing::SignatureLogs::default();
    let closed: Vec<signing::SignatureLog> = kernel
        .journal()
        .records()
        .iter()
        .filter_map(|r| logs.push(&r.decode::<PlaneEvent>().unwrap()))
        .collect();
    let summaries: Vec<serde_json::Value> = closed
        .iter()
        .map(|l| serde_json::to_value(&l.signature_verification_summary).unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            json!({"total_operations": 5, "signatures_verified": 1, "signatures_failed": 4,
                   "verification_rate_bp": 2000, "verification_status": "FAIL"}),
            json!({"total_operations": 0, "signatures_verified": 0, "signatures_failed": 0,
                   "verification_rate_bp": null, "verification_status": "PASS"}),
            json!({"total_operations": 1, "signatures_verified": 1, "signatures_failed": 0,
                   "verification_rate_bp": 10000, "verification_status": "PASS"}),
        ]
    );
    assert_eq!(
        closed.iter().map(|l| l.cycle).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let first = &closed[0];
    assert_eq!(first.alerts.len(), 4);
    assert_eq!(
        first
            .operation_signatures
            .iter()
            .map(|o| (o.step, o.agent.as_str(), o.verified))
            .collect::<Vec<_>>(),
        [
            (1, "alice", false),
            (2, "alice", false),
            (3, "alice", false),
            (4, "alice", false),
            (5, "alice", true)
        ]
    );
    // The unknown key has no public key in the log; the others do.
    assert!(first.operation_signatures[3].public_key.is_none());
    assert!(first.operation_signatures[0].public_key.is_some());
    // Every verified signature in the log verifies again from the log alone; the forged one
    // (step 2) does not. (Step 1 is a sound signature by another principal's key: refused for
    // whose key it is, not for the bytes.)
    let mut checked = Vec::new();
    for op in closed.iter().flat_map(|l| &l.operation_signatures) {
        let (Some(sig), Some(public)) = (&op.signature, &op.public_key) else {
            continue;
        };
        let public: [u8; 32] =
            signing::parse_hex(public.strip_prefix("ed25519:").unwrap(), "key").unwrap();
        let sig: [u8; 64] =
            signing::parse_hex(sig.strip_prefix("ed25519:").unwrap(), "sig").unwrap();
        let again = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .unwrap()
            .verify_strict(
                &signing::signing_message(
                    &first.plane_id,
                    &Actor {
                        id: op.agent.clone(),
                        kind: op.agent_kind,
                    },
                    op.nonce.as_deref().unwrap_or_default(),
                    &op.command_digest,
                    op.verification_timestamp,
                ),
                &ed25519_dalek::Signature::from_bytes(&sig),
            )
            .is_ok();
        assert!(again || !op.verified, "step {}", op.step);
        checked.push((op.command_digest, op.step, again));
    }
    assert_eq!(
        checked.len(),
        5,
        "four signatures with a known key, and the signed cycle"
    );
    assert!(checked.iter().any(|(_, step, again)| *step == 2 && !again));
    assert!(logs.pending().is_empty());
}

/// A signature binds the command to its time: the same signed command at another instant is
/// refused.
#[test]
fn a_signed_command_cannot_be_replayed_at_another_time() {
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let ctx =
        Context::new(at(), alice.clone()).with_reason(ro_core::Reason::new("per runbook").unwrap());
    let mut kernel =
        Kernel::resume(Plane::with_confirmation_key([5; 32]), 0, Journal::new()).unwrap();
    let grant = json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": "alice", "role": "admin"}});
    kernel.execute(&command(grant), &ctx).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    register_own(&mut kernel, &key, "k-alice", &alice);
    let cycle = command(
        json!({"domain": "admin", "command": {"type": "REPORT_COMPONENT", "component": "feed", "healthy": true}}),
    );
    let signature = signed(&kernel, &key, "k-alice", &alice, &cycle);
    kernel
        .execute(&cycle, &ctx.clone().with_signature(signature.clone()))
        .unwrap();
    let later = Context::new(
        Timestamp::parse_rfc3339("2026-03-02T13:05:00Z").unwrap(),
        alice,
    )
    .with_reason(ro_core::Reason::new("per runbook").unwrap())
    .with_signature(signature);
    let replay = kernel.execute(&cycle, &later).unwrap_err();
    assert_eq!(
        ro_core::Rejection::code(&match replay {
            ExecuteError::Rejected(r) => r,
            other => panic!("{other:?}"),
        }),
        "SIGNATURE_INVALID"
    );
}

#[test]
fn a_document_naming_someone_else_than_the_authenticated_principal_is_refused_and_recorded() {
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let ctx =
        Context::new(at(), alice.clone()).with_reason(ro_core::Reason::new("per runbook").unwrap());
    let mut kernel =
        Kernel::resume(Plane::with_confirmation_key([5; 32]), 0, Journal::new()).unwrap();
    let grant = json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": "alice", "role": "admin"}});
    kernel.execute(&command(grant), &ctx).unwrap();
    let lockdown = command(json!({"domain": "admin", "command": {"type": "EMERGENCY_LOCKDOWN"}}));
    // Alice authenticated, the document claims bob: refused whatever alice may do.
    let mut claimed = ctx.clone();
    claimed.claimed_actor = Some(ActorId::new("bob").unwrap());
    let before = kernel.head().seq;
    let refused = kernel.execute(&lockdown, &claimed).unwrap_err();
    assert_eq!(refused.code(), "ACTOR_MISMATCH");
    let text = recorded_after(&kernel, before);
    assert!(
        text.contains("AccessDenied") && text.contains("actor-mismatch:bob"),
        "{text}"
    );
    assert!(!kernel.state().lockdown(), "nothing applied");
    // Naming herself is no mismatch.
    claimed.claimed_actor = Some(alice.id.clone());
    kernel.execute(&lockdown, &claimed).unwrap();
    assert!(kernel.state().lockdown());
    check_replay(&kernel);
}

#[test]
fn a_command_whose_credential_no_longer_authenticates_is_refused_and_recorded() {
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let ctx =
        Context::new(at(), alice.clone()).with_reason(ro_core::Reason::new("per runbook").unwrap());
    let mut kernel =
        Kernel::resume(Plane::with_confirmation_key([5; 32]), 0, Journal::new()).unwrap();
    for setup in [
        json!({"domain": "policy", "command": {"type": "GRANT_ROLE", "principal": "alice", "role": "admin"}}),
        json!({"domain": "policy", "command": {"type": "REGISTER_PRINCIPAL", "principal": "alice", "kind": "human"}}),
        json!({"domain": "policy", "command": {"type": "REGISTER_PRINCIPAL", "principal": "bob", "kind": "human"}}),
        json!({"domain": "admin", "command": {"type": "ISSUE_TOKEN", "token_id": "t-short", "principal": "alice",
               "expires_at": "2026-03-02T13:10:00Z"}}),
        json!({"domain": "admin", "command": {"type": "ISSUE_TOKEN", "token_id": "t-revoked", "principal": "alice"}}),
        json!({"domain": "admin", "command": {"type": "ISSUE_TOKEN", "token_id": "t-bob", "principal": "bob"}}),
        json!({"domain": "admin", "command": {"type": "REVOKE_TOKEN", "token_id": "t-revoked"}}),
    ] {
        kernel.execute(&command(setup), &ctx).unwrap();
    }
    let report = command(
        json!({"domain": "admin", "command": {"type": "REPORT_COMPONENT", "component": "feed", "healthy": true}}),
    );
    let with = |credential: &str, minutes: i64| {
        let mut c = ctx.clone();
        c.at = at().checked_add(time::Duration::minutes(minutes)).unwrap();
        c.credential = Some(credential.to_owned());
        c
    };
    // Valid before its expiry; after it, and revoked, unknown or another's: refused, recorded.
    kernel.execute(&report, &with("t-short", 1)).unwrap();
    for (credential, minutes, code, label) in [
        ("t-short", 20, "TOKEN_EXPIRED", "credential-expired:t-short"),
        (
            "t-revoked",
            21,
            "TOKEN_REVOKED",
            "credential-revoked:t-revoked",
        ),
        ("t-bob", 22, "TOKEN_INVALID", "credential-invalid:t-bob"),
        ("t-never", 23, "TOKEN_INVALID", "credential-invalid:t-never"),
    ] {
        let before = kernel.head().seq;
        let refused = kernel
            .execute(&report, &with(credential, minutes))
            .unwrap_err();
        assert_eq!(refused.code(), code, "{credential}");
        let text = recorded_after(&kernel, before);
        assert!(
            text.contains("AccessDenied") && text.contains(label),
            "{text}"
        );
    }
    check_replay(&kernel);
}

/// The events recorded after `before`, as JSON text.
fn recorded_after(kernel: &Kernel<Plane>, before: u64) -> String {
    let recorded: Vec<PlaneEvent> = kernel
        .journal()
        .records_after(before)
        .iter()
        .map(|r| r.decode::<PlaneEvent>().unwrap().event)
        .collect();
    serde_json::to_string(&recorded).unwrap()
}
