//! Who did it: [`Actor`], a validated id and whether it is a human, an agent or a service.

use std::fmt;

use serde::{Deserialize, Serialize};

crate::id_kind!(
    /// Identifies a human, an agent or a service acting on the plane.
    ActorId,
    ActorTag,
    "actor id"
);

/// What kind of actor acted. Safety-reducing actions are for humans only.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash))]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A person.
    Human,
    /// An automated agent acting on its own judgement (an AI agent, a bot).
    Agent,
    /// A service acting on behalf of the system (a scheduler, a host).
    Service,
}

impl ActorKind {
    /// The wire name: `human`, `agent` or `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Human => "human",
            ActorKind::Agent => "agent",
            ActorKind::Service => "service",
        }
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performed an action: recorded on every event.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash))]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The actor's identifier.
    pub id: ActorId,
    /// Human, agent or service.
    pub kind: ActorKind,
}

impl Actor {
    /// A human actor.
    pub fn human(id: ActorId) -> Self {
        Actor {
            id,
            kind: ActorKind::Human,
        }
    }

    /// An agent actor.
    pub fn agent(id: ActorId) -> Self {
        Actor {
            id,
            kind: ActorKind::Agent,
        }
    }

    /// A service actor.
    pub fn service(id: ActorId) -> Self {
        Actor {
            id,
            kind: ActorKind::Service,
        }
    }

    /// Whether the actor is a person.
    pub fn is_human(&self) -> bool {
        self.kind == ActorKind::Human
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}
