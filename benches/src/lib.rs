//! Shared workloads of ro's own benchmarks (`cargo bench -p ro-benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // benchmark harness: a broken workload must stop the run

use ro_core::{
    Context, Kernel, Timestamp,
    testing::{bank::*, human},
};

/// The durable bank workload (the peers' too): `accounts` accounts opened, then `rounds - 1`
/// rounds of deposits of 100 and withdrawals of 50, interleaved round-robin.
pub fn bank_rounds(accounts: usize, rounds: usize) -> Vec<BankCommand> {
    (0..rounds)
        .flat_map(|round| {
            (0..accounts).map(move |i| {
                let account = AccountId::new(format!("acc-{i}")).unwrap();
                match round {
                    0 => BankCommand::OpenAccount { account },
                    r if r % 2 == 1 => BankCommand::Deposit {
                        account,
                        amount_micros: 100,
                    },
                    _ => BankCommand::Withdraw {
                        account,
                        amount_micros: 50,
                    },
                }
            })
        })
        .collect()
}

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

    fn service(id: &str) -> Actor {
        Actor::service(ActorId::new(id).unwrap())
    }

    /// A command of the plane from its flat JSON.
    pub fn command(domain: &str, body: serde_json::Value) -> PlaneCommand {
        serde_json::from_value(json!({ "domain": domain, "command": body })).unwrap()
    }

    /// A plane ready for the stream.
    pub fn setup() -> Kernel<Plane> {
        let mut k =
            Kernel::resume(Plane::with_confirmation_key([1; 32]), 0, Journal::new()).unwrap();
        let ctx = Context::new(Timestamp::from_unix_seconds(T0).unwrap(), who("alice"))
            .with_reason(ro_core::Reason::new("bench setup").unwrap());
        for (to, role) in [
            ("alice", "admin"),
            ("ana", "analyst"),
            ("olga", "operator"),
            ("worker", "operator"),
        ] {
            let c = command(
                "policy",
                json!({"type": "GRANT_ROLE", "principal": to, "role": role}),
            );
            k.execute(&c, &ctx).unwrap();
        }
        for c in [
            command(
                "jobs",
                json!({"type": "DEFINE_JOB", "definition": {"job_id": "report", "version": 1}}),
            ),
            command(
                "artifacts",
                json!({"type": "REGISTER_MODEL", "metadata": {"version": "M-1"}}),
            ),
            command(
                "admin",
                json!({"type": "SET_CANDIDATE_MODEL", "version": "M-1"}),
            ),
        ] {
            k.execute(&c, &ctx).unwrap();
        }
        // The market data the stream's input reports name, registered and passed in the store.
        for n in 0..100 {
            for c in [
                command(
                    "artifacts",
                    json!({"type": "REGISTER_ARTIFACT", "ref": format!("marketdata/{n}"),
                           "digest": format!("blake3:{:064x}", 1_000_000 + n)}),
                ),
                command(
                    "artifacts",
                    json!({"type": "SET_ARTIFACT_GATE", "ref": format!("marketdata/{n}"), "status": "PASS"}),
                ),
            ] {
                k.execute(&c, &ctx).unwrap();
            }
        }
        k
    }

    fn run_of(i: u64) -> String {
        ro_jobs::run_id(
            &ro_jobs::JobId::new("report").unwrap(),
            &ro_jobs::LogicalKey::Partition(format!("p-{i}")),
            ro_jobs::Intent::Manual,
        )
        .to_string()
    }

    /// Command `i` of the stream and its context (time advances 1 ms per command). Every 20
    /// commands: 6 artifact registrations, 2 gates, a run requested, started and completed,
    /// 5 cycles of the governed system, an input gate reported (one of 100, agreeing with the store), a component heartbeat, and a
    /// second run requested and cancelled (an admin action).
    pub fn step(i: u64) -> (PlaneCommand, Context) {
        let at = Timestamp::from_unix_nanos(
            i128::from(T0) * 1_000_000_000 + i128::from(i) * 1_000_000 + 1_000_000_000,
        )
        .unwrap();
        let (actor, cmd) = match i % 20 {
            0..=5 => (
                who("ana"),
                command(
                    "artifacts",
                    json!({"type": "REGISTER_ARTIFACT",
                "ref": format!("runs/r-{i}/report.json"), "digest": format!("blake3:{:064x}", i + 1)}),
                ),
            ),
            6 | 7 => (
                who("alice"),
                command(
                    "artifacts",
                    json!({"type": "SET_ARTIFACT_GATE",
                "ref": format!("runs/r-{}/report.json", i - 6), "status": "PASS"}),
                ),
            ),
            8 => (
                who("olga"),
                command(
                    "jobs",
                    json!({"type": "REQUEST_RUN", "job_id": "report",
                "intent": "manual", "partition": format!("p-{i}")}),
                ),
            ),
            9 => (
                service("worker"),
                command(
                    "jobs",
                    json!({"type": "START_ATTEMPT", "run_id": run_of(i - 1)}),
                ),
            ),
            10 => (
                service("worker"),
                command(
                    "jobs",
                    json!({"type": "COMPLETE_ATTEMPT", "run_id": run_of(i - 2), "outcome": "succeeded"}),
                ),
            ),
            11..=15 => (
                service("worker"),
                command(
                    "admin",
                    json!({"type": "RECORD_CYCLE", "intent": "HOLD", "latency_ms": i % 40, "survived": true}),
                ),
            ),
            16 => (
                who("olga"),
                command(
                    "jobs",
                    json!({"type": "OBSERVE_GATE",
                "ref": format!("marketdata/{}", i % 100), "status": "PASS"}),
                ),
            ),
            17 => (
                service("worker"),
                command(
                    "admin",
                    json!({"type": "REPORT_COMPONENT", "component": "marketdata", "healthy": true, "critical": true}),
                ),
            ),
            18 => (
                who("olga"),
                command(
                    "jobs",
                    json!({"type": "REQUEST_RUN", "job_id": "report",
                "intent": "manual", "partition": format!("p-{i}")}),
                ),
            ),
            _ => (
                who("olga"),
                command(
                    "jobs",
                    json!({"type": "CANCEL_RUN", "run_id": run_of(i - 1)}),
                ),
            ),
        };
        let ctx = Context::new(at, actor);
        // The cancellation is an admin action: it says why.
        let ctx = if i % 20 == 19 {
            ctx.with_reason(ro_core::Reason::new("superseded").unwrap())
        } else {
            ctx
        };
        (cmd, ctx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// The plane benchmark's stream is accepted command after command (a refusal would make
    /// the benchmark measure error paths), and replays to the same state.
    #[test]
    fn the_plane_stream_is_accepted() {
        let mut kernel = super::plane::setup();
        for i in 0..2_000 {
            let (cmd, ctx) = super::plane::step(i);
            if let Err(e) = kernel.execute(&cmd, &ctx) {
                panic!("command {i} refused: {e}: {cmd:?}");
            }
        }
        assert_eq!(kernel.state().registry().shadow_cycles(), 500);
        ro_core::testing::check_replay(&kernel);
    }
}
