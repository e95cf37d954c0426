//! Runs the sample bank decider end to end: commands in, a hash-chained journal out, a refusal
//! along the way, then verification, replay, and a snapshot round trip.
//!
//! `cargo run -p ro-core --features testing --example bank`
#![allow(clippy::print_stdout)] // an example's job is to print

use ro_core::{
    Context, Journal, Kernel, Timestamp,
    testing::{agent, bank::*, human},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bank: Kernel<Bank> = Kernel::new();
    let acc = AccountId::new("acc-1")?;
    let script = [
        (
            "2026-01-05T14:30:00Z",
            human("alice"),
            BankCommand::OpenAccount {
                account: acc.clone(),
            },
        ),
        (
            "2026-01-05T14:30:05Z",
            human("alice"),
            BankCommand::Deposit {
                account: acc.clone(),
                amount_micros: 5_000_000,
            },
        ),
        (
            "2026-01-05T14:31:00Z",
            agent("teller-bot"),
            BankCommand::Withdraw {
                account: acc.clone(),
                amount_micros: 7_000_000,
            },
        ),
        (
            "2026-01-05T14:31:00Z",
            agent("teller-bot"),
            BankCommand::Withdraw {
                account: acc.clone(),
                amount_micros: 2_000_000,
            },
        ),
    ];
    println!("commands:");
    for (at, actor, command) in script {
        let ctx = Context::new(Timestamp::parse_rfc3339(at)?, actor);
        match bank.execute(&command, &ctx) {
            Ok(envelopes) => {
                for e in envelopes {
                    println!("  {at} {} → seq {} {:?}", ctx.actor, e.seq, e.event);
                }
            }
            Err(e) => println!("  {at} {} → refused {}: {e}", ctx.actor, e.code()),
        }
    }

    let exported = bank.journal().export_jsonl()?;
    println!("\njournal (JSON lines, docs/journal-format.md):\n{exported}");

    let imported = Journal::import_jsonl(&exported)?;
    imported.verify()?;
    let replayed: Kernel<Bank> = Kernel::replay(imported)?;
    let snapshot = bank.snapshot()?;
    let (restored, how) = Kernel::<Bank>::restore(&snapshot, bank.journal().clone())?;

    let head = bank.head();
    println!("head seq      {}", head.seq);
    println!("head hash     {}", head.hash);
    println!("state digest  {}", bank.state_digest()?);
    println!("replayed      {}", replayed.state_digest()?);
    println!(
        "restored      {} ({how:?}, {} snapshot bytes)",
        restored.state_digest()?,
        snapshot.len()
    );
    print!("state:\n{}", bank.state());
    if replayed.state_digest()? != bank.state_digest()? || restored.state() != bank.state() {
        return Err("replay or restore disagreed with the live state".into());
    }
    println!("verified: the journal is intact and replays to the same state");
    Ok(())
}
