//! Data-driven kernel cases: a script of commands → the events or rejection each produced,
//! snapshotted with insta (`cargo insta review` to accept a change).
//!
//! Script lines: `@TIME KIND:ID` sets the time and actor of the commands after it; any other
//! non-empty line is a bank command as JSON. Each command prints `→ seq N EVENT` per event or
//! `→ CODE: message`; the transcript ends with the head and the state digest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use ro_core::{
    Actor, ActorId, Context, Kernel, Timestamp,
    testing::{bank::*, check_replay},
};

fn check(script: &str) -> String {
    let mut kernel: Kernel<Bank> = Kernel::new();
    let mut ctx = Context::new(
        Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap(),
        Actor::human(ActorId::new("tester").unwrap()),
    );
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix('@') {
            let (at, who) = rest.split_once(' ').expect("@TIME KIND:ID");
            let (kind, id) = who.split_once(':').expect("KIND:ID");
            ctx.at = Timestamp::parse_rfc3339(at).unwrap();
            ctx.actor = Actor {
                id: ActorId::new(id).unwrap(),
                kind: serde_json::from_value(serde_json::Value::String(kind.into())).unwrap(),
            };
            continue;
        }
        out.push_str(line);
        out.push('\n');
        let command: BankCommand = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                out.push_str(&format!("  → BAD_COMMAND: {e}\n"));
                continue;
            }
        };
        match kernel.execute(&command, &ctx) {
            Ok(envelopes) => {
                for e in envelopes {
                    out.push_str(&format!(
                        "  → seq {} at {} by {} {}\n",
                        e.seq,
                        e.at,
                        e.actor,
                        serde_json::to_string(&e.event).unwrap()
                    ));
                }
            }
            Err(e) => out.push_str(&format!("  → {}: {e}\n", e.code())),
        }
    }
    let digest = check_replay(&kernel);
    let head = kernel.head();
    out.push_str(&format!(
        "head seq {} hash {}\nstate {digest}\n",
        head.seq, head.hash
    ));
    out
}

#[test]
fn open_deposit_withdraw() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T14:30:00Z human:alice
        {"type":"OPEN_ACCOUNT","account":"acc-1"}
        {"type":"DEPOSIT","account":"acc-1","amount_micros":700}
        @2026-01-05T14:31:00.5Z agent:teller-bot
        {"type":"WITHDRAW","account":"acc-1","amount_micros":200}
        "#
    ));
}

#[test]
fn refusals_append_nothing() {
    insta::assert_snapshot!(check(
        r#"
        {"type":"DEPOSIT","account":"nobody","amount_micros":1}
        {"type":"OPEN_ACCOUNT","account":"acc-1"}
        {"type":"OPEN_ACCOUNT","account":"acc-1"}
        {"type":"DEPOSIT","account":"acc-1","amount_micros":0}
        {"type":"WITHDRAW","account":"acc-1","amount_micros":1}
        {"type":"DEPOSIT","account":"acc-1","amount_micros":9007199254740991}
        {"type":"DEPOSIT","account":"acc-1","amount_micros":1}
        "#
    ));
}

#[test]
fn time_never_goes_backwards() {
    insta::assert_snapshot!(check(
        r#"
        @2026-01-05T15:00:00Z human:alice
        {"type":"OPEN_ACCOUNT","account":"acc-1"}
        @2026-01-05T14:59:59.999999999Z human:alice
        {"type":"DEPOSIT","account":"acc-1","amount_micros":5}
        @2026-01-05T15:00:00Z human:alice
        {"type":"DEPOSIT","account":"acc-1","amount_micros":5}
        "#
    ));
}

#[test]
fn malformed_commands_are_typed_errors() {
    insta::assert_snapshot!(check(
        r#"
        {"type":"OPEN_ACCOUNT","account":"acc 1"}
        {"type":"OPEN_ACCOUNT","acount":"acc-1"}
        {"type":"DEPOSIT","account":"acc-1","amount_micros":-5}
        {"type":"TRANSFER","account":"acc-1"}
        "#
    ));
}

/// The given/when/then kit, as downstream suites use it.
#[test]
fn given_when_then() {
    use ro_core::testing::{given, given_state};
    let acc = AccountId::new("acc-1").unwrap();
    given::<Bank>([BankEvent::AccountOpened {
        account: acc.clone(),
    }])
    .when(BankCommand::Deposit {
        account: acc.clone(),
        amount_micros: 5,
    })
    .then_events([BankEvent::MoneyDeposited {
        account: acc.clone(),
        amount_micros: 5,
    }])
    .then_state(|bank| bank.account(&acc).is_some_and(|a| a.balance_micros == 5));
    given::<Bank>([BankEvent::AccountOpened {
        account: acc.clone(),
    }])
    .when(BankCommand::Withdraw {
        account: acc.clone(),
        amount_micros: 1,
    })
    .then_rejected("INSUFFICIENT_FUNDS");
    given_state(Bank::default())
        .when(BankCommand::Deposit {
            account: acc.clone(),
            amount_micros: 5,
        })
        .then_rejected("UNKNOWN_ACCOUNT")
        .then_state(Bank::is_empty);
}
