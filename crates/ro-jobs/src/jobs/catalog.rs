//! The catalog room: job definitions and pools, and pausing, draining and resuming a job.

use ro_core::{Context, EventMeta};

use super::*;
use crate::{JobId, schedule::Schedule};

impl Jobs {
    pub(super) fn decide_catalog(
        &self,
        command: &JobsCommand,
        ctx: &Context,
    ) -> Result<Vec<JobsEvent>, JobsRejection> {
        use JobsCommand as C;
        use JobsEvent as E;
        use JobsRejection as R;
        let job = |id: &JobId| self.jobs.get(id).ok_or_else(|| R::UnknownJob(id.clone()));
        match command {
            C::DefineJob { definition } => {
                let d = definition.as_ref();
                d.retry.validate().map_err(R::Invalid)?;
                if d.read_only && ctx.actor.kind != ro_core::ActorKind::Human {
                    return Err(R::Invalid(
                        "only a human declares a job read_only: its runs start under the \
                         production lock and the kill switch"
                            .into(),
                    ));
                }
                if d.max_concurrent == 0 || d.max_catch_up == 0 {
                    return Err(R::Invalid(
                        "max_concurrent and max_catch_up are at least 1".into(),
                    ));
                }
                if let Some(spec) = &d.schedule {
                    Schedule::new(spec.clone()).map_err(R::Schedule)?;
                }
                if let Some(c) = &d.calendar
                    && !self.calendars.contains_key(c)
                {
                    return Err(R::Invalid(format!("calendar {c} is not defined")));
                }
                if d.schedule.as_ref().is_some_and(|s| s.market_hours)
                    && d.calendar
                        .as_ref()
                        .and_then(|c| self.calendars.get(c))
                        .is_none_or(|c| c.session.is_none())
                {
                    return Err(R::Schedule(crate::ScheduleError::NoSession));
                }
                // A market-hours schedule whose times all fall outside the session would never
                // run: refused now rather than found silent later.
                if let (Some(spec), Some(c)) = (&d.schedule, &d.calendar)
                    && spec.market_hours
                {
                    let calendar = self.calendars.get(c);
                    Schedule::new(spec.clone())
                        .and_then(|s| s.next_after(ctx.at, calendar))
                        .map_err(R::Schedule)?;
                }
                if let Some(pool) = &d.pool
                    && !self.pools.contains_key(pool)
                {
                    return Err(R::Invalid(format!("pool {pool} is not defined")));
                }
                if let Some(existing) = self.jobs.get(&d.job_id) {
                    if &existing.definition == d {
                        return Ok(Vec::new());
                    }
                    if d.version <= existing.definition.version {
                        return Err(R::Invalid(format!(
                            "job {} is at version {}: a new definition needs a higher version",
                            d.job_id, existing.definition.version
                        )));
                    }
                }
                Ok(vec![E::JobDefined {
                    reason: ctx.reason.clone(),
                    definition: definition.clone(),
                    tzdb_version: crate::TZDB_VERSION.into(),
                }])
            }
            C::DefinePool { pool, max_running } => {
                if *max_running == 0 {
                    return Err(R::Invalid("max_running is at least 1".into()));
                }
                if self.pools.get(pool) == Some(max_running) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::PoolDefined {
                    reason: ctx.reason.clone(),
                    pool: pool.clone(),
                    max_running: *max_running,
                }])
            }
            C::PauseJob { job_id } => Ok(if job(job_id)?.paused {
                vec![]
            } else {
                vec![E::JobPaused {
                    job_id: job_id.clone(),
                    reason: ctx.reason.clone(),
                }]
            }),
            C::DrainJob { job_id } => Ok(if job(job_id)?.draining {
                vec![]
            } else {
                vec![E::JobDrained {
                    job_id: job_id.clone(),
                    reason: ctx.reason.clone(),
                }]
            }),
            C::ResumeJob { job_id } => {
                let j = job(job_id)?;
                Ok(if j.paused || j.draining {
                    vec![E::JobResumed {
                        job_id: job_id.clone(),
                        reason: ctx.reason.clone(),
                    }]
                } else {
                    vec![]
                })
            }
            _ => Err(misrouted()),
        }
    }

    pub(super) fn evolve_catalog(&mut self, event: &JobsEvent, meta: &EventMeta<'_>) {
        use JobsEvent as E;
        let at = meta.at;
        match event {
            E::JobDefined { definition, .. } => {
                let entry = self
                    .jobs
                    .entry(definition.job_id.clone())
                    .or_insert_with(|| JobEntry {
                        definition: definition.as_ref().clone(),
                        paused: false,
                        draining: false,
                        last_slot: None,
                        defined_at: at,
                        compiled: CompiledSchedule(None, None),
                        running: 0,
                    });
                // A redefinition replaces the schedule: its cached next slot leaves the due
                // index here, before the cache is reset (refresh_job only moves an entry it
                // can still see).
                let stale_slot = entry.compiled.1.take();
                if entry.definition.version != definition.version
                    && !entry.definition.config_versions.is_empty()
                {
                    self.past_pins
                        .entry(definition.job_id.clone())
                        .or_default()
                        .insert(
                            entry.definition.version,
                            entry.definition.config_versions.clone(),
                        );
                }
                entry.definition = definition.as_ref().clone();
                // Definitions are validated before they are recorded, so this compiles.
                entry.compiled = CompiledSchedule(
                    definition
                        .schedule
                        .clone()
                        .and_then(|s| Schedule::new(s).ok()),
                    None,
                );
                let job_id = definition.job_id.clone();
                if let Some(t) = stale_slot {
                    self.due.0.remove(&(t, job_id.clone()));
                }
                self.refresh_job(&job_id);
            }
            E::PoolDefined {
                pool, max_running, ..
            } => {
                self.pools.insert(pool.clone(), *max_running);
            }
            E::JobPaused { job_id, .. } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.paused = true;
                }
            }
            E::JobDrained { job_id, .. } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.draining = true;
                }
            }
            E::JobResumed { job_id, .. } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.paused = false;
                    j.draining = false;
                }
            }
            _ => {}
        }
    }
}
