//! Shared workloads of ro's own benchmarks (`cargo bench -p ro-benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // benchmark harness: a broken workload must stop the run

use ro_core::{
    Context, Kernel, Timestamp,
    testing::{bank::*, human},
};

/// A bank kernel with `accounts` accounts and `events` events in all.
pub fn bank_with_history(accounts: usize, events: usize) -> Kernel<Bank> {
    let ctx = Context::new(
        Timestamp::from_unix_seconds(1_767_623_400).unwrap(),
        human("bench"),
    );
    let mut kernel = Kernel::new();
    let ids: Vec<AccountId> = (0..accounts.max(1))
        .map(|i| AccountId::new(format!("acc-{i}")).unwrap())
        .collect();
    for id in &ids {
        kernel
            .execute(
                &BankCommand::OpenAccount {
                    account: id.clone(),
                },
                &ctx,
            )
            .unwrap();
    }
    let mut n = ids.len();
    while n < events {
        let account = ids[n % ids.len()].clone();
        let command = if n.is_multiple_of(2) {
            BankCommand::Deposit {
                account,
                amount_micros: 100,
            }
        } else {
            BankCommand::Withdraw {
                account,
                amount_micros: 50,
            }
        };
        if kernel.execute(&command, &ctx).is_ok() {
            n += 1;
        } else {
            kernel
                .execute(
                    &BankCommand::Deposit {
                        account: ids[n % ids.len()].clone(),
                        amount_micros: 100,
                    },
                    &ctx,
                )
                .unwrap();
            n += 1;
        }
    }
    kernel
}

/// The mixed workload of the plane benchmarks: a plane with roles, a job and a pool, and
/// command `i` of a stream of artifact registrations and gates, run requests and input gates.
pub mod plane {
    use ro_admin::{Plane, PlaneCommand};
    use ro_core::{Actor, ActorId, Context, Journal, Kernel, Timestamp};
    use serde_json::json;

    const T0: i64 = 1_767_623_400;

    fn who(id: &str) -> Actor {
        Actor::human(ActorId::new(id).unwrap())
    }

    /// A command of the plane from its flat JSON.
    pub fn command(domain: &str, body: serde_json::Value) -> PlaneCommand {
        serde_json::from_value(json!({ "domain": domain, "command": body })).unwrap()
    }

    /// A plane ready for the stream.
    pub fn setup() -> Kernel<Plane> {
        let mut k =
            Kernel::resume(Plane::with_confirmation_key([1; 32]), 0, Journal::new()).unwrap();
        let ctx = Context::new(Timestamp::from_unix_seconds(T0).unwrap(), who("alice"));
        for (to, role) in [("alice", "admin"), ("ana", "analyst"), ("olga", "operator")] {
            let c = command(
                "policy",
                json!({"type": "GRANT_ROLE", "principal": to, "role": role}),
            );
            k.execute(&c, &ctx).unwrap();
        }
        let job = json!({"type": "DEFINE_JOB", "definition": {"job_id": "report", "version": 1}});
        k.execute(&command("jobs", job), &ctx).unwrap();
        k
    }

    /// Command `i` of the stream and its context (time advances 1 ms per command).
    pub fn step(i: u64) -> (PlaneCommand, Context) {
        let at = Timestamp::from_unix_nanos(
            i128::from(T0) * 1_000_000_000 + i128::from(i) * 1_000_000 + 1_000_000_000,
        )
        .unwrap();
        let (actor, cmd) = match i % 10 {
            0..=5 => (
                "ana",
                command(
                    "artifacts",
                    json!({"type": "REGISTER_ARTIFACT",
                "ref": format!("runs/r-{i}/report.json"), "digest": format!("blake3:{:064x}", i + 1)}),
                ),
            ),
            6 | 7 => (
                "alice",
                command(
                    "artifacts",
                    json!({"type": "SET_ARTIFACT_GATE",
                "ref": format!("runs/r-{}/report.json", i - 6), "status": "PASS"}),
                ),
            ),
            8 => (
                "olga",
                command(
                    "jobs",
                    json!({"type": "REQUEST_RUN", "job_id": "report",
                "intent": "manual", "partition": format!("p-{i}")}),
                ),
            ),
            _ => (
                "olga",
                command(
                    "jobs",
                    json!({"type": "OBSERVE_GATE",
                "ref": format!("marketdata/{}", i % 100), "status": "PASS"}),
                ),
            ),
        };
        (cmd, Context::new(at, who(actor)))
    }
}
