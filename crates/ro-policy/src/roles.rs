//! The roles room: roles and their permissions, grants (with exclusive-role constraints) and
//! permit and forbid rules. The decision itself is [`crate::authz`]'s.

use ro_core::{ActorKind, Context, EventMeta};

use crate::{
    Action, ActionSet, DecisionReason, Policy, PolicyCommand, PolicyEvent, PolicyRejection,
    PrincipalMatch, check_text,
};

impl Policy {
    pub(crate) fn decide_roles(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
        bootstrap: bool,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        use PolicyRejection as R;
        let reason = ctx.reason.clone();
        match command {
            C::GrantRole {
                principal,
                role,
                subject,
            } => {
                if !self.access.roles().contains_key(role) {
                    return Err(R::UnknownRole(role.clone()));
                }
                if self.access.holds(principal, role, subject.as_ref())
                    && self
                        .access
                        .grants()
                        .get(principal)
                        .is_some_and(|g| g.iter().any(|g| &g.role == role && &g.subject == subject))
                {
                    return Ok(Vec::new());
                }
                if let Some(constraint) =
                    self.access
                        .exclusive_violation(principal, role, subject.as_ref())
                {
                    return Err(R::SeparationOfDuties(format!(
                        "{constraint}: {principal} would hold two of its roles{}",
                        subject
                            .as_ref()
                            .map(|s| format!(" for {s}"))
                            .unwrap_or_default()
                    )));
                }
                Ok(vec![E::RoleGranted {
                    principal: principal.clone(),
                    role: role.clone(),
                    subject: subject.clone(),
                    bootstrap,
                    reason,
                }])
            }
            C::RevokeRole {
                principal,
                role,
                subject,
            } => {
                let held =
                    self.access.grants().get(principal).is_some_and(|g| {
                        g.iter().any(|g| &g.role == role && &g.subject == subject)
                    });
                if !held {
                    return Err(R::NotGranted {
                        principal: principal.clone(),
                        role: role.clone(),
                    });
                }
                Ok(vec![E::RoleRevoked {
                    principal: principal.clone(),
                    role: role.clone(),
                    subject: subject.clone(),
                    reason,
                }])
            }
            C::RegisterPrincipal { principal, kind } => {
                match self.access.principals().get(principal) {
                    Some(registered) if registered == kind => Ok(Vec::new()),
                    Some(registered) => Err(R::Invalid(format!(
                        "{principal} is registered as {registered}; a principal is registered \
                         once, and its kind changes only with SET_PRINCIPAL_KIND"
                    ))),
                    None => Ok(vec![E::PrincipalKindSet {
                        principal: principal.clone(),
                        before: None,
                        after: *kind,
                        reason,
                    }]),
                }
            }
            C::SetPrincipalKind { principal, kind } => {
                match self.access.principals().get(principal) {
                    None => Err(R::Invalid(format!(
                        "{principal} is not registered: REGISTER_PRINCIPAL first"
                    ))),
                    Some(registered) if registered == kind => Ok(Vec::new()),
                    Some(registered) => Ok(vec![E::PrincipalKindSet {
                        principal: principal.clone(),
                        before: Some(*registered),
                        after: *kind,
                        reason,
                    }]),
                }
            }
            C::DefineRole { role, permissions } => {
                if crate::authz::builtin_roles().contains_key(role.as_str()) {
                    return Err(R::BuiltinRole(role.clone()));
                }
                let before = self.access.roles().get(role).copied();
                if before == Some(*permissions) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RoleDefined {
                    role: role.clone(),
                    before,
                    after: *permissions,
                    reason,
                }])
            }
            C::AddRule { rule } => {
                if self.access.rules().contains_key(&rule.id) {
                    return Err(R::Rule(rule.id.clone(), "already exists"));
                }
                if rule.actions == ActionSet::EMPTY {
                    return Err(R::Invalid("a rule names at least one action".into()));
                }
                if let Some(prefix) = &rule.resource_prefix {
                    check_text("resource_prefix", prefix)?;
                }
                if let PrincipalMatch::Role(role) = &rule.principal
                    && !self.access.roles().contains_key(role)
                {
                    return Err(R::UnknownRole(role.clone()));
                }
                Ok(vec![E::RuleAdded {
                    rule: rule.clone(),
                    reason,
                }])
            }
            C::RemoveRule { rule_id } => match self.access.rules().get(rule_id) {
                Some(rule) => Ok(vec![E::RuleRemoved {
                    rule: rule.clone(),
                    reason,
                }]),
                None => Err(R::Rule(rule_id.clone(), "does not exist")),
            },
            C::DefineExclusiveRoles { constraint, roles } => {
                if self.access.exclusive().contains_key(constraint) {
                    return Err(R::ConstraintExists(constraint.clone()));
                }
                if roles.len() < 2 {
                    return Err(R::Invalid(
                        "an exclusive-roles constraint names at least two roles".into(),
                    ));
                }
                if let Some(role) = roles.iter().find(|r| !self.access.roles().contains_key(*r)) {
                    return Err(R::UnknownRole(role.clone()));
                }
                // Refuse a constraint the current grants already break: it could never hold.
                for (principal, grants) in self.access.grants() {
                    for (i, a) in grants.iter().enumerate() {
                        for b in grants.iter().skip(i + 1) {
                            let same_scope = a.subject.is_none()
                                || b.subject.is_none()
                                || a.subject == b.subject;
                            if a.role != b.role
                                && roles.contains(&a.role)
                                && roles.contains(&b.role)
                                && same_scope
                            {
                                return Err(R::SeparationOfDuties(format!(
                                    "{constraint}: {principal} already holds {} and {}",
                                    a.role, b.role
                                )));
                            }
                        }
                    }
                }
                Ok(vec![E::ExclusiveRolesDefined {
                    reason: ctx.reason.clone(),
                    constraint: constraint.clone(),
                    roles: roles.clone(),
                }])
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_roles(&mut self, event: &PolicyEvent, _meta: &EventMeta<'_>) {
        use PolicyEvent as E;
        match event {
            E::RoleGranted {
                principal,
                role,
                subject,
                ..
            } => {
                self.access
                    .grant(principal.clone(), role.clone(), subject.clone());
            }
            E::RoleRevoked {
                principal,
                role,
                subject,
                ..
            } => {
                self.access.revoke(principal, role, subject.as_ref());
            }
            E::RoleDefined { role, after, .. } => {
                self.access.define_role(role.clone(), *after);
            }
            E::PrincipalKindSet {
                principal, after, ..
            } => self.access.set_principal_kind(principal.clone(), *after),
            E::RuleAdded { rule, .. } => self.access.add_rule(rule.clone()),
            E::RuleRemoved { rule, .. } => {
                self.access.remove_rule(&rule.id);
            }
            E::ExclusiveRolesDefined {
                constraint, roles, ..
            } => {
                self.access.add_exclusive(constraint.clone(), roles.clone());
            }
            E::AccessDenied { .. } => {}
            _ => {}
        }
    }
}

impl Policy {
    /// What a denied request leaves in the journal: `AccessDenied` with the decision's
    /// reasons and, when a non-human attempted a human-only action or named itself human, an
    /// `agent_attempted_human_only_action` deviation (if that deviation type is defined).
    /// Composing planes use it for the commands they authorize themselves.
    pub fn access_denied_events(
        &self,
        action: Action,
        resource: &str,
        reasons: &[DecisionReason],
        ctx: &Context,
    ) -> Vec<PolicyEvent> {
        let mut events = vec![PolicyEvent::AccessDenied {
            action,
            resource: resource.to_owned(),
            reasons: reasons.iter().map(DecisionReason::label).collect(),
        }];
        // A non-human attempting a human-only action, or naming itself human.
        let posing = reasons.iter().any(|r| {
            matches!(r, DecisionReason::KindMismatch(k) if *k != ActorKind::Human)
                && ctx.actor.kind == ActorKind::Human
        });
        if (reasons.contains(&DecisionReason::HumanOnly) || posing)
            && let Some(e) = self.open_deviation_event(
                1,
                "agent_attempted_human_only_action",
                ctx.at,
                if posing {
                    format!(
                        "{} named itself human (it is registered otherwise) to attempt {action} on {resource}",
                        ctx.actor.id
                    )
                } else {
                    format!("{} attempted {action} on {resource}", ctx.actor)
                },
            )
        {
            events.push(e);
        }
        events
    }

    pub(crate) fn is_bootstrap(&self, command: &PolicyCommand, ctx: &Context) -> bool {
        matches!(command, PolicyCommand::GrantRole { principal, role, subject: None }
            if role.as_str() == "admin" && principal == &ctx.actor.id)
            && ctx.actor.kind == ActorKind::Human
            && self.access.identity_forbid(&ctx.actor).is_none()
            && self.access.grants().is_empty()
    }
}
