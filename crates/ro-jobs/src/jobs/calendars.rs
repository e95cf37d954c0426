//! The calendars room: trading calendars defined and their dates overridden.

use ro_core::{Context, EventMeta};

use super::*;
use crate::calendar::Override;

impl Jobs {
    pub(super) fn decide_calendars(
        &self,
        command: &JobsCommand,
        ctx: &Context,
    ) -> Result<Vec<JobsEvent>, JobsRejection> {
        use JobsCommand as C;
        use JobsEvent as E;
        use JobsRejection as R;
        match command {
            C::DefineCalendar { calendar } => {
                if let Some(existing) = self.calendars.get(&calendar.name) {
                    if existing == &***calendar {
                        return Ok(Vec::new());
                    }
                    if calendar.version <= existing.version {
                        return Err(R::Invalid(format!(
                            "calendar {} is at version {}: a new definition needs a higher version",
                            calendar.name, existing.version
                        )));
                    }
                }
                Ok(vec![E::CalendarDefined {
                    reason: ctx.reason.clone(),
                    calendar: Box::new((***calendar).clone()),
                    tzdb_version: crate::TZDB_VERSION.into(),
                }])
            }
            C::OverrideCalendarDate { name, date, change } => {
                let c = self
                    .calendars
                    .get(name)
                    .ok_or_else(|| R::Invalid(format!("calendar {name} is not defined")))?;
                if let Some(Override::EarlyClose { hour, minute }) = change
                    && (*hour > 23 || *minute > 59)
                {
                    return Err(R::Invalid("an early close is HH:MM within the day".into()));
                }
                let before = c.overrides.get(date).copied();
                if before == *change {
                    return Ok(Vec::new());
                }
                Ok(vec![E::CalendarOverridden {
                    name: name.clone(),
                    date: *date,
                    before,
                    after: *change,
                    version: c.version.saturating_add(1),
                    reason: ctx.reason.clone(),
                }])
            }
            _ => Err(misrouted()),
        }
    }

    pub(super) fn evolve_calendars(&mut self, event: &JobsEvent, _meta: &EventMeta<'_>) {
        use JobsEvent as E;
        match event {
            E::CalendarDefined { calendar, .. } => {
                self.calendars
                    .insert(calendar.name.clone(), calendar.as_ref().clone());
                self.refresh_calendar_jobs(&calendar.name);
            }
            E::CalendarOverridden {
                name,
                date,
                after,
                version,
                ..
            } => {
                if let Some(c) = self.calendars.get_mut(name) {
                    match after {
                        Some(o) => {
                            c.overrides.insert(*date, *o);
                        }
                        None => {
                            c.overrides.remove(date);
                        }
                    }
                    c.version = *version;
                }
                self.refresh_calendar_jobs(name);
            }
            _ => {}
        }
    }
}
