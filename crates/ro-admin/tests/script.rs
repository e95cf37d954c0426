//! The plane, data-driven: authorization of every domain, the lockdown guard and two-step
//! confirmations, snapshotted with insta.
//!
//! Script lines: context lines as in `ro_core::testing::script`; a plane command as the flat
//! JSON document operators send (`{"type": ...}`);
//! `CONFIRM <json>` re-sends the command with the token of the latest confirmation issued to
//! the current actor; `CONFIRM-AS <id> <json>` with the token issued to another actor;
//! `CONFIRM-WRONG <json>` with a token that was never issued; `QUERY <json>` asks a
//! read-only query as the current actor and prints its answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use ro_admin::{Plane, PlaneCommand, PlaneQuery, PlaneRejection};
use ro_core::{
    Actor, ActorId, ConfirmationToken, Context, ExecuteError, Journal, Kernel, Timestamp,
    testing::{check_replay, script},
};

/// A command in the flat form operators send (`{"type": ...}`), decoded as the protocol
/// decodes it.
fn flat(json: &str) -> Result<PlaneCommand, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let ty = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("no type")?
        .to_owned();
    PlaneCommand::from_flat(&ty, value)
        .ok_or_else(|| format!("unknown command type {ty}"))?
        .map_err(|e| e.to_string())
}

fn check(text: &str) -> String {
    let mut kernel =
        Kernel::resume(Plane::with_confirmation_key([42; 32]), 0, Journal::new()).unwrap();
    let mut ctx = Context::new(
        Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap(),
        Actor::human(ActorId::new("root").unwrap()),
    );
    let mut out = String::new();
    // The token of the latest confirmation issued to each actor, taken from the refusal that
    // issued it, as a client would.
    let mut issued: BTreeMap<ActorId, ConfirmationToken> = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if script::context_line(line, &mut ctx) {
            out.push_str(&format!("{line}\n"));
            continue;
        }
        if let Some(json) = line.strip_prefix("QUERY ") {
            out.push_str(&format!("{line}\n"));
            let query: PlaneQuery = serde_json::from_str(json).unwrap();
            match kernel.state().query(&query, &ctx.actor, ctx.at) {
                Ok(answer) => out.push_str(&format!(
                    "  = {}\n",
                    serde_json::to_string(&answer).unwrap()
                )),
                Err(e) => out.push_str(&format!("  → {}: {e}\n", ro_core::Rejection::code(&e))),
            }
            continue;
        }
        let (directive, json) = match line.split_once(' ') {
            Some((d @ ("CONFIRM" | "CONFIRM-WRONG"), rest)) => (Some((d, None)), rest),
            Some(("CONFIRM-AS", rest)) => {
                let (who, json) = rest.split_once(' ').unwrap();
                (Some(("CONFIRM-AS", Some(who))), json)
            }
            _ => (None, line),
        };
        out.push_str(&format!("{line}\n"));
        let command = match flat(json) {
            Ok(c) => c,
            Err(e) => {
                out.push_str(&format!("  → BAD_COMMAND: {e}\n"));
                continue;
            }
        };
        let mut sent = ctx.clone();
        if let Some((d, who)) = directive {
            let actor = who
                .map(|w| ActorId::new(w).unwrap())
                .unwrap_or_else(|| ctx.actor.id.clone());
            let token = match d {
                "CONFIRM-WRONG" => ConfirmationToken::new("0".repeat(64)),
                // An actor never issued one sends a token that was never issued either.
                _ => issued
                    .get(&actor)
                    .cloned()
                    .unwrap_or_else(|| ConfirmationToken::new("f".repeat(64))),
            };
            sent = sent.with_confirmation_token(token);
        }
        let (rendered, refused) = script::run_returning(&mut kernel, &sent, &command, "  ");
        out.push_str(&rendered);
        if let Some(ExecuteError::Rejected(PlaneRejection::ConfirmationRequired(token))) = refused {
            issued.insert(ctx.actor.id.clone(), token);
        }
    }
    out.push_str(&format!(
        "halted by {:?}\nstate {}\n",
        kernel.state().halt_reasons(),
        check_replay(&kernel)
    ));
    out
}

#[test]
fn authorization_lockdown_and_two_step_release() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"ana","role":"analyst"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"GRANT_ROLE","principal":"olga","role":"operator"}
        @2026-01-05T14:31:00Z human:ana | per runbook
        {"type":"REGISTER_ARTIFACT","ref":"runs/r-1/report.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}
        {"type":"DEFINE_POOL","pool":"gpu","max_running":1}
        @2026-01-05T14:32:00Z agent:bot | readings out of range
        {"type":"EMERGENCY_LOCKDOWN"}
        {"type":"EMERGENCY_LOCKDOWN"}
        @2026-01-05T14:33:00Z human:ana | per runbook
        {"type":"REGISTER_ARTIFACT","ref":"runs/r-2/report.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002"}
        @2026-01-05T14:33:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"carol","role":"analyst"}
        {"type":"REVOKE_ROLE","principal":"ana","role":"analyst"}
        @2026-01-05T14:34:00Z agent:bot | per runbook
        {"type":"RELEASE_LOCKDOWN"}
        @2026-01-05T14:35:00Z human:olga | root cause fixed
        {"type":"RELEASE_LOCKDOWN"}
        CONFIRM-WRONG {"type":"RELEASE_LOCKDOWN"}
        @2026-01-05T14:35:30Z human:alice | per runbook
        CONFIRM-AS olga {"type":"RELEASE_LOCKDOWN"}
        @2026-01-05T14:41:00Z human:olga | root cause fixed
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        {"type":"RELEASE_LOCKDOWN"}
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        {"type":"RELEASE_LOCKDOWN"}
        @2026-01-05T14:42:00Z human:ana | per runbook
        {"type":"REGISTER_ARTIFACT","ref":"runs/r-2/report.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002"}
    "#
    ));
}

#[test]
fn production_lock_and_kill_switch() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"GRANT_ROLE","principal":"olga","role":"operator"}
        {"type":"DEFINE_JOB","definition":{"job_id":"report","version":1}}
        @2026-01-05T14:31:00Z agent:bot | venue reports stale prices
        {"type":"PRODUCTION_LOCK"}
        @2026-01-05T14:32:00Z human:olga | investigating
        {"type":"REQUEST_RUN","job_id":"report","intent":"manual","partition":"p-1"}
        {"type":"PAUSE_JOB","job_id":"report"}
        @2026-01-05T14:33:00Z agent:bot | per runbook
        {"type":"PRODUCTION_UNLOCK"}
        @2026-01-05T14:34:00Z human:olga | prices fresh again
        {"type":"PRODUCTION_UNLOCK"}
        @2026-01-05T14:34:30Z agent:bot | second opinion: halt
        {"type":"ENGAGE_KILL_SWITCH"}
        @2026-01-05T14:35:00Z human:olga | prices fresh again
        CONFIRM {"type":"PRODUCTION_UNLOCK"}
        {"type":"PRODUCTION_UNLOCK"}
        CONFIRM {"type":"PRODUCTION_UNLOCK"}
        {"type":"RESUME_JOB","job_id":"report"}
        {"type":"RELEASE_KILL_SWITCH"}
        CONFIRM {"type":"RELEASE_KILL_SWITCH"}
        {"type":"RESUME_JOB","job_id":"report"}
        CONFIRM {"type":"RESUME_JOB","job_id":"report"}
        {"type":"REQUEST_RUN","job_id":"report","intent":"manual","partition":"p-1"}
    "#
    ));
}

#[test]
fn four_eyes_confirmation() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"olga","role":"operator"}
        {"type":"GRANT_ROLE","principal":"pete","role":"operator"}
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        @2026-01-05T14:31:00Z human:alice | two people for every release
        {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":true}
        {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":true}
        @2026-01-05T14:32:00Z agent:bot | per runbook
        {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":false}
        @2026-01-05T14:33:00Z human:olga | sensor fault
        {"type":"EMERGENCY_LOCKDOWN"}
        @2026-01-05T14:40:00Z human:olga | fault cleared
        {"type":"RELEASE_LOCKDOWN"}
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        @2026-01-05T14:41:00Z human:pete | fault cleared, checked
        CONFIRM-AS olga {"type":"RELEASE_LOCKDOWN"}
        CONFIRM-AS olga {"type":"RELEASE_LOCKDOWN"}
    "#
    ));
}

#[test]
fn model_promotion_lockdown_and_rollback() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"olga","role":"operator"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"GRANT_ROLE","principal":"rita","role":"risk_owner"}
        @2026-01-05T14:31:00Z human:olga | per runbook
        {"type":"SET_CANDIDATE_MODEL","version":"M-Ghost-V1"}
        {"type":"REGISTER_MODEL","metadata":{"version":"M-Base-V1"}}
        {"type":"REGISTER_MODEL","metadata":{"version":"M-Next-V2","trained_on":"2026-01-02"}}
        {"type":"CONFIGURE_SHADOW_WINDOW","cycles":0}
        {"type":"CONFIGURE_SHADOW_WINDOW","cycles":2}
        CONFIRM {"type":"CONFIGURE_SHADOW_WINDOW","cycles":2}
        {"type":"SET_CANARY_RATIO","ratio":"0.05"}
        {"type":"SET_CANDIDATE_MODEL","version":"M-Base-V1"}
        {"type":"RECORD_CYCLE","intent":"HOLD","latency_ms":12,"survived":true}
        {"type":"PROMOTE_CANDIDATE"}
        {"type":"RECORD_CYCLE","intent":"BUY","latency_ms":70,"violation":true,"survived":true}
        {"type":"RESOLVE_DEVIATION","deviation_id":"dev-000001","resolution":"the violation was reviewed"}
        {"type":"RECORD_CYCLE","intent":"hold"}
        {"type":"RECORD_CYCLE","intent":"HOLD","latency_ms":3600001}
        {"type":"PROMOTE_CANDIDATE"}
        @2026-01-05T14:31:00Z human:rita | backtest and shadow reviewed
        {"type":"APPROVE_PROMOTION","version":"M-Next-V2"}
        {"type":"APPROVE_PROMOTION","version":"M-Base-V1"}
        @2026-01-05T14:31:00Z human:olga | per runbook
        {"type":"PROMOTE_CANDIDATE"}
        CONFIRM {"type":"PROMOTE_CANDIDATE"}
        {"type":"SET_CANDIDATE_MODEL","version":"M-Next-V2"}
        @2026-01-05T14:32:00Z agent:bot | per runbook
        {"type":"SET_CANARY_RATIO","ratio":"0.05"}
        @2026-01-05T14:32:00Z human:olga | canary on live traffic
        {"type":"SET_CANARY_RATIO","ratio":"0.05"}
        {"type":"RECORD_CYCLE","intent":"HOLD","latency_ms":9,"survived":true}
        {"type":"PROMOTE_CANDIDATE"}
        @2026-01-05T14:32:00Z human:rita | canary reviewed
        {"type":"APPROVE_PROMOTION","version":"M-Next-V2"}
        @2026-01-05T14:33:00Z agent:bot | erratic orders
        {"type":"EMERGENCY_LOCKDOWN"}
        {"type":"RECORD_CYCLE","intent":"BUY","latency_ms":8,"survived":true}
        QUERY {"type":"HEARTBEAT"}
        @2026-01-05T14:34:00Z human:olga | per runbook
        {"type":"RECORD_CYCLE","intent":"HOLD","latency_ms":8,"survived":false}
        CONFIRM {"type":"PROMOTE_CANDIDATE"}
        {"type":"SET_CANDIDATE_MODEL","version":"M-Base-V1"}
        {"type":"REGISTER_MODEL","metadata":{"version":"M-Other-V3"}}
        {"type":"RELEASE_LOCKDOWN"}
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        {"type":"RECORD_CYCLE","intent":"HOLD","latency_ms":10,"survived":true}
        {"type":"PROMOTE_CANDIDATE"}
        CONFIRM {"type":"PROMOTE_CANDIDATE"}
        QUERY {"type":"HEARTBEAT"}
        @2026-01-05T14:40:00Z human:olga | V2 worse than expected
        {"type":"ROLLBACK_MODEL"}
        CONFIRM {"type":"ROLLBACK_MODEL"}
        {"type":"ROLLBACK_MODEL"}
        QUERY {"type":"HEARTBEAT"}
        QUERY {"type":"HEALTH_CHECKLIST"}
    "#
    ));
}

#[test]
fn failure_status_and_incidents() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"olga","role":"operator"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"REGISTER_ARTIFACT","ref":"failures/state-1.bin","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000003"}
        {"type":"REGISTER_MODEL","metadata":{"version":"M-A-V1"}}
        {"type":"CONFIGURE_SHADOW_WINDOW","cycles":1}
        CONFIRM {"type":"CONFIGURE_SHADOW_WINDOW","cycles":1}
        {"type":"SET_CANDIDATE_MODEL","version":"M-A-V1"}
        {"type":"RECORD_CYCLE","intent":"HOLD"}
        {"type":"APPROVE_PROMOTION","version":"M-A-V1"}
        @2026-01-05T14:31:00Z agent:bot | per runbook
        {"type":"RESET_FAILURE_STATUS"}
        {"type":"REPORT_FAILURE","mode":"NORMAL","description":"fine"}
        {"type":"REPORT_FAILURE","mode":"DEGRADED","description":"  "}
        {"type":"REPORT_FAILURE","mode":"DEGRADED","description":"x","snapshot":"failures/missing.bin"}
        {"type":"REPORT_FAILURE","mode":"FAILED","description":"position limits breached","snapshot":"failures/state-1.bin"}
        {"type":"REPORT_FAILURE","mode":"DEGRADED","description":"latency above 50 ms"}
        QUERY {"type":"HEARTBEAT"}
        {"type":"RESET_FAILURE_STATUS"}
        @2026-01-05T14:40:00Z human:olga | limits restored
        {"type":"PROMOTE_CANDIDATE"}
        {"type":"RESET_FAILURE_STATUS"}
        CONFIRM {"type":"RESET_FAILURE_STATUS"}
        QUERY {"type":"HEARTBEAT"}
        {"type":"RESET_FAILURE_STATUS"}
        {"type":"PROMOTE_CANDIDATE"}
        CONFIRM {"type":"PROMOTE_CANDIDATE"}
    "#
    ));
}

#[test]
fn components_freshness_status_and_mission_control() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"monitor","role":"operator"}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"equities","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false]}}
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        QUERY {"type":"OPS_STATUS","calendar":"lunar"}
        @2026-03-02T14:30:00Z service:monitor | per runbook
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        {"type":"REPORT_COMPONENT","component":"strategy-engine","healthy":true,"critical":true,"depends_on":["marketdata"]}
        {"type":"REPORT_COMPONENT","component":"mission-control","healthy":true,"depends_on":["ops-ui","strategy-engine"]}
        {"type":"REPORT_COMPONENT","component":"ops-ui","healthy":true,"fresh_for_ms":0}
        {"type":"REPORT_COMPONENT","component":"ops-ui","healthy":true,"depends_on":["ops-ui"]}
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        QUERY {"type":"MISSION_CONTROL"}
        @2026-03-02T14:31:30Z service:monitor | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        QUERY {"type":"MISSION_CONTROL"}
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":false,"critical":true,"fresh_for_ms":60000}
        QUERY {"type":"OPS_STATUS"}
        {"type":"EMERGENCY_LOCKDOWN"}
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        QUERY {"type":"OPS_STATUS"}
        @2026-03-07T15:00:00Z service:monitor | per runbook
        QUERY {"type":"MISSION_CONTROL"}
        @2026-03-07T15:00:00Z human:alice | per runbook
        {"type":"RELEASE_LOCKDOWN"}
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        @2026-03-07T15:00:00Z service:monitor | per runbook
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true}
        {"type":"REPORT_COMPONENT","component":"strategy-engine","healthy":true,"critical":true}
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        QUERY {"type":"OPS_STATUS"}
    "#
    ));
}

#[test]
fn attestation_of_a_period() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"worker","role":"operator"}
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":50000,"daily_budget_micros":100000,"daily_rate":4}}
        QUERY {"type":"ATTESTATION","from":"2026-03-02","to":"2026-03-01"}
        QUERY {"type":"ATTESTATION","from":"2026-03-01","to":"2027-03-03"}
        QUERY {"type":"ATTESTATION","from":"2026-03-01","to":"2026-03-07"}
        @2026-03-02T14:31:00Z service:worker | per runbook
        {"type":"RECORD_CYCLE","intent":"HOLD","deterministic":true}
        {"type":"RECORD_CYCLE","intent":"HOLD","deterministic":true}
        {"type":"RECORD_COST","unit_id":"u-1","cost_micros":1000}
        QUERY {"type":"ATTESTATION","from":"2026-03-01","to":"2026-03-07"}
        @2026-03-03T14:31:00Z service:worker | per runbook
        {"type":"RECORD_CYCLE","intent":"BUY","deterministic":false,"violation":true}
        {"type":"RECORD_COST","unit_id":"u-2","cost_micros":90000}
        QUERY {"type":"ATTESTATION","from":"2026-03-01","to":"2026-03-07"}
        QUERY {"type":"ATTESTATION","from":"2026-03-02","to":"2026-03-02"}
    "#
    ));
}

#[test]
fn streams_created_changed_and_audited() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"olga","role":"operator"}
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        @2026-03-02T14:31:00Z human:olga | per runbook
        {"type":"CREATE_STREAM","stream":"orders","partitions":0,"retention_hours":168}
        {"type":"CREATE_STREAM","stream":"orders","partitions":12,"retention_hours":168,"publishers":["gateway"],"subscribers":["risk","ledger"]}
        @2026-03-02T14:31:00Z human:alice | the order flow's parties
        {"type":"GRANT_ROLE","principal":"gateway","role":"operator"}
        {"type":"GRANT_ROLE","principal":"risk","role":"reviewer"}
        {"type":"GRANT_ROLE","principal":"ledger","role":"analyst"}
        {"type":"GRANT_ROLE","principal":"auditor","role":"reviewer"}
        @2026-03-02T14:31:00Z human:olga | per runbook
        {"type":"CREATE_STREAM","stream":"orders","partitions":12,"retention_hours":168,"publishers":["gateway"],"subscribers":["risk","ledger"]}
        {"type":"CREATE_STREAM","stream":"orders","partitions":12,"retention_hours":168,"publishers":["gateway"],"subscribers":["risk","ledger"]}
        {"type":"CREATE_STREAM","stream":"orders","partitions":6,"retention_hours":168}
        {"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":24}
        @2026-03-02T14:32:00Z agent:bot | per runbook
        {"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":24}
        @2026-03-02T14:33:00Z human:alice | disk pressure on the bus
        {"type":"CHANGE_STREAM_RETENTION","stream":"fills","retention_hours":24}
        {"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":24}
        CONFIRM {"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":24}
        {"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":720}
        CONFIRM {"type":"CHANGE_STREAM_RETENTION","stream":"orders","retention_hours":1000}
        {"type":"CHANGE_STREAM_PARTITIONS","stream":"orders","partitions":6}
        {"type":"CHANGE_STREAM_PARTITIONS","stream":"orders","partitions":24}
        {"type":"CHANGE_STREAM_ACCESS","stream":"orders","publishers":["ledger"]}
        {"type":"CHANGE_STREAM_ACCESS","stream":"orders","subscribers":["risk"]}
        {"type":"CHANGE_STREAM_ACCESS","stream":"orders","subscribers":["risk","auditor"]}
        CONFIRM {"type":"CHANGE_STREAM_ACCESS","stream":"orders","subscribers":["risk","auditor"]}
        QUERY {"type":"STREAMS"}
    "#
    ));
}

#[test]
fn two_steps_for_every_safety_reducing_admin_action() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"pete","role":"admin"}
        @2026-01-05T14:31:00Z human:alice | storage budget
        {"type":"SET_RETENTION","class":"reports","policy":{"keep_last":5,"keep_days":30,"trading_days":false}}
        {"type":"SET_RETENTION","class":"reports","policy":{"keep_last":10,"keep_days":60,"trading_days":false}}
        CONFIRM {"type":"SET_RETENTION","class":"reports","policy":{"keep_last":20,"keep_days":90,"trading_days":false}}
        {"type":"SET_RETENTION","class":"reports","policy":{"keep_last":2,"keep_days":7,"trading_days":false}}
        CONFIRM {"type":"SET_RETENTION","class":"reports","policy":{"keep_last":2,"keep_days":7,"trading_days":false}}
        {"type":"DEFINE_JOB","definition":{"job_id":"report","version":1}}
        {"type":"PAUSE_JOB","job_id":"report"}
        CONFIRM {"type":"PAUSE_JOB","job_id":"report"}
        {"type":"RESUME_JOB","job_id":"report"}
        CONFIRM-AS pete {"type":"RESUME_JOB","job_id":"report"}
        CONFIRM {"type":"RESUME_JOB","job_id":"report"}
        CONFIRM {"type":"RESUME_JOB","job_id":"report"}
        {"type":"CONFIGURE_SHADOW_WINDOW","cycles":5000}
        {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":true}
        {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":false}
        CONFIRM {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":false}
        @2026-01-05T14:32:00Z human:pete | second pair of eyes
        CONFIRM-AS alice {"type":"CONFIGURE_CONFIRMATIONS","four_eyes":false}
    "#
    ));
}

#[test]
fn environments_deployments_rollouts_and_last_known_good() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:00:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        {"type":"GRANT_ROLE","principal":"worker","role":"operator"}
        {"type":"REGISTER_ARTIFACT","ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}
        {"type":"REGISTER_ARTIFACT","ref":"images/api-1.5.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002"}
        {"type":"DEFINE_ENVIRONMENT","environment":"stage","services":["api"]}
        {"type":"DEFINE_ENVIRONMENT","environment":"prod","production":true,"services":["api"]}
        {"type":"DEPLOY","environment":"stage","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        {"type":"SET_ARTIFACT_GATE","ref":"images/api-1.4.0.tar","status":"PASS"}
        {"type":"SET_ARTIFACT_GATE","ref":"images/api-1.5.0.tar","status":"PASS"}
        {"type":"DEPLOY","environment":"stage","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000009","digest_alg":"blake3"}}
        {"type":"DEPLOY","environment":"stage","service":"web","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        {"type":"DEPLOY","environment":"qa","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        {"type":"DEPLOY","environment":"stage","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        @2026-03-02T14:05:00Z agent:bot | per runbook
        {"type":"DEPLOY","environment":"prod","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        @2026-03-02T14:10:00Z human:alice | release 1.4.0
        {"type":"DEPLOY","environment":"prod","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        CONFIRM {"type":"DEPLOY","environment":"prod","service":"api","version":"1.4.0","artifact":{"ref":"images/api-1.4.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","digest_alg":"blake3"}}
        @2026-03-02T14:12:00Z service:worker | per runbook
        {"type":"RECORD_ROLLOUT","deployment":2,"outcome":"verified"}
        {"type":"RECORD_ROLLOUT","deployment":2,"outcome":"applied"}
        {"type":"RECORD_ROLLOUT","deployment":2,"outcome":"verified"}
        {"type":"RECORD_ROLLOUT","deployment":2,"outcome":"failed"}
        {"type":"CAPTURE_LKG","environment":"stage"}
        {"type":"CAPTURE_LKG","environment":"prod"}
        @2026-03-02T14:20:00Z human:alice | release 1.5.0
        {"type":"DEPLOY","environment":"prod","service":"api","version":"1.5.0","artifact":{"ref":"images/api-1.5.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002","digest_alg":"blake3"}}
        CONFIRM {"type":"DEPLOY","environment":"prod","service":"api","version":"1.5.0","artifact":{"ref":"images/api-1.5.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002","digest_alg":"blake3"}}
        @2026-03-02T14:22:00Z service:worker | per runbook
        {"type":"RECORD_ROLLOUT","deployment":3,"outcome":"applied"}
        {"type":"RECORD_ROLLOUT","deployment":3,"outcome":"failed"}
        {"type":"REPORT_COMPONENT","component":"api","healthy":true,"critical":true}
        QUERY {"type":"DEPLOY_REPORT","environment":"prod"}
        @2026-03-02T14:25:00Z agent:bot | error budget burnt
        {"type":"PRODUCTION_LOCK"}
        @2026-03-02T14:26:00Z human:alice | roll back to last known good
        {"type":"RESTORE_LKG","environment":"prod","lkg":1}
        {"type":"DEPLOY","environment":"stage","service":"api","version":"1.5.0","artifact":{"ref":"images/api-1.5.0.tar","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002","digest_alg":"blake3"}}
        {"type":"PRODUCTION_UNLOCK"}
        CONFIRM {"type":"PRODUCTION_UNLOCK"}
        {"type":"RESTORE_LKG","environment":"prod","lkg":7}
        {"type":"RESTORE_LKG","environment":"prod","lkg":1}
        CONFIRM {"type":"RESTORE_LKG","environment":"prod","lkg":1}
        QUERY {"type":"DEPLOY_REPORT"}
    "#
    ));
}

#[test]
fn readiness_go_no_go_holds_until_a_human_clears_it() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T13:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"host","role":"operator"}
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        {"type":"REGISTER_ARTIFACT","ref":"audit/readiness-0830.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}
        {"type":"REGISTER_ARTIFACT","ref":"audit/readiness-0915.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002"}
        @2026-03-02T13:30:00Z service:host | per runbook
        {"type":"RECORD_READINESS","result":"NO_GO","evidence":"audit/missing.json"}
        {"type":"RECORD_READINESS","result":"NO_GO","evidence":"audit/readiness-0830.json"}
        QUERY {"type":"OPS_STATUS"}
        @2026-03-02T14:15:00Z service:host | per runbook
        {"type":"RECORD_READINESS","result":"GO","evidence":"audit/readiness-0915.json"}
        QUERY {"type":"OPS_STATUS"}
        {"type":"CLEAR_NO_GO"}
        @2026-03-02T14:16:00Z agent:bot | per runbook
        {"type":"CLEAR_NO_GO"}
        @2026-03-02T14:20:00Z human:alice | feed restored, checked by hand
        {"type":"CLEAR_NO_GO"}
        CONFIRM {"type":"CLEAR_NO_GO"}
        QUERY {"type":"OPS_STATUS"}
        {"type":"CLEAR_NO_GO"}
        @2026-03-02T14:30:00Z service:host | per runbook
        {"type":"RECORD_READINESS","result":"UNKNOWN","evidence":"audit/readiness-0915.json"}
        QUERY {"type":"OPS_STATUS"}
    "#
    ));
}

#[test]
fn observability_minimums_in_the_status() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"monitor","role":"operator"}
        {"type":"DEFINE_JOB","definition":{"job_id":"report","version":1,"retry":{"max_attempts":2,"initial_interval_ms":1000,"max_interval_ms":1000,"jitter_bp":0}}}
        {"type":"DEFINE_JOB","definition":{"job_id":"train","version":1}}
        {"type":"CREATE_STREAM","stream":"orders","partitions":4,"retention_hours":24}
        QUERY {"type":"OPS_STATUS"}
        {"type":"REQUEST_RUN","job_id":"report","intent":"manual","partition":"p-1"}
        {"type":"REQUEST_RUN","job_id":"train","intent":"manual","partition":"p-1"}
        @2026-03-02T14:31:00Z service:monitor | per runbook
        {"type":"START_ATTEMPT","run_id":"run-0f204a49226875927f6c"}
        {"type":"COMPLETE_ATTEMPT","run_id":"run-0f204a49226875927f6c","outcome":"failed","error_code":"UPSTREAM_503","retryable":true}
        {"type":"START_ATTEMPT","run_id":"run-fe7e3f744064284bbd36"}
        {"type":"COMPLETE_ATTEMPT","run_id":"run-fe7e3f744064284bbd36","outcome":"failed","error_code":"OOM","retryable":false}
        @2026-03-02T14:32:00Z service:monitor | per runbook
        {"type":"START_ATTEMPT","run_id":"run-0f204a49226875927f6c"}
        {"type":"COMPLETE_ATTEMPT","run_id":"run-0f204a49226875927f6c","outcome":"succeeded"}
        {"type":"REPORT_SIGNAL","signal":"ARTIFACT_STORE_ERRORS","store":"artifact-store","errors":3,"correlation":[{"run":"run-fe7e3f744064284bbd36"},{"train_run":"tr-42"},{"bundle":"b-7"}]}
        {"type":"REPORT_SIGNAL","signal":"STREAM_LAG","stream":"orders","lag_events":1200}
        {"type":"REPORT_SIGNAL","signal":"STREAM_LAG","stream":"fills","lag_events":5}
        {"type":"REPORT_SIGNAL","signal":"STORAGE_PRESSURE","volume":"journal-disk","used_bytes":950,"capacity_bytes":1000}
        {"type":"REPORT_SIGNAL","signal":"STORAGE_PRESSURE","volume":"journal-disk","used_bytes":1001,"capacity_bytes":1000}
        {"type":"REPORT_SIGNAL","signal":"STORAGE_PRESSURE","volume":"journal-disk","used_bytes":0,"capacity_bytes":0}
        {"type":"REPORT_SIGNAL","signal":"DISK_SMELL","volume":"journal-disk"}
        {"type":"REPORT_SIGNAL","signal":"STREAM_LAG","stream":"orders","lag_events":1,"partition":3}
        QUERY {"type":"OPS_STATUS"}
        @2026-03-02T14:33:00Z agent:bot | per runbook
        {"type":"REPORT_SIGNAL","signal":"STREAM_LAG","stream":"orders","lag_events":0}
        @2026-03-02T14:33:00Z human:alice | per runbook
        {"type":"EMERGENCY_LOCKDOWN"}
        @2026-03-02T14:34:00Z service:monitor | per runbook
        {"type":"REPORT_SIGNAL","signal":"ARTIFACT_STORE_ERRORS","store":"artifact-store","errors":0}
        {"type":"REPORT_SIGNAL","signal":"STORAGE_PRESSURE","volume":"journal-disk","used_bytes":500,"capacity_bytes":1000}
        QUERY {"type":"OPS_STATUS"}
    "#
    ));
}

#[test]
fn tokens_issued_to_registered_principals_revoked_and_audited() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"REGISTER_PRINCIPAL","principal":"alice","kind":"human"}
        {"type":"REGISTER_PRINCIPAL","principal":"bot","kind":"agent"}
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        {"type":"ISSUE_TOKEN","token_id":"tok-1","principal":"nobody"}
        {"type":"ISSUE_TOKEN","token_id":"tok-1","principal":"bot","expires_at":"2026-03-02T14:00:00Z"}
        {"type":"ISSUE_TOKEN","token_id":"tok-1","principal":"bot","expires_at":"2026-03-03T14:00:00Z"}
        {"type":"ISSUE_TOKEN","token_id":"tok-1","principal":"alice"}
        @2026-03-02T14:31:00Z agent:bot | per runbook
        {"type":"ISSUE_TOKEN","token_id":"tok-2","principal":"bot"}
        {"type":"REVOKE_TOKEN","token_id":"tok-9"}
        {"type":"REVOKE_TOKEN","token_id":"tok-1"}
        {"type":"REVOKE_TOKEN","token_id":"tok-1"}
    "#
    ));
}

#[test]
fn a_running_total_stays_an_exact_integer() {
    // Two reports at the largest exact integer: the total stops there, and the state (and so
    // its digest and every status) can still be encoded.
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"REPORT_SIGNAL","signal":"ARTIFACT_STORE_ERRORS","store":"s","errors":9007199254740991}
        {"type":"REPORT_SIGNAL","signal":"ARTIFACT_STORE_ERRORS","store":"s","errors":9007199254740991}
        QUERY {"type":"OPS_STATUS"}
    "#
    ));
}

#[test]
fn the_locked_posture_is_observe_only_not_halted() {
    // The production lock and the kill switch close execution and leave the state to the
    // market and the data; the emergency lockdown and a stale critical feed halt.
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"equities","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"holidays":[]}}
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        {"type":"PRODUCTION_LOCK"}
        {"type":"ENGAGE_KILL_SWITCH"}
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        @2026-03-07T14:30:00Z human:alice | per runbook
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        @2026-03-07T14:35:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        {"type":"EMERGENCY_LOCKDOWN"}
        QUERY {"type":"OPS_STATUS","calendar":"equities"}
    "#
    ));
}

#[test]
fn pressing_the_lockdown_again_cancels_a_pending_release() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"EMERGENCY_LOCKDOWN"}
        {"type":"RELEASE_LOCKDOWN"}
        QUERY {"type":"PENDING_CONFIRMATIONS"}
        {"type":"EMERGENCY_LOCKDOWN"}
        QUERY {"type":"PENDING_CONFIRMATIONS"}
        CONFIRM {"type":"RELEASE_LOCKDOWN"}
        {"type":"EMERGENCY_LOCKDOWN"}
        {"type":"ENGAGE_KILL_SWITCH"}
        {"type":"RELEASE_KILL_SWITCH"}
        {"type":"ENGAGE_KILL_SWITCH"}
    "#
    ));
}

#[test]
fn market_closed_outside_the_session_and_after_an_early_close() {
    // New York in November is UTC−5: the session is 14:30Z to 21:00Z, the early close of
    // 27 November at 13:00 local is 18:00Z.
    insta::assert_snapshot!(check(
        r#"
        @2026-11-23T12:00:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"nyse","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"holidays":["2026-11-26"],"early_closes":{"2026-11-27":"13:00"},"session":{"open":"09:30","close":"16:00"}}}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"bad","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"session":{"open":"16:00","close":"09:30"}}}
        @2026-11-24T01:00:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"nyse"}
        @2026-11-24T13:00:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"nyse"}
        @2026-11-24T15:00:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"nyse"}
        @2026-11-26T15:00:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"nyse"}
        @2026-11-27T17:00:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"nyse"}
        @2026-11-27T19:00:00Z human:alice | per runbook
        QUERY {"type":"OPS_STATUS","calendar":"nyse"}
    "#
    ));
}

#[test]
fn read_only_jobs_run_under_the_production_lock_and_the_kill_switch() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"DEFINE_JOB","definition":{"job_id":"readiness","version":1,"read_only":true}}
        {"type":"DEFINE_JOB","definition":{"job_id":"trade","version":1}}
        {"type":"PRODUCTION_LOCK"}
        {"type":"ENGAGE_KILL_SWITCH"}
        {"type":"REQUEST_RUN","job_id":"readiness","intent":"manual","partition":"p-1"}
        {"type":"REQUEST_RUN","job_id":"trade","intent":"manual","partition":"p-1"}
        @2026-03-02T14:31:00Z agent:bot | per runbook
        {"type":"DEFINE_JOB","definition":{"job_id":"sneaky","version":1,"read_only":true}}
        {"type":"DEFINE_JOB","definition":{"job_id":"trade","version":2,"read_only":true}}
    "#
    ));
}

#[test]
fn alerts_are_raised_with_what_raised_them() {
    // Execution enablement pages at Sev-0 whoever does it; a critical component's fault is
    // raised at the clock's tick while the market is open and resolved by the plane when the
    // component is OK again; while the market is closed it raises nothing; a NO-GO tickets
    // early in the morning and pages within 15 minutes of the open (New York in March before
    // the change is UTC−5: open 14:30Z).
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T12:00:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bob","role":"admin"}
        {"type":"GRANT_ROLE","principal":"clock","role":"operator"}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"nyse","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"session":{"open":"09:30","close":"16:00"}}}
        {"type":"CONFIGURE_ALERTS","calendar":"nyse","rules":[{"trigger":"EXECUTION_ENABLED","class":"TICKET","owners":["ops-on-call"]}]}
        {"type":"CONFIGURE_ALERTS","calendar":"nyse","rules":[{"trigger":"COMPONENT_FAULT","class":"IGNORE_WHEN_CLOSED","owners":["ops-on-call","marketdata-owner"]},{"trigger":"COMPONENT_FAULT","class":"PAGE","owners":["ops-on-call"]}]}
        {"type":"CONFIGURE_ALERTS","calendar":"nope","rules":[]}
        {"type":"CONFIGURE_ALERTS","calendar":"nyse","rules":[{"trigger":"COMPONENT_FAULT","class":"IGNORE_WHEN_CLOSED","owners":["ops-on-call","marketdata-owner"]}]}
        {"type":"PRODUCTION_LOCK"}
        {"type":"ENGAGE_KILL_SWITCH"}
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        {"type":"REGISTER_ARTIFACT","ref":"audit/readiness.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}
        @2026-03-02T13:30:00Z service:clock | per runbook
        {"type":"TICK"}
        {"type":"RECORD_READINESS","result":"NO_GO","evidence":"audit/readiness.json"}
        @2026-03-02T14:16:00Z service:clock | per runbook
        {"type":"RECORD_READINESS","result":"UNKNOWN","evidence":"audit/readiness.json"}
        @2026-03-02T14:31:00Z service:clock | per runbook
        {"type":"TICK"}
        {"type":"TICK"}
        QUERY {"type":"ALERTS","open_only":true}
        @2026-03-02T14:32:00Z human:alice | per runbook
        {"type":"RESOLVE_ALERT","alert":3}
        {"type":"ACKNOWLEDGE_ALERT","alert":3}
        {"type":"ACKNOWLEDGE_ALERT","alert":3}
        {"type":"ACKNOWLEDGE_ALERT","alert":99}
        {"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":60000}
        {"type":"RESOLVE_ALERT","alert":3}
        {"type":"RESOLVE_ALERT","alert":1}
        {"type":"CLEAR_NO_GO"}
        CONFIRM {"type":"CLEAR_NO_GO"}
        {"type":"RELEASE_KILL_SWITCH"}
        CONFIRM {"type":"RELEASE_KILL_SWITCH"}
        @2026-03-02T14:33:00Z human:bob | per runbook
        {"type":"PRODUCTION_UNLOCK"}
        CONFIRM {"type":"PRODUCTION_UNLOCK"}
        @2026-03-02T23:00:00Z service:clock | per runbook
        {"type":"TICK"}
        QUERY {"type":"ALERTS","open_only":true}
    "#
    ));
}

#[test]
fn cycle_intents_are_a_closed_set_a_human_defines() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"RECORD_CYCLE","intent":"BUY"}
        {"type":"RECORD_CYCLE","intent":"BUYY"}
        {"type":"DEFINE_INTENTS","intents":["HOLD","REBALANCE"]}
        {"type":"DEFINE_INTENTS","intents":["HOLD","STOP","HOLD"]}
        {"type":"DEFINE_INTENTS","intents":["REBALANCE","HOLD","STOP"]}
        {"type":"DEFINE_INTENTS","intents":["HOLD","REBALANCE","STOP"]}
        {"type":"RECORD_CYCLE","intent":"BUY"}
        {"type":"RECORD_CYCLE","intent":"REBALANCE"}
        @2026-03-02T14:31:00Z agent:bot | per runbook
        {"type":"DEFINE_INTENTS","intents":["BUY","STOP"]}
    "#
    ));
}

#[test]
fn online_ml_metrics_and_the_quarantine() {
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"learner","role":"operator"}
        {"type":"REGISTER_MODEL","metadata":{"version":"M-A-V1"}}
        {"type":"SET_CANDIDATE_MODEL","version":"M-A-V1"}
        @2026-03-02T14:31:00Z agent:learner | per runbook
        {"type":"REPORT_ML_METRICS","model":"M-A-V1","metrics":{"auc":"0.91","drift_psi":"1e-3","samples":1200}}
        {"type":"REPORT_ML_METRICS","model":"M-A-V1","metrics":{"auc":"0.9.1"}}
        {"type":"REPORT_ML_METRICS","model":"M-B-V1","metrics":{"auc":"0.5"}}
        {"type":"REPORT_ML_METRICS","model":"M-A-V1","metrics":{}}
        {"type":"QUARANTINE_EXPERIENCE","experience":"exp-0001","reason_code":"LABEL_LEAK","detail":"the label was visible in the features"}
        {"type":"QUARANTINE_EXPERIENCE","experience":"exp-0001","reason_code":"OTHER"}
        {"type":"QUARANTINE_EXPERIENCE","experience":"exp-0002","reason_code":"bad code"}
        {"type":"EMERGENCY_LOCKDOWN"}
        {"type":"QUARANTINE_EXPERIENCE","experience":"exp-0002","reason_code":"OUTLIER"}
        {"type":"REPORT_ML_METRICS","model":"M-A-V1","metrics":{"auc":"0.89"}}
        QUERY {"type":"HEARTBEAT"}
        QUERY {"type":"QUARANTINE"}
    "#
    ));
}

#[test]
fn deviations_act_a_failed_signature_halts_a_violation_pauses_until_a_human_resolves() {
    // A compliance failure (opened by a violating cycle itself) pauses production: cycles are
    // forced to STOP, nothing enables execution, the status stays observe-only. A halting
    // deviation (a failed signature's type) makes the status HALTED. Both hold until a human
    // resolves them.
    insta::assert_snapshot!(check(
        r#"
        @2026-03-02T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"DEFINE_JOB","definition":{"job_id":"trade","version":1}}
        @2026-03-02T14:31:00Z agent:bot | per runbook
        {"type":"RECORD_CYCLE","intent":"BUY","violation":true}
        {"type":"RECORD_CYCLE","intent":"BUY"}
        {"type":"REQUEST_RUN","job_id":"trade","intent":"manual","partition":"p-1"}
        QUERY {"type":"OPS_STATUS"}
        {"type":"RESOLVE_DEVIATION","deviation_id":"dev-000001","resolution":"rule fixed"}
        @2026-03-02T14:32:00Z human:alice | the rule was fixed and checked
        {"type":"RESOLVE_DEVIATION","deviation_id":"dev-000001","resolution":"rule fixed"}
        {"type":"RECORD_CYCLE","intent":"BUY"}
        {"type":"RECORD_DEVIATION","deviation_type":"signature_verification_failure","summary":"a signed step did not verify"}
        QUERY {"type":"OPS_STATUS"}
        {"type":"RECORD_CYCLE","intent":"BUY"}
        @2026-03-02T16:00:00Z human:alice | per runbook
        QUERY {"type":"DEVIATIONS","open_only":true}
        {"type":"FREEZE","version":{"major":1,"minor":0},"components":["orchestrator"]}
        {"type":"REQUEST_CHANGE","change_id":"cr-1","component":"orchestrator","description":"raise the cycle rate"}
        QUERY {"type":"CHANGE_CONTROL"}
    "#
    ));
}

#[test]
fn a_freeze_holds_a_frozen_component_changes_only_through_an_approved_change() {
    // Controlled (safety-reducing) commands map to a component, their resource or its kind:
    // frozen, they are refused unless an approved change request for it is applied with them.
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice | per runbook
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"rita","role":"reviewer"}
        {"type":"GRANT_ROLE","principal":"olga","role":"risk_owner"}
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":50000,"daily_budget_micros":100000,"daily_rate":4}}
        {"type":"FREEZE","version":{"major":1,"minor":0},"components":["limits","config"]}
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":90000,"daily_budget_micros":100000,"daily_rate":4}}
        {"type":"PUBLISH_CONFIG","config_name":"risk","config_version":"1.0.0","ref":"configs/risk-1.0.0.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}
        {"type":"REQUEST_CHANGE","change_id":"cr-1","component":"limits","description":"raise the per-unit ceiling"}
        @2026-01-05T15:00:00Z human:rita | per runbook
        {"type":"REVIEW_CHANGE","change_id":"cr-1"}
        @2026-01-05T15:10:00Z human:olga | per runbook
        {"type":"APPROVE_CHANGE","change_id":"cr-1"}
        @2026-01-05T15:20:00Z human:alice | per runbook
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":90000,"daily_budget_micros":100000,"daily_rate":4}}
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":99000,"daily_budget_micros":100000,"daily_rate":4}}
        QUERY {"type":"CHANGE_CONTROL"}
    "#
    ));
}
