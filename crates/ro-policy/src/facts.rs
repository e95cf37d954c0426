//! The command-facts table: what every guard of the plane needs to know about a command,
//! declared once, next to the command's definition, with [`command_facts!`](crate::command_facts).
//!
//! A command's facts are its wire name (and the aliases the protocol also accepts), whether
//! it takes two steps, whether it passes an emergency lockdown, and whether it enables
//! execution (refused under the production lock or the kill switch). Its policy action and
//! resource come from the command's own `action` function beside the table, because a few
//! depend on the command's content (a rule's effect) or on state (whether a retention
//! shortens). The guards read nothing else, so a command's treatment is found in one place.
//!
//! Each command enum that declares its facts gets `FACTS` (every entry, in declaration order,
//! for the protocol's type lookup and for tests) and `facts(&self)` (an exhaustive match, so a
//! variant without an entry does not compile).

/// Whether a command takes two steps (a first request that is answered with a confirmation
/// token, then the same command with the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoStep {
    /// One step.
    Never,
    /// Always two steps.
    Always,
    /// Two steps only when the command loosens a control (shortens a retention or the shadow
    /// window, turns four-eyes off, deploys into production, resumes a job); the plane decides
    /// from its state.
    WhenLoosening,
}

/// The facts of one command type. Build one with [`CommandFacts::new`] and the flag methods,
/// or, for a whole enum, with [`command_facts!`](crate::command_facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandFacts<R: 'static = ()> {
    /// The wire name (`"type"`).
    pub ty: &'static str,
    /// Other names the protocol accepts for the same command.
    pub aliases: &'static [&'static str],
    /// Whether it takes two steps.
    pub two_step: TwoStep,
    /// Whether it passes an emergency lockdown: it releases the lockdown, makes the plane
    /// safer, or records what the plane observes (cycles, reports).
    pub passes_lockdown: bool,
    /// Whether it enables execution: refused under the production lock or the kill switch.
    pub enables_execution: bool,
    /// The room (feature module) that decides it, where the enum has several.
    pub room: R,
}

impl<R: Copy> CommandFacts<R> {
    /// One step, refused during a lockdown, enabling nothing.
    pub const fn new(ty: &'static str, aliases: &'static [&'static str], room: R) -> Self {
        CommandFacts {
            ty,
            aliases,
            two_step: TwoStep::Never,
            passes_lockdown: false,
            enables_execution: false,
            room,
        }
    }

    /// Always two steps.
    pub const fn two_step(mut self) -> Self {
        self.two_step = TwoStep::Always;
        self
    }

    /// Two steps when it loosens a control.
    pub const fn when_loosening(mut self) -> Self {
        self.two_step = TwoStep::WhenLoosening;
        self
    }

    /// Passes an emergency lockdown.
    pub const fn passes_lockdown(mut self) -> Self {
        self.passes_lockdown = true;
        self
    }

    /// Enables execution.
    pub const fn enables_execution(mut self) -> Self {
        self.enables_execution = true;
        self
    }

    /// The same facts without the room (what the plane's guards read for any command).
    pub const fn plain(&self) -> CommandFacts {
        CommandFacts {
            ty: self.ty,
            aliases: self.aliases,
            two_step: self.two_step,
            passes_lockdown: self.passes_lockdown,
            enables_execution: self.enables_execution,
            room: (),
        }
    }

    /// Whether `name` names this command (its wire name or an alias).
    pub fn is_named(&self, name: &str) -> bool {
        self.ty == name || self.aliases.contains(&name)
    }
}

/// Declares the facts of every variant of a command enum, next to its definition:
///
/// ```
/// use ro_policy::{command_facts, TwoStep};
///
/// #[derive(serde::Deserialize)]
/// #[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
/// enum Door { Open {}, Close {}, Lock { code: u32 } }
///
/// command_facts! { Door;
///     Open = "OPEN": enables_execution;
///     Close = "CLOSE" | "SHUT": passes_lockdown;
///     Lock = "LOCK": two_step passes_lockdown;
/// }
///
/// assert_eq!(Door::Lock { code: 1 }.facts().two_step, TwoStep::Always);
/// assert!(Door::FACTS.iter().any(|f| f.is_named("SHUT")));
/// ```
///
/// With `Enum in Room;` every entry names its room after `in` and the facts carry it.
#[macro_export]
macro_rules! command_facts {
    ($enum:ident; $($variant:ident = $ty:literal $(| $alias:literal)* : $($flag:ident)* ;)*) => {
        $crate::command_facts!(@impl $enum, (), $($variant = $ty [$($alias)*] [$($flag)*] (()) ;)*);
    };
    ($enum:ident in $room_ty:ty; $($variant:ident = $ty:literal $(| $alias:literal)* in $room:expr $(, $flag:ident)* ;)*) => {
        $crate::command_facts!(@impl $enum, $room_ty, $($variant = $ty [$($alias)*] [$($flag)*] ($room) ;)*);
    };
    (@impl $enum:ident, $room_ty:ty, $($variant:ident = $ty:literal [$($alias:literal)*] [$($flag:ident)*] ($room:expr) ;)*) => {
        impl $enum {
            /// The facts of every command type, in declaration order (see `ro_policy::facts`).
            pub const FACTS: &'static [$crate::CommandFacts<$room_ty>] = &[
                $($crate::CommandFacts::new($ty, &[$($alias),*], $room)$(.$flag())*,)*
            ];

            /// This command's facts (see `ro_policy::facts`).
            pub fn facts(&self) -> &'static $crate::CommandFacts<$room_ty> {
                match self {
                    $($enum::$variant { .. } => {
                        const FACTS: $crate::CommandFacts<$room_ty> =
                            $crate::CommandFacts::new($ty, &[$($alias),*], $room)$(.$flag())*;
                        &FACTS
                    })*
                }
            }
        }
    };
}
