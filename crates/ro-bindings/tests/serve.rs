//! `ro serve` end to end, over real HTTP on loopback ports the system picks: the runbook's
//! answers byte for byte as `ro apply`'s, authenticated principals and every spoofing attempt
//! refused and recorded, host-owned time, a clock that fires schedules once per occurrence
//! across restarts, live events resumed exactly once, shutdown and crashes under load.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use std::collections::BTreeSet;

use common::{Events, Server, get, http, json_lines, post, post_ndjson, ro, scratch};
use serde_json::{Value, json};

/// RFC 3339 text of now + `offset` seconds.
fn clock(offset: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Runs a console command that must succeed; returns its JSON lines.
fn ok(store: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let out = ro(store, args, "");
    assert!(
        out.status.success(),
        "ro {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out)
}

/// Issues a token to `principal` (by alice) and returns it.
fn token(store: &std::path::Path, principal: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token",
        "issue",
        principal,
        "--actor",
        "alice",
        "--reason",
        "onboarding",
    ];
    args.extend_from_slice(extra);
    ok(store, &args)[0]["token"].as_str().unwrap().to_owned()
}

/// A plane begun ten minutes ago in the default posture (production locked, the kill switch
/// engaged): alice (human admin), bot (agent operator), ro-clock (the service that ticks).
fn plane(name: &str) -> common::Scratch {
    let store = scratch("serve", name);
    let t0 = clock(-600);
    ok(&store, &["init", "--admin", "alice", "--at", &t0]);
    for (who, kind, role) in [
        ("bot", "agent", "operator"),
        ("ro-clock", "service", "operator"),
    ] {
        ok(
            &store,
            &[
                "principal",
                "add",
                who,
                "--kind",
                kind,
                "--role",
                role,
                "--actor",
                "alice",
                "--reason",
                "onboarding",
                "--at",
                &t0,
            ],
        );
    }
    store
}

/// Every record of the journal, through `GET /v1/audit` pages.
fn journal(addr: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = get(
            addr,
            &format!("/v1/audit?after={after}&limit=1000"),
            Some(token),
        );
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.json();
        let records = page["records"].as_array().unwrap().clone();
        if records.is_empty() {
            return out;
        }
        after = page["next_after"].as_u64().unwrap();
        out.extend(records);
    }
}

/// The labels of every recorded denial.
fn denials(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["event"]["event"]["type"] == "AccessDenied")
        .flat_map(|r| r["event"]["event"]["reasons"].as_array().unwrap().clone())
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

const DEMO: &str = include_str!("../src/demo.jsonl");

#[test]
fn the_runbook_over_http_answers_byte_for_byte_as_apply() {
    // Two copies of one plane: the console applies the runbook to one, the server to the
    // other (in history mode, so the runbook's own times are kept).
    let console = scratch("serve", "runbook-console");
    ok(
        &console,
        &[
            "init",
            "--posture",
            "unlocked",
            "--admin",
            "alice",
            "--at",
            "2026-03-02T13:00:00Z",
        ],
    );
    let alice = token(&console, "alice", &["--at", "2026-03-02T13:00:00Z"]);
    let served = scratch("serve", "runbook-served");
    for suffix in ["", ".keys"] {
        std::fs::copy(
            format!("{}{suffix}", console.display()),
            format!("{}{suffix}", served.display()),
        )
        .unwrap();
    }
    // The runbook's documents that alice sends (as herself, or naming no one).
    // …and a drill: a lockdown raised, its release's first step (pending), the status.
    let drill = [
        r#"{"type":"EMERGENCY_LOCKDOWN","operator_id":"alice","reason":"drill","at":"2026-03-02T14:00:00Z"}"#,
        r#"{"type":"RELEASE_LOCKDOWN","operator_id":"alice","reason":"drill over","at":"2026-03-02T14:01:00Z"}"#,
        r#"{"type":"OPS_STATUS","at":"2026-03-02T14:01:00Z"}"#,
    ];
    let runbook: Vec<&str> = DEMO
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .filter(|l| {
            let doc: Value = serde_json::from_str(l).unwrap();
            doc.get("actor").is_none() && doc.get("operator_id").is_none_or(|o| o == "alice")
        })
        .chain(drill)
        .collect();
    assert!(runbook.len() >= 15, "{}", runbook.len());
    let (last, most) = runbook.split_last().unwrap();
    let input = format!("{}\n{last}\n", most.join("\n"));
    let out = ro(
        &console,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        &input,
    );
    let expected = String::from_utf8(out.stdout).unwrap();
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(expected.len(), runbook.len());

    let server = Server::start(&served, &["--history", "--tick-ms", "0"]);
    let batch = post_ndjson(&server.addr, &alice, &format!("{}\n", most.join("\n")));
    assert_eq!(batch.status, 200);
    assert_eq!(
        batch.header("content-type"),
        Some("application/x-ndjson"),
        "{batch:?}"
    );
    let answers: Vec<&str> = batch.body.lines().collect();
    assert_eq!(answers.len(), most.len());
    for (i, (got, want)) in answers.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {} ({})", i + 1, most[i]);
    }
    // One document, one response, the same bytes (an accepted one: a refusal in a batch
    // names its line, a single document has none).
    let single = post(&server.addr, &alice, last);
    assert_eq!(single.status, 200, "{}", single.body);
    assert_eq!(single.body, *expected.last().unwrap());
    // Some of the runbook's answers are refusals and pending confirmations: the comparison
    // covered them too.
    let refused = expected
        .iter()
        .filter(|l| l.contains("\"ok\":false"))
        .count();
    let pending = expected
        .iter()
        .filter(|l| l.contains("\"confirmation_required\":true"))
        .count();
    assert!(
        refused > 0 && pending > 0,
        "{refused} refused, {pending} pending"
    );
}

#[test]
fn the_body_never_names_who_you_are_and_every_spoofing_attempt_is_recorded() {
    let store = plane("spoofing");
    let t0 = clock(-600);
    let alice = token(&store, "alice", &[]);
    let bot = token(&store, "bot", &[]);
    let revoked = token(&store, "bot", &[]);
    let revoked_id = revoked.split('.').nth(1).unwrap().to_owned();
    ok(
        &store,
        &[
            "token",
            "revoke",
            &revoked_id,
            "--actor",
            "alice",
            "--reason",
            "suspected leak",
        ],
    );
    // Expired before the server starts: issued at t0, valid for a minute.
    let expires = time::OffsetDateTime::parse(&t0, &time::format_description::well_known::Rfc3339)
        .unwrap()
        + time::Duration::minutes(1);
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let store_head = ok(&store, &["status"])[0]["head_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let expired = token(
        &store,
        "bot",
        &["--at", &store_head, "--expires", &clock(2)],
    );
    let server = Server::start(&store, &["--tick-ms", "0"]);
    let addr = &server.addr;
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = expires;

    let lockdown = r#"{"type":"EMERGENCY_LOCKDOWN","reason":"drill"}"#;
    let attempts = [
        // (token, document, status, code)
        (
            &bot,
            r#"{"type":"EMERGENCY_LOCKDOWN","operator_id":"alice"}"#,
            403,
            "ACTOR_MISMATCH",
        ),
        (
            &bot,
            r#"{"type":"EMERGENCY_LOCKDOWN","actor":{"id":"alice","kind":"human"}}"#,
            403,
            "ACTOR_MISMATCH",
        ),
        (
            &bot,
            r#"{"type":"EMERGENCY_LOCKDOWN","actor":{"id":"bot","kind":"human"}}"#,
            403,
            "PRINCIPAL_KIND_MISMATCH",
        ),
        (
            &bot,
            r#"{"type":"GRANT_ROLE","principal":"bot","role":"admin"}"#,
            403,
            "HUMAN_ONLY_ACTION",
        ),
        (&revoked, lockdown, 401, "TOKEN_REVOKED"),
        (&expired, lockdown, 401, "TOKEN_EXPIRED"),
    ];
    for (token, doc, status, code) in attempts {
        let reply = post(addr, token, doc);
        assert_eq!(
            (reply.status, reply.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{doc}: {}",
            reply.body
        );
    }
    // Without a valid token nothing is read or written (and nothing recorded: no principal
    // to record it against).
    let forged = format!(
        "{}{}",
        &alice[..alice.len() - 1],
        if alice.ends_with('0') { "1" } else { "0" }
    );
    for bad in [None, Some("ro1.nope.00"), Some(forged.as_str())] {
        let reply = http(
            addr,
            "POST",
            "/v1/commands",
            bad,
            "application/json",
            lockdown,
        )
        .unwrap();
        assert_eq!(reply.status, 401, "{}", reply.body);
        assert_eq!(reply.json()["error"]["code"], "UNAUTHENTICATED");
        assert!(reply.header("www-authenticate").is_some());
        assert_eq!(get(addr, "/v1/heartbeat", bad).status, 401);
    }
    assert_eq!(
        get(addr, "/v1/heartbeat", Some(&revoked)).json()["error"]["code"],
        "TOKEN_REVOKED"
    );
    // Reads name their principal too.
    let heartbeat = http(
        addr,
        "POST",
        "/v1/queries",
        Some(&bot),
        "application/json",
        r#"{"type":"HEARTBEAT","operator_id":"alice"}"#,
    )
    .unwrap();
    assert_eq!(
        (heartbeat.status, heartbeat.json()["error"]["code"].as_str()),
        (403, Some("ACTOR_MISMATCH"))
    );

    // A far-future `at` is refused before anything is decided, and the head's time stays.
    let poison = r#"{"type":"GRANT_ROLE","principal":"mallory","role":"admin","operator_id":"alice","at":"2999-01-01T00:00:00Z"}"#;
    let refused = post(addr, &alice, poison);
    assert_eq!(
        (refused.status, refused.json()["error"]["code"].as_str()),
        (400, Some("CLOCK_SKEW"))
    );
    let stale = format!(
        r#"{{"type":"REPORT_COMPONENT","component":"feed","healthy":true,"at":"{}"}}"#,
        clock(-3600)
    );
    assert_eq!(
        post(addr, &alice, &stale).json()["error"]["code"],
        "CLOCK_SKEW"
    );
    // Dated a little ahead (within the skew): dated at the host's time instead.
    let ahead = format!(
        r#"{{"type":"REPORT_COMPONENT","component":"feed","healthy":true,"at":"{}"}}"#,
        clock(3)
    );
    let accepted = post(addr, &alice, &ahead);
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let at = accepted.json()["events"][0]["at"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = time::OffsetDateTime::parse(&at, rfc3339).unwrap();
    assert!(
        at <= time::OffsetDateTime::now_utc(),
        "{at} is ahead of the host"
    );
    // The admin's lockdown still works.
    let locked = post(addr, &alice, lockdown);
    assert_eq!(locked.status, 200, "{}", locked.body);
    assert_eq!(
        get(addr, "/ops/status", None).json()["status"]["state"],
        "HALTED"
    );

    // Each refused command is in the journal, against the principal who sent it.
    let records = journal(addr, &alice);
    let labels = denials(&records);
    for expected in [
        "actor-mismatch:alice".to_owned(),
        "kind-mismatch:agent".to_owned(),
        "human-only".to_owned(),
        format!("credential-revoked:{revoked_id}"),
        format!("credential-expired:{}", expired.split('.').nth(1).unwrap()),
    ] {
        assert!(labels.contains(&expected), "{expected} not in {labels:?}");
    }
    let by_bot = records
        .iter()
        .filter(|r| r["event"]["event"]["type"] == "AccessDenied" && r["actor"]["id"] == "bot")
        .count();
    assert_eq!(by_bot, 6, "every attempt of bot's was recorded as bot's");
    assert!(
        !records
            .iter()
            .any(|r| r["event"].to_string().contains("mallory")),
        "the far-future document recorded nothing"
    );
}

#[test]
fn the_clock_fires_each_occurrence_once_across_restarts() {
    let store = plane("clock");
    // Defined five minutes ago, every minute, read-only (so it runs under the default locked
    // posture): the first tick catches up one occurrence and records the others as skipped
    // (the job's catch-up limit).
    let define = format!(
        r#"{{"type":"DEFINE_JOB","definition":{{"job_id":"minutely","version":1,"max_concurrent":1,"schedule":{{"cron":"* * * * *","timezone":"UTC"}},"max_catch_up":1,"read_only":true}},"operator_id":"alice","at":"{}"}}"#,
        clock(-300)
    );
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!("{define}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let alice = token(&store, "alice", &[]);
    let runs = |records: &[Value]| -> Vec<(String, String)> {
        records
            .iter()
            .filter(|r| r["event"]["event"]["type"] == "RunRequested")
            .map(|r| {
                let e = &r["event"]["event"];
                (e["run_id"].to_string(), e["logical"]["time"].to_string())
            })
            .collect()
    };
    let wait_for_run = |addr: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let records = journal(addr, &alice);
            if !runs(&records).is_empty() {
                return records;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the clock never fired"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let server = Server::start(&store, &["--tick-ms", "100"]);
    let first = wait_for_run(&server.addr);
    assert!(
        first
            .iter()
            .any(|r| r["event"]["event"]["type"] == "SlotSkipped"),
        "missed occurrences beyond the catch-up limit are recorded"
    );
    assert!(first.iter().any(|r| r["actor"]["id"] == "ro-clock"));
    assert!(server.signal("TERM").success());
    // Restarted: a few more ticks, and no occurrence runs twice.
    let server = Server::start(&store, &["--tick-ms", "100"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let after = journal(&server.addr, &alice);
    let all = runs(&after);
    let ids: BTreeSet<&String> = all.iter().map(|(id, _)| id).collect();
    let times: BTreeSet<&String> = all.iter().map(|(_, t)| t).collect();
    assert_eq!(ids.len(), all.len(), "{all:?}");
    assert_eq!(times.len(), all.len(), "{all:?}");
    assert!(runs(&first).iter().all(|r| all.contains(r)));
}

#[test]
fn live_events_resume_exactly_once_in_order() {
    let store = plane("events");
    let alice = token(&store, "alice", &[]);
    let server = Server::start(&store, &["--tick-ms", "0"]);
    let addr = server.addr.clone();
    let report = |i: usize| {
        format!(r#"{{"type":"REPORT_COMPONENT","component":"feed-{i}","healthy":true}}"#)
    };
    for i in 0..20 {
        assert_eq!(post(&addr, &alice, &report(i)).status, 200);
    }
    let head = |addr: &str| {
        get(addr, "/ops/status", None).json()["head_seq"]
            .as_u64()
            .unwrap()
    };
    // Subscribers from the start, and one that stops halfway and resumes.
    let subscribers: Vec<_> = (0..8)
        .map(|_| {
            let (addr, alice) = (addr.clone(), alice.clone());
            std::thread::spawn(move || {
                let mut events = Events::open(&addr, "/v1/events?after=0", &alice, "");
                (0..60).map(|_| events.next()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut events = Events::open(&addr, "/v1/events", &alice, "");
    for _ in 0..10 {
        seen.push(events.next());
    }
    drop(events);
    let writer = {
        let (addr, alice) = (addr.clone(), alice.clone());
        std::thread::spawn(move || {
            for i in 20..60 {
                assert_eq!(post(&addr, &alice, &report(i)).status, 200);
            }
        })
    };
    let last = seen.last().unwrap().0;
    let mut events = Events::open(
        &addr,
        "/v1/events",
        &alice,
        &format!("Last-Event-ID: {last}\r\n"),
    );
    writer.join().unwrap();
    let total = head(&addr);
    while seen.last().unwrap().0 < total {
        seen.push(events.next());
    }
    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    // Each event is the record's export line: the chain verifies as it arrives.
    let mut prev =
        "blake3:0000000000000000000000000000000000000000000000000000000000000000".to_owned();
    for (seq, data) in &seen {
        let record: Value = serde_json::from_str(data).unwrap();
        assert_eq!(record["seq"], *seq);
        assert_eq!(record["prev"], prev.as_str());
        prev = record["hash"].as_str().unwrap().to_owned();
    }
    for subscriber in subscribers {
        let got = subscriber.join().unwrap();
        assert_eq!(got, seen[..60].to_vec());
    }
    let metrics = get(&addr, "/metrics", None).body;
    assert!(
        metrics.contains("ro_commands_total{type=\"REPORT_COMPONENT\",outcome=\"accepted\"} 60"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("ro_head_seq {total}")),
        "{metrics}"
    );
}

/// Clients posting commands until the server goes; each acknowledged command's event as
/// `(seq, hash)`.
fn load(
    addr: &str,
    token: &str,
    clients: usize,
) -> Vec<std::thread::JoinHandle<Vec<(u64, String)>>> {
    (0..clients)
        .map(|c| {
            let (addr, token) = (addr.to_owned(), token.to_owned());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0.. {
                    let doc = format!(
                        r#"{{"type":"REPORT_COMPONENT","component":"c{c}-{i}","healthy":true}}"#
                    );
                    let Ok(reply) = http(
                        &addr,
                        "POST",
                        "/v1/commands",
                        Some(&token),
                        "application/json",
                        &doc,
                    ) else {
                        return acked;
                    };
                    match reply.status {
                        200 => {
                            let event = &reply.json()["events"][0];
                            acked.push((
                                event["seq"].as_u64().unwrap(),
                                event["hash"].as_str().unwrap().to_owned(),
                            ));
                        }
                        503 => return acked,
                        other => panic!("{other}: {}", reply.body),
                    }
                }
                acked
            })
        })
        .collect()
}

/// The journal on disk, `(seq, hash)` by seq, after verifying it.
fn on_disk(store: &std::path::Path) -> std::collections::BTreeMap<u64, String> {
    ok(store, &["verify"]);
    json_lines(&ro(store, &["audit"], ""))
        .iter()
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn sigterm_under_load_answers_every_accepted_request_and_kill_loses_no_acknowledged_command() {
    for (name, signal) in [("term", "TERM"), ("kill", "KILL")] {
        let store = plane(name);
        let alice = token(&store, "alice", &[]);
        let server = Server::start(&store, &["--tick-ms", "0"]);
        let clients = load(&server.addr, &alice, 8);
        std::thread::sleep(std::time::Duration::from_millis(700));
        let status = server.signal(signal);
        if signal == "TERM" {
            assert!(status.success(), "{status:?}");
        }
        let acked: Vec<(u64, String)> = clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        assert!(
            acked.len() > 20,
            "{name}: only {} acknowledged",
            acked.len()
        );
        let disk = on_disk(&store);
        for (seq, hash) in &acked {
            assert_eq!(
                disk.get(seq),
                Some(hash),
                "{name}: acknowledged seq {seq} lost"
            );
        }
    }
}

#[test]
fn one_writer_bounded_input_and_clear_refusals() {
    let store = plane("robust");
    let alice = token(&store, "alice", &[]);
    let server = Server::start(
        &store,
        &["--tick-ms", "0", "--body-limit", "4096", "--queue", "1"],
    );
    let addr = server.addr.clone();
    // A second server, or a console writer, on the same store is refused.
    let second = ro(&store, &["serve", "--listen", "127.0.0.1:0"], "");
    assert_eq!(second.status.code(), Some(2));
    assert_eq!(json_lines(&second)[0]["error"]["code"], "SERVER_RUNNING");
    let apply = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        "{\"type\":\"TICK\"}\n",
    );
    assert_eq!(json_lines(&apply)[0]["error"]["code"], "SERVER_RUNNING");
    // Too large a body: 413, said in JSON.
    let big = format!("{}\n", r#"{"type":"TICK"}"#.repeat(400));
    let reply = post(&addr, &alice, &big);
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].as_str()),
        (413, Some("BODY_TOO_LARGE"))
    );
    // Not JSON: 400 with the protocol's code; unknown endpoint: 404 in JSON.
    let reply = post(&addr, &alice, "{not json");
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].as_str()),
        (400, Some("INVALID_JSON"))
    );
    assert_eq!(
        get(&addr, "/v2/nothing", Some(&alice)).json()["error"]["code"],
        "NOT_FOUND"
    );
    // A one-place queue under 16 concurrent clients: some are told to come back, with
    // Retry-After; none is left unanswered.
    let lines =
        r#"{"type":"REPORT_COMPONENT","component":"feed","healthy":true}"#.to_owned() + "\n";
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (addr, alice, body) = (addr.clone(), alice.clone(), lines.repeat(40));
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        let r = http(
                            &addr,
                            "POST",
                            "/v1/commands",
                            Some(&alice),
                            "application/x-ndjson",
                            &body,
                        )
                        .unwrap();
                        (r.status, r.header("retry-after").map(str::to_owned), r.body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // Meanwhile the panic button: it has a lane of its own, and is never told to come back.
    let mut pressed = Vec::new();
    for _ in 0..10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        pressed.push(
            post(
                &addr,
                &alice,
                r#"{"type":"EMERGENCY_LOCKDOWN","reason":"drill"}"#,
            )
            .status,
        );
    }
    assert_eq!(pressed, vec![200; 10]);
    let replies: Vec<_> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let busy: Vec<_> = replies.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(replies.iter().all(|(s, _, _)| *s == 200 || *s == 503));
    assert!(
        !busy.is_empty(),
        "a one-place queue under 16 clients was never full"
    );
    for (_, retry, body) in busy {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(body.contains("QUEUE_FULL"), "{body}");
    }
    // The probes: liveness, freshness, the status contract.
    assert_eq!(get(&addr, "/health", None).status, 200);
    let healthz = get(&addr, "/healthz", None);
    assert_eq!(
        (healthz.status, healthz.json()["ok"].as_bool()),
        (200, Some(true))
    );
    let status = get(&addr, "/ops/status", None).json();
    for pointer in [
        "/status/state",
        "/status/reason_codes",
        "/marketdata/is_fresh",
        "/safety/safe_to_execute_orders",
        "/safety/safe_to_run_strategies",
    ] {
        assert!(status.pointer(pointer).is_some(), "{pointer} in {status}");
    }
    // A critical feed that stops reporting: stale, 503.
    let feed = json!({"type": "REPORT_COMPONENT", "component": "marketdata", "healthy": true, "critical": true, "fresh_for_ms": 1000}).to_string();
    assert_eq!(post(&addr, &alice, &feed).status, 200);
    // Nothing else is sent: the server's clock notices the feed going stale.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let healthz = get(&addr, "/healthz", None);
    assert_eq!(healthz.status, 503, "{}", healthz.body);
    assert_eq!(
        get(&addr, "/ops/status", None).json()["marketdata"]["is_fresh"],
        false
    );
}

#[test]
fn the_command_line_speaks_to_a_server_as_to_a_store() {
    let store = plane("client");
    let alice = token(&store, "alice", &[]);
    let server = Server::start(&store, &["--tick-ms", "0"]);
    let url = format!("http://{}", server.addr);
    let remote = |args: &[&str], stdin: &str| {
        let mut all = vec!["--server", &url, "--token", &alice];
        all.extend_from_slice(args);
        ro(&store, &all, stdin)
    };
    // Blank lines are skipped and counted; a refusal names its input line; exit 1.
    let input = "{\"type\":\"REPORT_COMPONENT\",\"component\":\"feed\",\"healthy\":true}\n\n{\"type\":\"NO_SUCH\"}\n{\"type\":\"HEARTBEAT\"}\n";
    let out = remote(&["apply"], input);
    assert_eq!(out.status.code(), Some(1));
    let answers = json_lines(&out);
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["ok"], true);
    assert_eq!(answers[1]["error"]["code"], "UNKNOWN_COMMAND");
    assert_eq!(answers[1]["error"]["details"]["line"], 3);
    assert_eq!(answers[2]["ok"], true);
    // The console's --actor has no meaning through a server.
    assert_eq!(
        remote(&["apply", "--reason", "per runbook", "--actor", "bot"], "")
            .status
            .code(),
        Some(2)
    );
    // The same summary and the same journal, byte for byte, as read from the store file.
    let remote_status = json_lines(&remote(&["status"], ""))[0].clone();
    let local_status = json_lines(&ro(&store, &["status"], ""))[0].clone();
    for field in ["head_seq", "head_hash", "state_digest", "plane_id"] {
        assert_eq!(remote_status[field], local_status[field], "{field}");
    }
    let remote_audit = remote(&["audit"], "");
    assert!(remote_audit.status.success());
    assert_eq!(remote_audit.stdout, ro(&store, &["audit"], "").stdout);
    let health = remote(&["report", "health"], "");
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stdout)
    );
    // A wrong token: the server's refusal, exit 1.
    let out = ro(
        &store,
        &["--server", &url, "--token", "ro1.x.00", "status"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "UNAUTHENTICATED");
}

/// A validator for one schema of the OpenAPI description.
fn openapi_validator(schema: &str) -> jsonschema::Validator {
    let mut document = ro_bindings::openapi::document();
    document["$ref"] = Value::String(format!("#/components/schemas/{schema}"));
    jsonschema::options().build(&document).unwrap()
}

#[test]
fn the_api_answers_as_its_openapi_description_says() {
    let store = plane("openapi");
    let alice = token(&store, "alice", &[]);
    let server = Server::start(&store, &["--tick-ms", "0"]);
    let addr = &server.addr;
    assert_eq!(
        post(
            addr,
            &alice,
            r#"{"type":"REPORT_COMPONENT","component":"feed","healthy":true}"#
        )
        .status,
        200
    );
    for (path, token, schema) in [
        ("/ops/status", None, "OpsStatus"),
        ("/healthz", None, "Healthz"),
        ("/health", None, "Health"),
        ("/v1/status", Some(alice.as_str()), "Status"),
        (
            "/v1/audit?after=2&limit=3",
            Some(alice.as_str()),
            "AuditPage",
        ),
        ("/v1/heartbeat", Some(alice.as_str()), "Response"),
        (
            "/v1/queries/next-runs?cron=30%208%20*%20*%201-5&timezone=America/New_York&after=2026-04-01T00:00:00Z&count=2",
            Some(alice.as_str()),
            "Response",
        ),
        ("/v1/nothing", Some(alice.as_str()), "ErrorResponse"),
        ("/v1/audit?after=x", Some(alice.as_str()), "ErrorResponse"),
        ("/v1/heartbeat", None, "ErrorResponse"),
    ] {
        let reply = get(addr, path, token);
        let body = reply.json();
        let errors: Vec<String> = openapi_validator(schema)
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{path} ({}): {errors:?}\n{body}",
            reply.status
        );
    }
    // The validator does refuse: an error is no status.
    let refusal = get(addr, "/v1/heartbeat", None).json();
    assert!(!openapi_validator("OpsStatus").is_valid(&refusal));
    assert!(!openapi_validator("AuditPage").is_valid(&json!({"ok": true, "records": []})));
}

#[test]
fn every_enabling_of_execution_raises_a_sev0_alert_the_hook_delivers() {
    let store = plane("alert-hook");
    let alice = token(&store, "alice", &[]);
    let delivered = store.with_extension("alerts.jsonl");
    let _ = std::fs::remove_file(&delivered);
    // An unknown calendar is refused at start, before anything listens.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ro"))
        .arg("--store")
        .arg(&*store)
        .args(["serve", "--listen", "127.0.0.1:0", "--calendar", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID_ARGUMENT"));
    let hook = format!("cat >> '{}'", delivered.display());
    let server = Server::start(&store, &["--tick-ms", "0", "--alert-hook", &hook]);
    // Releasing the kill switch and unlocking production, each in two steps by a human.
    for release in ["RELEASE_KILL_SWITCH", "PRODUCTION_UNLOCK"] {
        let body = format!(r#"{{"type":"{release}","reason":"the drill is over"}}"#);
        let first = post(&server.addr, &alice, &body).json();
        let confirmation = first["confirmation_token"].as_str().unwrap();
        let second = post(
            &server.addr,
            &alice,
            &format!(
                r#"{{"type":"{release}","reason":"the drill is over","confirmation_token":"{confirmation}"}}"#
            ),
        )
        .json();
        assert_eq!(second["ok"], true, "{second}");
        let raised = &second["events"].as_array().unwrap().last().unwrap()["event"]["event"];
        assert_eq!(raised["type"], "AlertRaised", "{second}");
        assert_eq!(raised["severity"], "SEV0");
        assert_eq!(raised["route"], "PAGE");
        assert_eq!(raised["caused_by"], "alice");
    }
    // The query lists both, open.
    let alerts = get(
        &server.addr,
        "/v1/queries/ALERTS?open_only=true",
        Some(&alice),
    )
    .json();
    let subjects: Vec<&str> = alerts["result"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["KILL_SWITCH", "PRODUCTION_LOCKED"], "{alerts}");
    // The hook received each alert's record once, in order (it runs beside the writer: wait
    // for it, bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let lines = loop {
        let text = std::fs::read_to_string(&delivered).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 2 || std::time::Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let got: Vec<&str> = lines
        .iter()
        .map(|l| l["event"]["event"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["KILL_SWITCH", "PRODUCTION_LOCKED"]);
    let metrics = get(&server.addr, "/metrics", None).body;
    assert!(
        metrics.contains("ro_alert_hook_delivered_total 2"),
        "{metrics}"
    );
    drop(server);
    let _ = std::fs::remove_file(&delivered);
}

/// A host opens from its own snapshot and holds no committed record: audit pages read the
/// older ones back from the store, equal to `ro audit`; the check of every record it runs at
/// start says VERIFIED, or DAMAGED (and fails `/health`) for a row changed before the snapshot,
/// which the open itself trusted.
#[test]
fn a_host_opened_from_its_snapshot_serves_history_and_checks_every_record() {
    let store = plane("lean");
    let alice = token(&store, "alice", &[]);
    for i in 0..30 {
        let line = format!(
            r#"{{"type":"REGISTER_ARTIFACT","ref":"runs/r-{i}/a.json","digest":"blake3:{:064x}"}}"#,
            i + 1
        );
        let out = ro(&store, &["apply", "--actor", "alice"], &line);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ok(&store, &["snapshot"]);
    let audit = ro(&store, &["audit"], "");
    let expected: Vec<Value> = String::from_utf8(audit.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let health_until = |addr: &str, check: &str| -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let h = get(addr, "/health", None);
            let body = h.json();
            if body["journal"]["check"] == check {
                return json!({ "status": h.status, "body": body });
            }
            assert!(std::time::Instant::now() < deadline, "{}", h.body);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    {
        let server = Server::start(&store, &["--tick-ms", "0"]);
        let h = health_until(&server.addr, "VERIFIED");
        assert_eq!(h["status"], 200);
        assert_eq!(h["body"]["journal"]["verified_seq"], expected.len());
        assert_eq!(journal(&server.addr, &alice), expected);
        let status = get(&server.addr, "/v1/status", Some(&alice)).json();
        assert_eq!(
            status["opened_from"]["snapshot_seq"],
            expected.len(),
            "{status}"
        );
    }
    // A row before the snapshot, changed: the open trusts it, the check finds it.
    let conn = rusqlite::Connection::open(&*store).unwrap();
    let changed = conn
        .execute(
            "UPDATE journal SET body = CAST(replace(CAST(body AS TEXT), 'runs/r-3/', 'runs/r-X/') AS BLOB) WHERE seq = (SELECT min(seq) FROM journal WHERE CAST(body AS TEXT) LIKE '%runs/r-3/%')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let server = Server::start(&store, &["--tick-ms", "0"]);
    let h = health_until(&server.addr, "DAMAGED");
    assert_eq!(h["status"], 503, "{h}");
    assert_eq!(h["body"]["ok"], false);
    assert!(
        h["body"]["journal"]["error"]
            .as_str()
            .unwrap()
            .contains("seq"),
        "{h}"
    );
    let metrics = get(&server.addr, "/metrics", None).body;
    assert!(metrics.contains("ro_journal_check 2"), "{metrics}");
}
