//! The runs room: gates observed, run intents (scheduled, manual, backfill, catch-up), skipped
//! slots and cancellation.

use ro_core::{Context, EventMeta};

use super::*;
use crate::{
    Attempt, AttemptStatus, Intent, JobId, LogicalKey, Run, RunId, RunStatus, run_id,
    schedule::Schedule,
};

impl Jobs {
    pub(super) fn decide_runs(
        &self,
        command: &JobsCommand,
        ctx: &Context,
    ) -> Result<Vec<JobsEvent>, JobsRejection> {
        use JobsCommand as C;
        use JobsEvent as E;
        use JobsRejection as R;
        let job = |id: &JobId| self.jobs.get(id).ok_or_else(|| R::UnknownJob(id.clone()));
        let run = |id: &RunId| self.run(id).ok_or_else(|| R::UnknownRun(id.clone()));
        match command {
            C::ObserveGate { locator, status } => {
                if locator.is_empty() || locator.len() > 1024 {
                    return Err(R::Invalid("ref is 1 to 1024 bytes".into()));
                }
                if self.gates.get(locator) == Some(status) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::GateObserved {
                    locator: locator.clone(),
                    status: *status,
                }])
            }
            C::RequestRun {
                job_id,
                intent,
                logical_time,
                partition,
            } => {
                let j = job(job_id)?;
                let logical = match (logical_time, partition) {
                    (Some(_), Some(_)) => {
                        return Err(R::Invalid(
                            "give logical_time or partition, not both".into(),
                        ));
                    }
                    (None, Some(p)) if p.is_empty() || p.len() > 256 => {
                        return Err(R::Invalid("partition is 1 to 256 bytes".into()));
                    }
                    (None, Some(p)) => LogicalKey::Partition(p.clone()),
                    (Some(t), None) => LogicalKey::Time(*t),
                    (None, None) => LogicalKey::Time(ctx.at),
                };
                let id = run_id(job_id, &logical, *intent);
                if self.run(&id).is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RunRequested {
                    reason: ctx.reason.clone(),
                    run_id: id,
                    job_id: job_id.clone(),
                    job_version: j.definition.version,
                    intent: *intent,
                    logical,
                }])
            }
            C::SkipSlot {
                job_id,
                logical_time,
                reason,
            } => {
                job(job_id)?;
                if !matches!(reason.as_str(), "overlap" | "catch_up_limit") {
                    return Err(R::Invalid("reason is overlap or catch_up_limit".into()));
                }
                Ok(vec![E::SlotSkipped {
                    job_id: job_id.clone(),
                    logical_time: *logical_time,
                    reason: reason.clone(),
                }])
            }
            C::Backfill {
                job_id,
                from,
                to,
                max_runs,
            } => {
                let j = job(job_id)?;
                let spec = j.definition.schedule.clone().ok_or_else(|| {
                    R::Invalid(format!("job {job_id} has no schedule to backfill"))
                })?;
                if *max_runs == 0 || *max_runs > MAX_BACKFILL {
                    return Err(R::Invalid(format!("max_runs is 1 to {MAX_BACKFILL}")));
                }
                if from >= to {
                    return Err(R::Invalid("from is before to".into()));
                }
                let schedule = Schedule::new(spec).map_err(R::Schedule)?;
                let start = from
                    .checked_sub(time::Duration::nanoseconds(1))
                    .unwrap_or(*from);
                let mut slots = Vec::new();
                let mut at = start;
                while let Ok(next) = schedule.next_after(
                    at,
                    j.definition
                        .calendar
                        .as_ref()
                        .and_then(|c| self.calendars.get(c)),
                ) {
                    if next >= *to {
                        break;
                    }
                    slots.push(next);
                    if slots.len() > usize::try_from(*max_runs).unwrap_or(usize::MAX) {
                        return Err(R::BackfillTooLarge(*max_runs));
                    }
                    at = next;
                }
                Ok(slots
                    .into_iter()
                    .map(|t| (run_id(job_id, &LogicalKey::Time(t), Intent::Backfill), t))
                    .filter(|(id, _)| self.run(id).is_none())
                    .map(|(id, t)| E::RunRequested {
                        reason: ctx.reason.clone(),
                        run_id: id,
                        job_id: job_id.clone(),
                        job_version: j.definition.version,
                        intent: Intent::Backfill,
                        logical: LogicalKey::Time(t),
                    })
                    .collect())
            }
            C::CancelRun { run_id } => {
                let r = run(run_id)?;
                if r.status.is_terminal() {
                    return Err(R::RunState {
                        run_id: run_id.clone(),
                        status: r.status.name(),
                        needed: "only an open run is cancelled",
                    });
                }
                Ok(vec![E::RunCancelled {
                    run_id: run_id.clone(),
                    reason: ctx.reason.clone(),
                }])
            }
            _ => Err(misrouted()),
        }
    }

    pub(super) fn evolve_runs(&mut self, event: &JobsEvent, meta: &EventMeta<'_>) {
        use JobsEvent as E;
        let at = meta.at;
        match event {
            E::GateObserved { locator, status } => {
                self.gates.insert(locator.clone(), *status);
            }
            E::RunRequested {
                run_id,
                job_id,
                job_version,
                intent,
                logical,
                ..
            } => {
                if let (Intent::Scheduled, LogicalKey::Time(t), Some(j)) =
                    (intent, logical, self.jobs.get_mut(job_id))
                {
                    j.last_slot = Some(j.last_slot.map_or(*t, |l| l.max(*t)));
                    self.refresh_job(job_id);
                }
                let attempt = Attempt {
                    number: 1,
                    status: AttemptStatus::Queued,
                    created_at_utc: at,
                    updated_at_utc: at,
                    not_before: at,
                    started_at: None,
                    last_heartbeat_at: None,
                    error_code: None,
                    process: None,
                    retryable: None,
                };
                self.open.insert(
                    run_id.clone(),
                    Run {
                        job_id: job_id.clone(),
                        job_version: *job_version,
                        intent: *intent,
                        logical: logical.clone(),
                        status: RunStatus::Queued,
                        attempts: vec![attempt],
                    },
                );
            }
            E::SlotSkipped {
                job_id,
                logical_time,
                ..
            } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.last_slot = Some(j.last_slot.map_or(*logical_time, |l| l.max(*logical_time)));
                    self.refresh_job(job_id);
                }
            }
            E::RunCancelled { run_id, .. } => {
                let running = self
                    .open
                    .get(run_id)
                    .and_then(|r| r.attempts.last())
                    .is_some_and(|a| !a.status.is_terminal());
                if running {
                    self.end_attempt(run_id, AttemptStatus::Cancelled, None, None, at);
                }
                self.close_run(run_id, RunStatus::Cancelled);
            }
            _ => {}
        }
    }
}
