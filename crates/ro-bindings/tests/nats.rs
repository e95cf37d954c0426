//! The bus on the machine's NATS JetStream (`$RO_TEST_NATS`, default `127.0.0.1:4222`): the
//! reconciler from the plane's streams (plan, apply, never shrinking), and the outbox (every
//! committed record published once, in order, across a crash; commands commit while the bus
//! is away). Each test uses streams and subjects of its own and deletes them. Without a
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
                "nats::{test}: SKIPPED: no NATS at {addr} ({e}); set RO_TEST_NATS to one, or RO_REQUIRE_NATS=1 to fail instead"
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
    let store = scratch("nats", name);
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

/// A stream's subjects and max age, read back from the bus (`None`: no such stream).
fn bus_stream(addr: &str, name: &str) -> Option<(Vec<String>, u64)> {
    runtime().block_on(async {
        let client = async_nats::connect(addr).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(name).await.ok()?;
        let info = stream.info().await.unwrap();
        Some((info.config.subjects.clone(), info.config.max_age.as_secs()))
    })
}

#[test]
fn the_reconciler_plans_applies_and_never_shrinks() {
    let Some(nats) = nats("reconcile") else {
        return;
    };
    let (store, _) = plane("reconcile");
    let prefix = format!("t{}_", std::process::id());
    let _cleanup: Vec<TestStream> = ["orders", "prices_eu"]
        .iter()
        .map(|s| TestStream {
            addr: nats.clone(),
            name: format!("{prefix}{s}"),
        })
        .collect();
    let apply = |doc: &str| {
        let out = ro(
            &store,
            &["apply", "--actor", "alice", "--reason", "the bus"],
            doc,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    apply(concat!(
        r#"{"type":"CREATE_STREAM","stream":"orders","partitions":4,"retention_hours":24,"publishers":[],"subscribers":[]}"#,
        "\n",
        r#"{"type":"CREATE_STREAM","stream":"prices.eu","partitions":2,"retention_hours":168,"publishers":[],"subscribers":[]}"#,
        "\n"
    ));
    let url = format!("nats://{nats}");
    let bus = |verb: &str| -> Vec<Value> {
        let out = ro(
            &store,
            &["bus", verb, "--nats", &url, "--prefix", &prefix],
            "",
        );
        assert!(out.status.success(), "{out:?}");
        json_lines(&out)
    };
    let actions = |items: &[Value]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|i| {
                (
                    i["stream"].as_str().unwrap().to_owned(),
                    i["action"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let orders = format!("{prefix}orders");
    // The plan changes nothing.
    let plan = bus("plan");
    assert_eq!(
        actions(&plan),
        [
            ("orders".into(), "create".into()),
            ("prices.eu".into(), "create".into())
        ]
    );
    assert_eq!(bus_stream(&nats, &orders), None);
    // Applied, the bus holds the plane's settings: one subject per partition, max_age.
    bus("apply");
    let subjects = |n: u32, base: &str| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{base}.{i}")).collect()
    };
    assert_eq!(
        bus_stream(&nats, &orders),
        Some((subjects(4, "orders"), 24 * 3600))
    );
    assert_eq!(
        bus_stream(&nats, &format!("{prefix}prices_eu")),
        Some((subjects(2, "prices.eu"), 168 * 3600))
    );
    assert!(actions(&bus("plan")).iter().all(|(_, a)| a == "none"));
    // The plane grows the partitions and lengthens the retention: an update, before and after.
    apply(concat!(
        r#"{"type":"CHANGE_STREAM_PARTITIONS","stream":"orders","partitions":6}"#,
        "\n",
        r#"{"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":48}"#,
        "\n"
    ));
    let plan = bus("plan");
    assert_eq!(plan[0]["action"], "update", "{plan:?}");
    assert_eq!(plan[0]["before"]["max_age_seconds"], 24 * 3600);
    assert_eq!(plan[0]["after"]["max_age_seconds"], 48 * 3600);
    bus("apply");
    assert_eq!(
        bus_stream(&nats, &orders),
        Some((subjects(6, "orders"), 48 * 3600))
    );
    // Someone widens the stream on the bus by hand: the reconciler refuses to narrow it.
    runtime().block_on(async {
        let client = async_nats::connect(nats.as_str()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(&orders).await.unwrap();
        let mut config = stream.info().await.unwrap().config.clone();
        config.subjects.push(format!("{prefix}orders.99"));
        js.update_stream(config).await.unwrap();
    });
    let plan = bus("apply");
    assert_eq!(plan[0]["action"], "refused", "{plan:?}");
    assert_eq!(bus_stream(&nats, &orders).unwrap().0.len(), 7);
    // A stream made on the bus under the prefix, outside the plane: reported, left alone.
    let stray = format!("{prefix}stray");
    let _stray = TestStream {
        addr: nats.clone(),
        name: stray.clone(),
    };
    runtime().block_on(async {
        let client = async_nats::connect(nats.as_str()).await.unwrap();
        async_nats::jetstream::new(client)
            .create_stream(async_nats::jetstream::stream::Config {
                name: stray.clone(),
                subjects: vec![format!("{prefix}stray.x")],
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let plan = bus("apply");
    let item = plan
        .iter()
        .find(|i| i["jetstream"] == stray.as_str())
        .unwrap();
    assert_eq!(item["action"], "unmanaged", "{plan:?}");
    assert!(bus_stream(&nats, &stray).is_some(), "never deleted");
    // A key keeps its partition; keys spread over all of them.
    use ro_admin::streams::partition_of;
    assert_eq!(partition_of(b"acc-1", 6), partition_of(b"acc-1", 6));
    let hit: std::collections::BTreeSet<u32> = (0..600)
        .map(|i| partition_of(format!("key-{i}").as_bytes(), 6))
        .collect();
    assert_eq!(hit, (0..6).collect());
}

/// Sets a bus stream's `max_age` by hand (outside the plane).
fn set_max_age(addr: &str, name: &str, seconds: u64) {
    runtime().block_on(async {
        let client = async_nats::connect(addr).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(name).await.unwrap();
        let mut config = stream.info().await.unwrap().config.clone();
        config.max_age = Duration::from_secs(seconds);
        js.update_stream(config).await.unwrap();
    });
}

/// The journal's records of event type `ty`, through the server.
fn events_of(addr: &str, token: &str, ty: &str) -> Vec<Value> {
    let page = get(addr, "/v1/audit?after=0&limit=1000", Some(token)).json();
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"]["event"]["type"] == ty)
        .map(|r| r["event"]["event"].clone())
        .collect()
}

#[test]
fn drift_on_the_bus_is_recorded_restored_or_left_and_consumer_lag_is_read() {
    let Some(nats) = nats("drift") else { return };
    let (store, token) = plane("drift");
    let out = ro(
        &store,
        &[
            "principal",
            "add",
            "ro-clock",
            "--kind",
            "service",
            "--role",
            "operator",
            "--actor",
            "alice",
            "--reason",
            "the host",
        ],
        "",
    );
    assert!(out.status.success());
    let prefix = format!("d{}_", std::process::id());
    let orders = format!("{prefix}orders");
    let _cleanup = TestStream {
        addr: nats.clone(),
        name: orders.clone(),
    };
    let out = ro(
        &store,
        &["apply", "--actor", "alice", "--reason", "the bus"],
        r#"{"type":"CREATE_STREAM","stream":"orders","partitions":2,"retention_hours":24,"publishers":[],"subscribers":[]}"#,
    );
    assert!(out.status.success());
    let url = format!("nats://{nats}");
    let bus = |verb: &str| {
        let out = ro(
            &store,
            &["bus", verb, "--nats", &url, "--prefix", &prefix],
            "",
        );
        assert!(out.status.success(), "{out:?}");
    };
    bus("apply");
    let wait_for = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !check() {
            assert!(Instant::now() < deadline, "{what} never happened");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    for (mode, restored) in [("restore", true), ("wait", false)] {
        let server = Server::start(
            &store,
            &[
                "--tick-ms",
                "0",
                "--bus",
                &url,
                "--bus-prefix",
                &prefix,
                "--bus-every-ms",
                "200",
                "--bus-drift",
                mode,
            ],
        );
        let before = events_of(&server.addr, &token, "DeviationOpened").len();
        // Someone changes the retention on the bus directly.
        set_max_age(&nats, &orders, 3600);
        wait_for("the drift's record", &|| {
            events_of(&server.addr, &token, "DeviationOpened").len() > before
        });
        let recorded = events_of(&server.addr, &token, "DeviationOpened");
        let deviation = recorded.last().unwrap();
        assert_eq!(deviation["deviation_type"], "bus_drift", "{deviation}");
        let summary = deviation["summary"].as_str().unwrap();
        // Both settings, as seen.
        assert!(summary.contains("\"max_age_seconds\":3600"), "{summary}");
        assert!(summary.contains("\"max_age_seconds\":86400"), "{summary}");
        std::thread::sleep(Duration::from_millis(800));
        let max_age = bus_stream(&nats, &orders).unwrap().1;
        if restored {
            assert_eq!(
                max_age,
                24 * 3600,
                "restore mode puts the plane's value back"
            );
            // Restored, it is not recorded again.
            assert_eq!(
                events_of(&server.addr, &token, "DeviationOpened").len(),
                recorded.len()
            );
        } else {
            assert_eq!(max_age, 3600, "wait mode leaves it to an operator");
        }
        drop(server);
        bus("apply");
    }
    // A consumer behind on the stream: its pending count becomes the stream's lag signal.
    runtime().block_on(async {
        let client = async_nats::connect(nats.as_str()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(&orders).await.unwrap();
        stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("slow".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..5 {
            js.publish(format!("{prefix}orders.{}", i % 2), "x".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
    let server = Server::start(
        &store,
        &[
            "--tick-ms",
            "0",
            "--bus",
            &url,
            "--bus-prefix",
            &prefix,
            "--bus-every-ms",
            "200",
        ],
    );
    wait_for("the lag signal", &|| {
        events_of(&server.addr, &token, "SignalReported")
            .iter()
            .any(|e| e["signal"]["lag_events"] == 5 || e["lag_events"] == 5)
    });
}

/// A TCP proxy to the NATS server on a port of its own, which can be cut (every connection
/// closed, nothing accepted) and restored on the same port: the bus going away and coming
/// back, as the host sees it.
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (flag, target) = (up.clone(), target.to_owned());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        use std::io::Read;
                        let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            if !flag.load(Ordering::SeqCst) {
                                let _ = from.shutdown(std::net::Shutdown::Both);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                                return;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => {
                                    let _ = to.shutdown(std::net::Shutdown::Both);
                                    return;
                                }
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        return;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => return,
                            }
                        }
                    });
                }
            }
        });
        Proxy { port, up }
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn the_outbox_catches_up_when_the_bus_comes_back() {
    let Some(nats) = nats("away-and-back") else {
        return;
    };
    let (store, token) = plane("back");
    let proxy = Proxy::start(&nats);
    let name = format!("ro_t_{}_back", std::process::id());
    let _cleanup = TestStream {
        addr: nats.clone(),
        name: name.clone(),
    };
    let url = format!("nats://127.0.0.1:{}", proxy.port);
    let subject = format!("t{}.back", std::process::id());
    let server = Server::start(
        &store,
        &[
            "--tick-ms",
            "0",
            "--outbox",
            &url,
            "--outbox-stream",
            &name,
            "--outbox-subject",
            &subject,
        ],
    );
    let caught_up = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h = health(&server.addr);
            if h["outbox"]["behind"] == 0 && h["outbox"]["connected"] == true {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {h}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(post_until_gone(&server.addr, &token, "before", 20), 20);
    caught_up("the outbox never caught up at first");
    // The bus goes away: commands still commit, and the outbox falls behind.
    proxy.set(false);
    assert_eq!(post_until_gone(&server.addr, &token, "away", 30), 30);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let h = health(&server.addr);
        // Most of the 30: a record or two may reach the bus while the cut closes the open
        // connection.
        if h["outbox"]["behind"].as_u64().unwrap() >= 25 && h["outbox"]["connected"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "never behind: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // It comes back: the outbox resumes after the stream's last record.
    proxy.set(true);
    caught_up("the outbox never caught up after the bus came back");
    let messages = read_stream(&nats, &name);
    let head = health(&server.addr)["head_seq"].as_u64().unwrap();
    assert_eq!(messages.len() as u64, head);
    for (i, record) in messages.iter().enumerate() {
        assert_eq!(record["seq"], i as u64 + 1);
    }
}
