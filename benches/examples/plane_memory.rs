//! The plane's memory for 1M attempts: requests, starts and completes 1M runs (3M commands)
//! deciding and folding without a journal, and reports the process's resident memory before
//! and after; then the same for that state read back from its snapshot archive (rkyv), as a
//! restore reads it, in a fresh process (this one re-run on the archive, written to the
//! temporary directory). `cargo run --release -p ro-benches --example plane_memory [N]`
//! (Linux: reads /proc/self/status).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    missing_docs
)] // measurement harness

use ro_admin::Plane;
use ro_core::{Actor, ActorId, Context, Decider, EventMeta, Timestamp};
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn apply(plane: &mut Plane, seq: &mut u64, cmd: &ro_admin::PlaneCommand, ctx: &Context) {
    let events = plane.decide(cmd, ctx).unwrap();
    for event in &events {
        *seq += 1;
        let meta = EventMeta {
            seq: *seq,
            at: ctx.at,
            actor: &ctx.actor,
            correlation_id: None,
            causation: None,
        };
        plane.evolve(event, &meta);
    }
}

/// `plane_memory --read FILE`: the resident memory a state read back from the archive in
/// FILE takes (the archive itself, already read, not counted).
fn read_back(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    let mut archive = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
    archive.extend_from_slice(&bytes);
    drop(bytes);
    let before = rss_kib();
    let plane = rkyv::from_bytes::<Plane, rkyv::rancor::Error>(&archive).unwrap();
    let after = rss_kib();
    println!(
        "read back from its {} MiB archive: resident memory {} MiB more",
        archive.len() >> 20,
        after.saturating_sub(before) / 1024
    );
    drop(plane);
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--read") {
        return read_back(&std::env::args().nth(2).unwrap());
    }
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Timestamp::from_unix_seconds(1_767_623_400).unwrap();
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let worker = Actor::service(ActorId::new("worker").unwrap());
    let command = |domain: &str, body: serde_json::Value| -> ro_admin::PlaneCommand {
        serde_json::from_value(json!({ "domain": domain, "command": body })).unwrap()
    };
    let before = rss_kib();
    let mut plane = Plane::with_confirmation_key([1; 32]);
    let mut seq = 0;
    let ctx =
        Context::new(t0, alice.clone()).with_reason(ro_core::Reason::new("bench setup").unwrap());
    for (to, role) in [("alice", "admin"), ("worker", "operator")] {
        let c = command(
            "policy",
            json!({"type": "GRANT_ROLE", "principal": to, "role": role}),
        );
        apply(&mut plane, &mut seq, &c, &ctx);
    }
    let job = json!({"type": "DEFINE_JOB", "definition": {"job_id": "report", "version": 1, "max_concurrent": 1000}});
    apply(&mut plane, &mut seq, &command("jobs", job), &ctx);
    for i in 0..n {
        let at = Timestamp::from_unix_nanos(
            i128::from(t0.unix_seconds() + 1) * 1_000_000_000 + i128::from(i) * 1_000_000,
        )
        .unwrap();
        let partition = format!("p-{i}");
        let run = ro_jobs::run_id(
            &ro_jobs::JobId::new("report").unwrap(),
            &ro_jobs::LogicalKey::Partition(partition.clone()),
            ro_jobs::Intent::Manual,
        )
        .to_string();
        let request = command(
            "jobs",
            json!({"type": "REQUEST_RUN", "job_id": "report", "intent": "manual", "partition": partition}),
        );
        apply(
            &mut plane,
            &mut seq,
            &request,
            &Context::new(at, alice.clone()),
        );
        let start = command("jobs", json!({"type": "START_ATTEMPT", "run_id": run}));
        apply(
            &mut plane,
            &mut seq,
            &start,
            &Context::new(at, worker.clone()),
        );
        let complete = command(
            "jobs",
            json!({"type": "COMPLETE_ATTEMPT", "run_id": run, "outcome": "succeeded"}),
        );
        apply(
            &mut plane,
            &mut seq,
            &complete,
            &Context::new(at, worker.clone()),
        );
    }
    let after = rss_kib();
    println!(
        "{n} runs with one attempt each ({seq} events folded): resident memory {} MiB before, {} MiB after, {} bytes per attempt",
        before / 1024,
        after / 1024,
        (after.saturating_sub(before) * 1024) / n.max(1)
    );
    let path = std::env::temp_dir().join(format!("ro-plane-memory-{}.rkyv", std::process::id()));
    std::fs::write(
        &path,
        rkyv::to_bytes::<rkyv::rancor::Error>(&plane).unwrap(),
    )
    .unwrap();
    drop(plane);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--read")
        .arg(&path)
        .status()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(status.success());
}
