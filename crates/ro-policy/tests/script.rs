//! Data-driven policy cases: a script of commands → the events or rejection each produced,
//! snapshotted with insta (`cargo insta review` to accept a change).
//!
//! Script lines:
//! - `@TIME KIND:ID` or `@TIME KIND:ID | reason` sets the time, actor and reason of the
//!   commands after it;
//! - `REPORT YYYY-MM-DD` prints the daily cost report for that day;
//! - any other non-empty line is a policy command as JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use ro_core::{
    Actor, ActorId, Context, Kernel, Timestamp,
    testing::{check_replay, script},
};
use ro_policy::{Day, Policy, PolicyCommand};

fn check(script: &str) -> String {
    let mut kernel: Kernel<Policy> = Kernel::new();
    let mut ctx = Context::new(
        Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap(),
        Actor::human(ActorId::new("root").unwrap()),
    );
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if script::context_line(line, &mut ctx) {
            continue;
        }
        if let Some(day) = line.strip_prefix("REPORT ") {
            let report = kernel.state().cost_report(Day::parse(day).unwrap());
            out.push_str(&format!(
                "{line}\n{}\n",
                serde_json::to_string_pretty(&report).unwrap()
            ));
            continue;
        }
        out.push_str(&format!("{} {line}\n", ctx.actor));
        let command: PolicyCommand = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                out.push_str(&format!("  → BAD_COMMAND: {e}\n"));
                continue;
            }
        };
        out.push_str(&script::run(&mut kernel, &ctx, &command, "  "));
    }
    let digest = check_replay(&kernel);
    out.push_str(&format!("state {digest}\n"));
    out
}

#[test]
fn bootstrap_grants_and_human_only() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z agent:bot
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"bob","role":"admin"}
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"GRANT_ROLE","principal":"carol","role":"analyst"}
        {"type":"GRANT_ROLE","principal":"carol","role":"superuser"}
        @2026-01-05T14:31:00Z agent:bot
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        {"type":"RECORD_DEVIATION","deviation_type":"compliance_failure","summary":"a check failed"}
        @2026-01-05T14:32:00Z human:carol
        {"type":"FREEZE","version":{"major":1,"minor":0},"components":["orchestrator"]}
        @2026-01-05T14:33:00Z human:alice | carol moved teams
        {"type":"REVOKE_ROLE","principal":"carol","role":"analyst"}
        {"type":"REVOKE_ROLE","principal":"carol","role":"analyst"}
    "#
    ));
}

#[test]
fn principals_are_registered_once_and_act_with_their_kind() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"bot","role":"admin"}
        {"type":"REGISTER_PRINCIPAL","principal":"alice","kind":"human"}
        {"type":"REGISTER_PRINCIPAL","principal":"bot","kind":"agent"}
        {"type":"REGISTER_PRINCIPAL","principal":"bot","kind":"agent"}
        {"type":"REGISTER_PRINCIPAL","principal":"bot","kind":"human"}
        {"type":"SET_PRINCIPAL_KIND","principal":"carol","kind":"human"}
        @2026-01-05T14:31:00Z human:bot
        {"type":"GRANT_ROLE","principal":"bot","role":"operator"}
        {"type":"TICK"}
        @2026-01-05T14:31:00Z agent:bot
        {"type":"TICK"}
        {"type":"SET_PRINCIPAL_KIND","principal":"bot","kind":"human"}
        @2026-01-05T14:32:00Z human:mallory
        {"type":"TICK"}
        @2026-01-05T14:33:00Z human:alice | bot now runs as a scheduler
        {"type":"SET_PRINCIPAL_KIND","principal":"bot","kind":"service"}
        @2026-01-05T14:34:00Z agent:bot
        {"type":"TICK"}
        @2026-01-05T14:34:00Z service:bot
        {"type":"TICK"}
    "#
    ));
}

#[test]
fn roles_rules_and_forbid_wins() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"DEFINE_ROLE","role":"admin","permissions":["TICK"]}
        {"type":"DEFINE_ROLE","role":"auditor","permissions":["READ_ARTIFACT","SUBSCRIBE_STREAM"]}
        {"type":"GRANT_ROLE","principal":"dave","role":"auditor"}
        {"type":"ADD_RULE","rule":{"id":"dave-may-tick","effect":"permit","principal":{"actor":"dave"},"actions":["TICK"]}}
        {"type":"ADD_RULE","rule":{"id":"no-agent-ticks","effect":"forbid","principal":{"kind":"agent"},"actions":["TICK"]}}
        {"type":"ADD_RULE","rule":{"id":"no-prod-reads","effect":"forbid","principal":{"role":"auditor"},"actions":["READ_ARTIFACT"],"resource_prefix":"artifact:prod/"}}
        {"type":"ADD_RULE","rule":{"id":"empty","effect":"permit","principal":"any","actions":[]}}
        {"type":"ADD_RULE","rule":{"id":"typo","effect":"permit","principal":"any","actions":["TICK"],"resource":"x"}}
        @2026-01-05T14:31:00Z human:dave
        {"type":"TICK"}
        @2026-01-05T14:31:00Z agent:dave
        {"type":"TICK"}
        @2026-01-05T14:32:00Z human:alice
        {"type":"REMOVE_RULE","rule_id":"no-agent-ticks"}
        {"type":"REMOVE_RULE","rule_id":"no-agent-ticks"}
        @2026-01-05T14:33:00Z agent:dave
        {"type":"TICK"}
    "#
    ));
}

#[test]
fn separation_of_duties() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"DEFINE_ROLE","role":"locker","permissions":["APPROVE_CHANGE"]}
        {"type":"DEFINE_ROLE","role":"launcher","permissions":["DEPLOY"]}
        {"type":"DEFINE_EXCLUSIVE_ROLES","constraint":"analyst-locker-launcher","roles":["analyst","locker","launcher"]}
        {"type":"DEFINE_EXCLUSIVE_ROLES","constraint":"solo","roles":["analyst"]}
        {"type":"GRANT_ROLE","principal":"erin","role":"analyst","subject":"story-2"}
        {"type":"GRANT_ROLE","principal":"erin","role":"locker","subject":"story-2"}
        {"type":"GRANT_ROLE","principal":"erin","role":"locker","subject":"story-3"}
        {"type":"GRANT_ROLE","principal":"erin","role":"launcher"}
        {"type":"GRANT_ROLE","principal":"frank","role":"launcher"}
        {"type":"GRANT_ROLE","principal":"frank","role":"reviewer"}
    "#
    ));
}

#[test]
fn freeze_and_change_requests() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"rita","role":"reviewer"}
        {"type":"GRANT_ROLE","principal":"olga","role":"risk_owner"}
        {"type":"FREEZE","version":{"major":1,"minor":0},"components":["orchestrator","cost-guard"]}
        {"type":"FREEZE","version":{"major":2,"minor":0},"components":["signer"]}
        {"type":"FREEZE","version":{"major":1,"minor":0},"components":["orchestrator","signer"]}
        {"type":"REQUEST_CHANGE","change_id":"cr-1","component":"reports","description":"tweak"}
        {"type":"REQUEST_CHANGE","change_id":"cr-1","component":"cost-guard","description":"raise the timeout"}
        {"type":"REQUEST_CHANGE","change_id":"cr-1","component":"signer","description":"again"}
        {"type":"APPROVE_CHANGE","change_id":"cr-1"}
        {"type":"REVIEW_CHANGE","change_id":"cr-1"}
        @2026-01-05T15:00:00Z human:rita
        {"type":"REVIEW_CHANGE","change_id":"cr-1"}
        {"type":"APPROVE_CHANGE","change_id":"cr-1"}
        @2026-01-05T15:10:00Z human:olga
        {"type":"APPROVE_CHANGE","change_id":"cr-1"}
        {"type":"APPLY_CHANGE","change_id":"cr-1"}
        @2026-01-05T15:20:00Z human:alice
        {"type":"APPLY_CHANGE","change_id":"cr-1"}
        {"type":"APPLY_CHANGE","change_id":"cr-1"}
        {"type":"REQUEST_CHANGE","change_id":"cr-2","component":"signer","description":"new key format","breaking":true}
        @2026-01-05T15:30:00Z human:rita
        {"type":"REVIEW_CHANGE","change_id":"cr-2"}
        @2026-01-05T15:31:00Z human:olga
        {"type":"APPROVE_CHANGE","change_id":"cr-2"}
        @2026-01-05T15:32:00Z human:alice
        {"type":"APPLY_CHANGE","change_id":"cr-2"}
        {"type":"REJECT_CHANGE","change_id":"cr-2"}
    "#
    ));
}

#[test]
fn configs_and_secrets() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"PUBLISH_CONFIG","config_name":"thresholds","config_version":"7","digest":"blake3:1111111111111111111111111111111111111111111111111111111111111111","ref":"configs/thresholds/7.json"}
        {"type":"PUBLISH_CONFIG","config_name":"thresholds","config_version":"7","digest":"blake3:1111111111111111111111111111111111111111111111111111111111111111","ref":"configs/thresholds/7.json"}
        {"type":"PUBLISH_CONFIG","config_name":"thresholds","config_version":"7","digest":"blake3:2222222222222222222222222222222222222222222222222222222222222222"}
        {"type":"PUBLISH_CONFIG","config_name":"thresholds","config_version":"7","digest":"blake3:NOTHEX"}
        {"type":"REGISTER_SECRET","name":"db-password","version":"v1","fingerprint":"blake3:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
        {"type":"REGISTER_SECRET","name":"db-password","version":"v2","fingerprint":"blake3:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
        {"type":"ROTATE_SECRET","name":"db-password","version":"v2","fingerprint":"blake3:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
        @2026-01-05T14:40:00Z human:alice | quarterly rotation
        {"type":"ROTATE_SECRET","name":"db-password","version":"v2","fingerprint":"blake3:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
        {"type":"ROTATE_SECRET","name":"db-password","version":"v1","fingerprint":"blake3:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}
        {"type":"ROTATE_SECRET","name":"db-password","version":"v3","fingerprint":"blake3:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
        {"type":"ROTATE_SECRET","name":"api-key","version":"v1","fingerprint":"blake3:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}
    "#
    ));
}

#[test]
fn economic_limits_alerts_breaches_and_report() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"runner","role":"operator"}
        @2026-01-05T14:31:00Z service:runner
        {"type":"RECORD_COST","unit_id":"u-0","cost_micros":1000}
        @2026-01-05T14:32:00Z human:alice
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":50000,"daily_budget_micros":100000,"daily_rate":4}}
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":0,"daily_budget_micros":1,"daily_rate":1}}
        {"type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":1,"daily_budget_micros":1,"daily_rate":1,"ceiling_alert_bp":10001}}
        @2026-01-05T15:00:00Z service:runner
        {"type":"RECORD_COST","unit_id":"u-1","cost_micros":30000}
        {"type":"RECORD_COST","unit_id":"u-2","cost_micros":46000}
        {"type":"RECORD_COST","unit_id":"u-3","cost_micros":47000}
        {"type":"RECORD_COST","unit_id":"u-4","cost_micros":50001}
        {"type":"RECORD_COST","unit_id":"u-5","cost_micros":20000}
        {"type":"RECORD_COST","unit_id":"u-6","cost_micros":1000}
        {"type":"RECORD_COST","unit_id":"u-7","cost_micros":1000}
        REPORT 2026-01-05
        @2026-01-06T00:00:00Z service:runner
        {"type":"RECORD_COST","unit_id":"u-8","cost_micros":1000}
        REPORT 2026-01-06
    "#
    ));
}

#[test]
fn deviation_slas_escalate_once() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"GRANT_ROLE","principal":"alice","role":"admin"}
        {"type":"GRANT_ROLE","principal":"watcher","role":"operator"}
        {"type":"RECORD_DEVIATION","deviation_type":"signature_verification_failure","detected_at":"2026-01-05T14:00:00Z","summary":"step 3 signature did not verify"}
        {"type":"RECORD_DEVIATION","deviation_type":"determinism_threshold_failure","summary":"94.1% over the last 100 cycles"}
        {"type":"RECORD_DEVIATION","deviation_type":"no_such_type","summary":"x"}
        {"type":"RECORD_DEVIATION","deviation_type":"compliance_failure","detected_at":"2026-01-05T15:00:00Z","summary":"from the future"}
        {"type":"DEFINE_DEVIATION_TYPE","deviation_type":"stale_marketdata","severity":"high","sla_seconds":900,"action":"halt"}
        {"type":"DEFINE_DEVIATION_TYPE","deviation_type":"stale_marketdata","severity":"high","sla_seconds":10,"action":"halt"}
        @2026-01-05T14:59:59Z service:watcher
        {"type":"TICK"}
        {"type":"UPDATE_DEVIATION","deviation_id":"dev-000001","note":"investigating the signer"}
        @2026-01-05T15:00:00Z service:watcher
        {"type":"TICK"}
        {"type":"TICK"}
        @2026-01-05T15:05:00Z human:alice
        {"type":"RESOLVE_DEVIATION","deviation_id":"dev-000001","resolution":"key rotated; replayed cycle verifies"}
        {"type":"RESOLVE_DEVIATION","deviation_id":"dev-000001","resolution":"again"}
        {"type":"UPDATE_DEVIATION","deviation_id":"dev-000001","note":"late"}
        @2026-01-06T14:30:00Z service:watcher
        {"type":"TICK"}
        @2026-01-06T14:31:00Z agent:watcher
        {"type":"RESOLVE_DEVIATION","deviation_id":"dev-000002","resolution":"fine"}
    "#
    ));
}
