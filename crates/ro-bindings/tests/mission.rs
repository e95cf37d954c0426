//! Mission control against small scripted services on loopback ports: each answers
//! `GET /ops/status` as told (OK, HALTED with reasons, MARKET_CLOSED, too slow, malformed,
//! closed), and the host's read-only API and the journal say what they should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use std::time::{Duration, Instant};

use common::{Fake, Server, get, http, json_lines, ro, scratch};
use serde_json::Value;

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn mission_control_watches_records_changes_damps_flapping_and_only_reads() {
    let (store, token) = common::unlocked_plane_with_clock("mission", "watch");
    let fakes: Vec<(&str, Fake)> = [
        ("feed", "ok"),
        ("pricer", "halted"),
        ("exchange", "closed"),
        ("sluggish", "slow"),
        ("garbled", "malformed"),
        ("flappy", "flappy"),
    ]
    .into_iter()
    .map(|(name, mode)| (name, Fake::start(mode)))
    .collect();
    // A port nothing listens on.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut services: Vec<Value> = fakes
        .iter()
        .map(|(name, fake)| serde_json::json!({ "name": name, "url": fake.url(), "owner": "ops" }))
        .collect();
    services.push(serde_json::json!({ "name": "gone", "url": format!("http://127.0.0.1:{gone}"), "market_hours": true }));
    let file = store.with_extension("services.json");
    std::fs::write(
        &file,
        serde_json::json!({ "every_ms": 200, "timeout_ms": 150, "confirm": 2, "services": services })
            .to_string(),
    )
    .unwrap();
    let server = Server::start(
        &store,
        &["--tick-ms", "0", "--services", file.to_str().unwrap()],
    );
    let overview = || get(&server.addr, "/v1/mission-control", Some(&token)).json();
    let state_of = |o: &Value, name: &str| -> Value {
        o["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .cloned()
            .unwrap()
    };
    wait_until("every steady service recorded", || {
        let o = overview();
        ["feed", "pricer", "exchange", "sluggish", "garbled", "gone"]
            .iter()
            .all(|n| !state_of(&o, n)["state"].is_null())
    });
    let o = overview();
    assert_eq!(o["state"], "OK", "mission control stays OK: {o}");
    let expect = [
        ("feed", "OK", None),
        ("pricer", "HALTED", Some("MARKETDATA_STALE")),
        ("exchange", "MARKET_CLOSED", None),
        ("sluggish", "OFFLINE", Some("TIMEOUT")),
        ("garbled", "OFFLINE", Some("MALFORMED")),
        ("gone", "OFFLINE", Some("UNREACHABLE")),
    ];
    for (name, state, reason) in expect {
        let s = state_of(&o, name);
        assert_eq!(s["state"], state, "{name}: {s}");
        if let Some(reason) = reason {
            assert!(
                s["reason_codes"][0].as_str().unwrap().starts_with(reason),
                "{name}: {s}"
            );
        }
    }
    assert_eq!(state_of(&o, "pricer")["is_fresh"], false);
    assert_eq!(state_of(&o, "gone")["market_hours"], true);
    // Flapping on every poll never holds for two in a row: nothing is recorded for it.
    let flappy = get(&server.addr, "/v1/mission-control/flappy", Some(&token)).json();
    assert!(flappy["state"].is_null(), "{flappy}");
    assert_eq!(flappy["transitions"].as_array().unwrap().len(), 0);
    assert!(!flappy["last_observed"].is_null());
    // The feed stops answering, then comes back: two changes, each recorded once.
    let feed = &fakes[0].1;
    feed.set("down");
    wait_until("the feed OFFLINE", || {
        state_of(&overview(), "feed")["state"] == "OFFLINE"
    });
    feed.set("ok");
    wait_until("the feed back", || {
        state_of(&overview(), "feed")["state"] == "OK"
    });
    let detail = get(&server.addr, "/v1/mission-control/feed", Some(&token)).json();
    let moves: Vec<(Value, Value)> = detail["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].clone(), t["to"].clone()))
        .collect();
    assert_eq!(
        moves,
        [
            ("OFFLINE".into(), "OK".into()),
            ("OK".into(), "OFFLINE".into()),
            (Value::Null, "OK".into()),
        ],
        "{detail}"
    );
    // Each change is in the journal, with its state and reasons; polls are not.
    let journal: Vec<Value> = json_lines(&ro(&store, &["audit"], ""));
    let reports: Vec<&Value> = journal
        .iter()
        .map(|r| &r["event"]["event"])
        .filter(|e| e["type"] == "ComponentReported" && e["component"] == "feed")
        .collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert_eq!(reports[1]["state"], "OFFLINE");
    assert_eq!(reports[1]["healthy"], false);
    for t in detail["transitions"].as_array().unwrap() {
        assert!(t["recorded_seq"].is_u64(), "{t}");
    }
    // Read-only: nothing but GET, and an unknown service is 404.
    let posted = http(
        &server.addr,
        "POST",
        "/v1/mission-control",
        Some(&token),
        "application/json",
        "{}",
    )
    .unwrap();
    assert!(posted.status >= 400, "{}", posted.status);
    assert_eq!(
        get(&server.addr, "/v1/mission-control/nope", Some(&token)).status,
        404
    );
    assert_eq!(get(&server.addr, "/v1/mission-control", None).status, 401);
}

#[test]
fn a_bad_services_file_is_refused_at_start() {
    let store = scratch("mission", "bad");
    assert!(
        ro(&store, &["init", "--admin", "alice"], "")
            .status
            .success()
    );
    let file = store.with_extension("services.json");
    for (text, says) in [
        (
            r#"{"services":[{"name":"a","url":"https://x:1"}]}"#,
            "only http",
        ),
        (
            r#"{"services":[{"name":"a","url":"http://x:1"},{"name":"a","url":"http://y:1"}]}"#,
            "twice",
        ),
        (
            r#"{"every_ms":100,"timeout_ms":100,"services":[]}"#,
            "timeout_ms",
        ),
        (r#"{"services":[],"extra":1}"#, "unknown field"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ro"))
            .arg("--store")
            .arg(&*store)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--services",
                file.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(says),
            "{text}: {out:?}"
        );
    }
}
