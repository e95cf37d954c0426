//! The outbox on the machine's NATS JetStream (`$RO_TEST_NATS`, default `127.0.0.1:4222`):
//! every committed record published once, in order, across a crash; commands commit while
//! the bus is away. Each test uses streams and subjects of its own and deletes them. Without a
//! server the tests say they were skipped; with `RO_REQUIRE_NATS` set (CI) they fail instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Server, get, http, json_lines, ro, scratch};
use serde_json::Value;

/// The NATS server's address, or `None` (said on the terminal) without one.
fn nats(test: &str) -> Option<String> {
    let addr = std::env::var("RO_TEST_NATS").unwrap_or_else(|_| "127.0.0.1:4222".to_owned());
    match std::net::TcpStream::connect(&addr) {
        Ok(_) => Some(addr),
        Err(e) => {
            assert!(
                std::env::var_os("RO_REQUIRE_NATS").is_none(),
                "RO_REQUIRE_NATS is set and NATS at {addr} refused: {e}"
            );
            let _ = writeln!(
                std::io::stderr(),
                "outbox::{test}: SKIPPED: no NATS at {addr} ({e}); set RO_TEST_NATS to one, or RO_REQUIRE_NATS=1 to fail instead"
            );
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Deletes the stream when dropped.
struct TestStream {
    addr: String,
    name: String,
}

impl Drop for TestStream {
    fn drop(&mut self) {
        runtime().block_on(async {
            if let Ok(client) = async_nats::connect(self.addr.as_str()).await {
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&self.name)
                    .await;
            }
        });
    }
}

/// Every message of the stream, in stream order, as JSON.
fn read_stream(addr: &str, name: &str) -> Vec<Value> {
    runtime().block_on(async {
        let client = async_nats::connect(addr).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(name).await.unwrap();
        let info = stream.info().await.unwrap().clone();
        let mut out = Vec::new();
        for seq in info.state.first_sequence..=info.state.last_sequence {
            let message = stream.get_raw_message(seq).await.unwrap();
            out.push(serde_json::from_slice(&message.payload).unwrap());
        }
        out
    })
}

/// A plane with alice's token (console time: now).
fn plane(name: &str) -> (common::Scratch, String) {
    let store = scratch("outbox", name);
    let out = ro(
        &store,
        &["init", "--admin", "alice", "--posture", "unlocked"],
        "",
    );
    assert!(out.status.success());
    let out = ro(
        &store,
        &[
            "token", "issue", "alice", "--actor", "alice", "--reason", "tests",
        ],
        "",
    );
    let token = json_lines(&out)[0]["token"].as_str().unwrap().to_owned();
    (store, token)
}

fn health(addr: &str) -> Value {
    get(addr, "/health", None).json()
}

/// Posts commands until the server goes (or `count` are done); how many were acknowledged.
fn post_until_gone(addr: &str, token: &str, tag: &str, count: usize) -> usize {
    let mut acked = 0;
    for i in 0..count {
        let doc =
            format!(r#"{{"type":"REPORT_COMPONENT","component":"{tag}-{i}","healthy":true}}"#);
        match http(
            addr,
            "POST",
            "/v1/commands",
            Some(token),
            "application/json",
            &doc,
        ) {
            Ok(reply) if reply.status == 200 => acked += 1,
            _ => return acked,
        }
    }
    acked
}

#[test]
fn every_committed_record_reaches_the_stream_once_in_order_across_a_kill() {
    let Some(nats) = nats("kill") else { return };
    let (store, token) = plane("kill");
    let name = format!("ro_t_{}_kill", std::process::id());
    let _cleanup = TestStream {
        addr: nats.clone(),
        name: name.clone(),
    };
    let subject = format!("t{}.kill", std::process::id());
    let url = format!("nats://{nats}");
    let args = [
        "--tick-ms",
        "0",
        "--outbox",
        &url,
        "--outbox-stream",
        &name,
        "--outbox-subject",
        &subject,
    ];
    let server = Server::start(&store, &args);
    // Eight clients posting; the host is killed in the middle.
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (addr, token) = (server.addr.clone(), token.clone());
            std::thread::spawn(move || post_until_gone(&addr, &token, &format!("c{c}"), 1250))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!server.signal("KILL").success());
    let acked: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(acked > 100, "only {acked} acknowledged before the kill");
    // Restarted, it resumes after what the stream holds; a few more commands follow.
    let server = Server::start(&store, &args);
    assert_eq!(post_until_gone(&server.addr, &token, "after", 50), 50);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = health(&server.addr);
        if h["outbox"]["behind"] == 0 && h["outbox"]["connected"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox never caught up: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let head = health(&server.addr)["head_seq"].as_u64().unwrap();
    // The stream holds every record once, in seq order, and the chain verifies as it goes.
    let messages = read_stream(&nats, &name);
    assert_eq!(messages.len() as u64, head);
    let mut prev =
        "blake3:0000000000000000000000000000000000000000000000000000000000000000".to_owned();
    for (i, record) in messages.iter().enumerate() {
        assert_eq!(record["seq"], i as u64 + 1);
        assert_eq!(record["prev"], prev.as_str());
        prev = record["hash"].as_str().unwrap().to_owned();
    }
    // The same lines as the journal's export.
    let exported: Vec<Value> = json_lines(&ro(&store, &["audit"], ""));
    assert_eq!(exported, messages);
    let metrics = get(&server.addr, "/metrics", None).body;
    assert!(
        metrics.contains(&format!("ro_outbox_published_seq {head}")),
        "{metrics}"
    );
}

#[test]
fn commands_commit_while_the_bus_is_away_and_health_says_how_far_behind() {
    let (store, token) = plane("away");
    // Nothing listens on port 1.
    let server = Server::start(
        &store,
        &["--tick-ms", "0", "--outbox", "nats://127.0.0.1:1"],
    );
    assert_eq!(post_until_gone(&server.addr, &token, "away", 5), 5);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = health(&server.addr);
        assert_eq!(h["ok"], true, "liveness does not wait for the bus: {h}");
        if h["outbox"]["error"].is_string() {
            assert_eq!(h["outbox"]["connected"], false);
            assert_eq!(h["outbox"]["published_seq"], 0);
            assert_eq!(h["outbox"]["behind"], h["head_seq"]);
            assert!(h["head_seq"].as_u64().unwrap() >= 5);
            break;
        }
        assert!(Instant::now() < deadline, "no outbox error reported: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A bad stream name is refused at start.
    drop(server);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ro"))
        .arg("--store")
        .arg(&*store)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--outbox",
            "nats://127.0.0.1:1",
        ])
        .args(["--outbox-stream", "bad.name"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("--outbox-stream"),
        "{out:?}"
    );
}
