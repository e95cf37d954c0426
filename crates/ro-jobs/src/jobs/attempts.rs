//! The attempts room: attempts started, heartbeats, completions, retries with backoff and
//! jitter, and the timeouts a clock tick finds.

use ro_core::{Context, EventMeta};

use super::*;
use crate::{Attempt, AttemptStatus, Run, RunId, RunStatus};

impl Jobs {
    pub(super) fn decide_attempts(
        &self,
        command: &JobsCommand,
        ctx: &Context,
    ) -> Result<Vec<JobsEvent>, JobsRejection> {
        use JobsCommand as C;
        use JobsEvent as E;
        use JobsRejection as R;
        let run = |id: &RunId| self.run(id).ok_or_else(|| R::UnknownRun(id.clone()));
        match command {
            C::StartAttempt { run_id } => {
                let number = self.can_start(run_id, ctx.at)?;
                Ok(vec![E::AttemptStarted {
                    run_id: run_id.clone(),
                    number,
                }])
            }
            C::Heartbeat { run_id } => {
                let r = run(run_id)?;
                match r.attempts.last() {
                    Some(a) if a.status == AttemptStatus::Running => {
                        Ok(vec![E::AttemptHeartbeat {
                            run_id: run_id.clone(),
                            number: a.number,
                        }])
                    }
                    _ => Err(R::RunState {
                        run_id: run_id.clone(),
                        status: r.status.name(),
                        needed: "only a running attempt heartbeats",
                    }),
                }
            }
            C::CompleteAttempt {
                run_id,
                outcome,
                error_code,
                retryable,
                process,
            } => {
                let r = run(run_id)?;
                let process = process.as_deref().cloned();
                if let Some(p) = &process
                    && *outcome == OutcomeKind::Succeeded
                    && p.exit_code != 0
                {
                    return Err(R::Invalid(format!(
                        "a success exits 0, this process exited {}: report it as failed",
                        p.exit_code
                    )));
                }
                let Some(a) = r
                    .attempts
                    .last()
                    .filter(|a| a.status == AttemptStatus::Running)
                else {
                    return Err(R::RunState {
                        run_id: run_id.clone(),
                        status: r.status.name(),
                        needed: "only a running attempt completes",
                    });
                };
                match (outcome, error_code, retryable) {
                    (OutcomeKind::Succeeded, None, None) => Ok(vec![E::AttemptSucceeded {
                        run_id: run_id.clone(),
                        number: a.number,
                        process,
                    }]),
                    (OutcomeKind::Succeeded, _, _) => Err(R::Invalid(
                        "a success carries no error_code or retryable".into(),
                    )),
                    (OutcomeKind::Failed, None, _) | (OutcomeKind::Failed, _, None) => Err(
                        R::Invalid("a failure carries error_code and retryable".into()),
                    ),
                    (OutcomeKind::Failed, Some(error_code), Some(retryable)) => {
                        if error_code.is_empty() || error_code.len() > 128 {
                            return Err(R::Invalid("error_code is 1 to 128 bytes".into()));
                        }
                        Ok(vec![
                            E::AttemptFailed {
                                run_id: run_id.clone(),
                                number: a.number,
                                error_code: error_code.clone(),
                                process,
                                retryable: *retryable,
                            },
                            self.after_failure(run_id, r, a.number, error_code, *retryable, ctx.at),
                        ])
                    }
                }
            }
            C::Tick {} => {
                let mut events = Vec::new();
                let open: Vec<(&RunId, &Run)> = self.open_runs().collect();
                for (id, number, kind) in self.timeouts_due(&open, ctx.at) {
                    if let Some(r) = self.run(id) {
                        events.push(E::AttemptTimedOut {
                            run_id: id.clone(),
                            number,
                            kind,
                        });
                        events.push(self.after_failure(id, r, number, kind.code(), true, ctx.at));
                    }
                }
                Ok(events)
            }
            _ => Err(misrouted()),
        }
    }

    pub(super) fn evolve_attempts(&mut self, event: &JobsEvent, meta: &EventMeta<'_>) {
        use JobsEvent as E;
        let at = meta.at;
        match event {
            E::AttemptStarted { run_id, .. } => {
                let pool = self
                    .open
                    .get(run_id)
                    .and_then(|r| self.jobs.get(&r.job_id))
                    .and_then(|j| j.definition.pool.clone());
                if let Some(r) = self.open.get_mut(run_id) {
                    r.status = RunStatus::Running;
                    if let Some(a) = r.attempts.last_mut() {
                        a.status = AttemptStatus::Running;
                        a.started_at = Some(at);
                        a.updated_at_utc = at;
                    }
                    if let Some(j) = self.jobs.get_mut(&r.job_id) {
                        j.running = j.running.saturating_add(1);
                    }
                    if let Some(pool) = pool {
                        *self.running_by_pool.entry(pool).or_insert(0) += 1;
                    }
                }
            }
            E::AttemptHeartbeat { run_id, .. } => {
                if let Some(a) = self
                    .open
                    .get_mut(run_id)
                    .and_then(|r| r.attempts.last_mut())
                {
                    a.last_heartbeat_at = Some(at);
                    a.updated_at_utc = at;
                }
            }
            E::AttemptSucceeded {
                run_id, process, ..
            } => {
                self.end_attempt(run_id, AttemptStatus::Succeeded, None, None, at);
                self.record_process(run_id, process);
                self.close_run(run_id, RunStatus::Succeeded);
            }
            E::AttemptFailed {
                run_id,
                error_code,
                retryable,
                process,
                ..
            } => {
                self.end_attempt(
                    run_id,
                    AttemptStatus::Failed,
                    Some(error_code.clone()),
                    Some(*retryable),
                    at,
                );
                self.record_process(run_id, process);
            }
            E::AttemptTimedOut { run_id, kind, .. } => {
                self.end_attempt(
                    run_id,
                    AttemptStatus::TimedOut,
                    Some(kind.code().into()),
                    Some(true),
                    at,
                );
            }
            E::RetryScheduled {
                run_id,
                number,
                not_before,
            } => {
                if let Some(r) = self.open.get_mut(run_id) {
                    r.status = RunStatus::Queued;
                    r.attempts.push(Attempt {
                        number: *number,
                        status: AttemptStatus::Queued,
                        created_at_utc: at,
                        updated_at_utc: at,
                        not_before: *not_before,
                        started_at: None,
                        last_heartbeat_at: None,
                        error_code: None,
                        process: None,
                        retryable: None,
                    });
                }
            }
            E::RunFailed { run_id, .. } => self.close_run(run_id, RunStatus::Failed),
            _ => {}
        }
    }
}
