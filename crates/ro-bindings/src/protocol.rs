//! The JSON protocol: one command per line, decoded strictly,
//! and the response shapes.
//!
//! A command is one flat JSON object: `"type"` names it, the optional context fields `at`,
//! `actor`, `operator_id`, `correlation_id` and `reason` say when, who and why, and every other
//! field belongs to the command. The domain is found from the type; unknown fields, wrong types
//! and out-of-range values are refused with a [`ProtocolError`] naming the problem.

use ro_admin::{PlaneCommand, PlaneQuery, command_digest};
use ro_core::{
    Actor, ActorId, CommandSignature, ConfirmationToken, Context, CorrelationId, Reason, Timestamp,
};
use serde_json::{Map, Value, json};

/// How far ahead of the host clock a document's `at` may be (clock skew between machines).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// The context fields every command may carry.
pub const CONTEXT_FIELDS: [&str; 5] = ["at", "actor", "operator_id", "correlation_id", "reason"];

/// The query types: answered in `result`, appending nothing (the plane's table).
pub const QUERY_TYPES: &[&str] = PlaneQuery::TYPES;

/// Whether a document is a query. `HEARTBEAT` is both the runbook's query and the jobs
/// command a running attempt sends: the command names its `run_id`, the query nothing.
fn is_query(ty: &str, map: &Map<String, Value>) -> bool {
    QUERY_TYPES.contains(&ty) && !(ty == "HEARTBEAT" && map.contains_key("run_id"))
}

/// Decodes a command of type `ty` with its domain's enum (`PlaneCommand::from_flat`).
fn command_of(ty: &str, body: Value) -> Result<PlaneCommand, ProtocolError> {
    PlaneCommand::from_flat(ty, body)
        .ok_or_else(|| ProtocolError::UnknownType(ty.to_owned()))?
        .map_err(|e| ProtocolError::Command {
            ty: ty.to_owned(),
            message: e.to_string(),
        })
}

/// What a line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per input line, moved once; boxing would only add an allocation"
)]
pub enum Request {
    /// A command: its events are appended.
    Command(PlaneCommand),
    /// A read-only query.
    Query(PlaneQuery),
}

/// A decoded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The command or query.
    pub request: Request,
    /// When, who, why; for a command, `causation` is its digest.
    pub ctx: Context,
    /// Whether the document named its actor (`actor` or `operator_id`) rather than taking
    /// the host's default one.
    pub actor_named: bool,
}

/// The default bound on a document's `at`, either way, for `ro serve` and `ro apply`
/// (seconds).
pub const DEFAULT_SKEW_SECONDS: i64 = 5;

/// How far a document's `at` may stray from the host clock, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skew {
    /// The most a document may be dated ahead of the host clock.
    pub ahead: i64,
    /// The most a document may be dated behind it; `None` admits any earlier time (a
    /// scripted history), except on a confirmation, which the host always dates.
    pub behind: Option<i64>,
}

impl Skew {
    /// The console's bound: [`MAX_CLOCK_SKEW_SECONDS`] ahead, any time behind.
    pub const CONSOLE: Skew = Skew {
        ahead: MAX_CLOCK_SKEW_SECONDS,
        behind: None,
    };

    /// The same bound both ways.
    pub fn both(seconds: i64) -> Skew {
        Skew {
            ahead: seconds,
            behind: Some(seconds),
        }
    }
}

/// Why a line is not a command. Each has a stable code ([`ProtocolError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line is not a JSON object.
    #[error("not a JSON object: {0}; send one JSON object per line")]
    NotJson(String),
    /// A context field, or `type`, is missing or malformed, or a number does not fit.
    #[error("field `{field}`: {message}")]
    Field {
        /// The field (a path such as `signal.used_bytes` for a nested one).
        field: std::borrow::Cow<'static, str>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// No domain knows the type.
    #[error("unknown command type `{0}`; `ro schema` lists every command")]
    UnknownType(String),
    /// The command's own fields are wrong (serde names the field).
    #[error("{ty}: {message}")]
    Command {
        /// The command type.
        ty: String,
        /// What is wrong.
        message: String,
    },
    /// The document's `at` is further from the host clock than the host admits.
    #[error("field `at`: {0}")]
    ClockSkew(String),
    /// Neither the document nor the host named an actor.
    #[error("no actor: give `actor`, `operator_id`, or run `ro apply --actor ID`")]
    NoActor,
}

impl ProtocolError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::NotJson(_) => "INVALID_JSON",
            ProtocolError::Field { .. } => "INVALID_FIELD",
            ProtocolError::UnknownType(_) => "UNKNOWN_COMMAND",
            ProtocolError::Command { .. } => "INVALID_COMMAND",
            ProtocolError::NoActor => "ACTOR_REQUIRED",
            ProtocolError::ClockSkew(_) => "CLOCK_SKEW",
        }
    }

    /// Machine-readable details for the error response.
    pub fn details(&self) -> Value {
        match self {
            ProtocolError::Field { field, .. } => json!({ "field": field }),
            ProtocolError::ClockSkew(_) => json!({ "field": "at" }),
            ProtocolError::UnknownType(ty) | ProtocolError::Command { ty, .. } => {
                json!({ "type": ty })
            }
            ProtocolError::NotJson(_) | ProtocolError::NoActor => json!({}),
        }
    }
}

fn field(
    field: impl Into<std::borrow::Cow<'static, str>>,
    message: impl std::fmt::Display,
) -> ProtocolError {
    ProtocolError::Field {
        field: field.into(),
        message: message.to_string(),
    }
}

fn string_field(
    map: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, ProtocolError> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(field(name, format!("expected a string, got {other}"))),
    }
}

/// Parses one JSON document like `serde_json::from_str::<Value>`, but refuses an object that
/// names the same field twice (serde_json would keep the last one silently: a duplicated
/// `reason` or `type` must never be ignored).
///
/// A number with a fraction or an exponent is read through a double; one whose text says
/// more than the double holds (`0.99999999999999999999`, `1e-400`) is refused rather than
/// silently rounded: ratios and money are exact or refused.
pub fn parse_strict(line: &str) -> Result<Value, serde_json::Error> {
    use serde::de::{DeserializeSeed, Error};
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    if let Some(number) = inexact_number(line) {
        return Err(serde_json::Error::custom(format!(
            "number {number} cannot be read exactly (a double holds about 15 significant \
             digits); send it as a decimal string"
        )));
    }
    Ok(value)
}

/// The first number token of a (valid) JSON text with a fraction or an exponent whose value
/// is not exactly what a double reads from it.
fn inexact_number(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let token = json.get(start..i)?;
                if token.contains(['.', 'e', 'E']) && !reads_exactly(token) {
                    return Some(token);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Model metadata and reported figures hold an operator's numbers exactly: a number with a
/// fraction or an exponent inside the top-level `metadata` or `metrics` member (`"auc": 0.91`)
/// becomes a string of its text as written (`"auc": "0.91"`), never rounded through a double
/// nor refused. `None` when there is nothing to rewrite (or the text is not JSON: the parser
/// says why).
pub fn quote_metadata_decimals(json: &str) -> Option<String> {
    const FIGURES: [&str; 2] = ["metadata", "metrics"];
    if !FIGURES.iter().any(|k| json.contains(&format!("\"{k}\""))) {
        return None;
    }
    let bytes = json.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let (mut depth, mut i) = (0usize, 0usize);
    let mut top_key: Option<&str> = None;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let start = i;
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
                // A string at the top level followed by `:` is a member's key.
                let rest = json.get(i..).unwrap_or_default().trim_start();
                if depth == 1 && rest.starts_with(':') {
                    top_key = json.get(start + 1..i.saturating_sub(1));
                }
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let token = json.get(start..i)?;
                if top_key.is_some_and(|k| FIGURES.contains(&k)) && token.contains(['.', 'e', 'E'])
                {
                    out.push_str(json.get(copied..start)?);
                    out.push('"');
                    out.push_str(token);
                    out.push('"');
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(json.get(copied..)?);
    Some(out)
}

/// Whether the double nearest to the decimal `token` has exactly its value.
fn reads_exactly(token: &str) -> bool {
    let Ok(double) = token.parse::<f64>() else {
        return false;
    };
    // Rust prints the shortest decimal that reads back as the same double, without an
    // exponent; the token is exact when both name the same decimal.
    decimal(token) == decimal(&double.to_string())
}

/// A decimal number as (negative, significant digits without leading or trailing zeros,
/// power of ten of the last digit); zero is (false, "", 0).
fn decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = whole.chars().chain(fraction.chars()).collect();
    let mut power = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    while digits.ends_with('0') {
        digits.pop();
        power = power.checked_add(1)?;
    }
    let digits = digits.trim_start_matches('0').to_owned();
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    Some((negative, digits, power))
}

/// Builds a [`Value`], refusing duplicate object keys.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> serde::de::DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "field `{key}` appears twice; give each field once"
                )));
            }
            let value = map.next_value_seed(Strict)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Refuses an integer the journal cannot hold exactly (beyond ±(2^53 − 1)), naming its path:
/// at the door, not after the command was decided.
fn check_integers(path: &str, value: &Value) -> Result<(), ProtocolError> {
    const MAX: u64 = crate::schema::MAX_JSON_INTEGER;
    match value {
        Value::Number(n) => {
            let fits = n.as_u64().map_or_else(
                || n.as_i64().is_none_or(|i| i.unsigned_abs() <= MAX),
                |u| u <= MAX,
            );
            if fits {
                Ok(())
            } else {
                Err(field(
                    path.to_owned(),
                    format!(
                        "{n} is beyond {MAX} (2^53 - 1), the largest integer the journal holds"
                    ),
                ))
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_integers(&format!("{path}[{i}]"), item)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| check_integers(&format!("{path}.{key}"), item)),
        _ => Ok(()),
    }
}

/// Decodes one line. `default_actor` acts for documents that name none (`ro apply --actor`,
/// its kind resolved by the host from the principal's registration); `now` stamps documents
/// without `at` (the host's clock).
pub fn decode(
    line: &str,
    default_actor: Option<&Actor>,
    now: Timestamp,
) -> Result<Decoded, ProtocolError> {
    decode_within(line, default_actor, now, Skew::CONSOLE)
}

/// [`decode`] with the bound on `at` given: a document dated outside `skew` of `now` is
/// refused with `CLOCK_SKEW` (and nothing is recorded at its claimed time).
pub fn decode_within(
    line: &str,
    default_actor: Option<&Actor>,
    now: Timestamp,
    skew: Skew,
) -> Result<Decoded, ProtocolError> {
    let quoted = quote_metadata_decimals(line);
    let line = quoted.as_deref().unwrap_or(line);
    let value: Value = parse_strict(line).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(ProtocolError::NotJson(
            "the line is JSON but not an object".into(),
        ));
    };
    for (key, value) in &map {
        check_integers(key, value)?;
    }
    let named_at = map.contains_key("at");
    let at = match string_field(&mut map, "at")? {
        None => now,
        Some(text) => {
            let at = Timestamp::parse_rfc3339(&text).map_err(|e| {
                field(
                    "at",
                    format!("{e}; use RFC 3339, e.g. 2026-01-05T14:30:00Z"),
                )
            })?;
            // Time is the host's: a document may say when it was meant (a replayed runbook,
            // a late batch), never a time the host has not reached, or one record dated far
            // ahead would refuse every later command as going back in time.
            let latest = now
                .checked_add(time::Duration::seconds(skew.ahead))
                .unwrap_or(Timestamp::MAX);
            if at > latest {
                return Err(ProtocolError::ClockSkew(format!(
                    "{at} is ahead of the host clock ({now}) by more than {} s",
                    skew.ahead
                )));
            }
            if let Some(behind) = skew.behind {
                let earliest = now
                    .checked_sub(time::Duration::seconds(behind))
                    .unwrap_or(Timestamp::MIN);
                if at < earliest {
                    return Err(ProtocolError::ClockSkew(format!(
                        "{at} is behind the host clock ({now}) by more than {behind} s; \
                         send commands without `at` (the host dates them)"
                    )));
                }
            }
            at
        }
    };
    let operator = string_field(&mut map, "operator_id")?;
    let actor_named = operator.is_some() || map.contains_key("actor");
    let actor = match (map.remove("actor"), operator) {
        (Some(_), Some(_)) => {
            return Err(field("operator_id", "give `actor` or `operator_id`, not both"));
        }
        (Some(value), None) => serde_json::from_value::<Actor>(value).map_err(|e| {
            field("actor", format!("{e}; expected {{\"id\": \"...\", \"kind\": \"human\" | \"agent\" | \"service\"}}"))
        })?,
        (None, Some(id)) => Actor::human(ActorId::new(id).map_err(|e| field("operator_id", e))?),
        (None, None) => default_actor.cloned().ok_or(ProtocolError::NoActor)?,
    };
    let correlation_id = string_field(&mut map, "correlation_id")?
        .map(CorrelationId::new)
        .transpose()
        .map_err(|e| field("correlation_id", e))?;
    // A typed INFEASIBLE record's `reason` is its own field (cost-data, capacity, power,
    // mapping, null), as the derivation template names it; the context reason of that one
    // command is not given.
    let own_reason = matches!(map.get("type"), Some(Value::String(t)) if t == "RECORD_INFEASIBLE");
    let reason = if own_reason {
        None
    } else {
        string_field(&mut map, "reason")?
            .map(Reason::new)
            .transpose()
            .map_err(|e| field("reason", e))?
    };
    let ty = match map.get("type") {
        Some(Value::String(ty)) => ty.clone(),
        Some(other) => return Err(field("type", format!("expected a string, got {other}"))),
        None => return Err(field("type", "missing; every command names its `type`")),
    };
    let (request, causation, confirmation_token, signature) = if is_query(&ty, &map) {
        let query = serde_json::from_value::<PlaneQuery>(Value::Object(map)).map_err(|e| {
            ProtocolError::Command {
                ty: ty.clone(),
                message: e.to_string(),
            }
        })?;
        (Request::Query(query), None, None, None)
    } else {
        let signature = match map.remove("signature") {
            None => None,
            Some(value) => {
                let SignatureField { key_id, sig, nonce } = serde_json::from_value(value).map_err(|e| {
                        field(
                            "signature",
                            format!("{e}; expected {{\"key_id\": \"...\", \"sig\": \"<128 hex digits>\", \"nonce\": \"<8 to 64 of A-Z a-z 0-9 - _>\"}}"),
                        )
                    })?;
                ro_admin::signing::check_nonce(&nonce).map_err(|e| field("signature", e))?;
                Some(CommandSignature {
                    key_id,
                    signature: sig,
                    nonce,
                })
            }
        };
        let token = string_field(&mut map, "confirmation_token")?.map(ConfirmationToken::new);
        // A token expires on the host's clock: the second step is dated now (within the
        // skew), so keeping `at` at the first step's time cannot stretch its life.
        let earliest = now
            .checked_sub(time::Duration::seconds(MAX_CLOCK_SKEW_SECONDS))
            .unwrap_or(Timestamp::MIN);
        if token.is_some() && named_at && at < earliest {
            return Err(ProtocolError::ClockSkew(format!(
                "{at} is behind the host clock ({now}) by more than {MAX_CLOCK_SKEW_SECONDS} s: \
                 a confirmation is dated by the host, send it without `at`"
            )));
        }
        let command = command_of(&ty, Value::Object(map))?;
        let digest = command_digest(&command);
        (Request::Command(command), Some(digest), token, signature)
    };
    let ctx = Context {
        at,
        actor,
        correlation_id,
        causation,
        reason,
        confirmation_token,
        signature,
        claimed_actor: None,
        credential: None,
    };
    Ok(Decoded {
        request,
        ctx,
        actor_named,
    })
}

/// A command's `signature` field: the key, the Ed25519 signature (hex) over the signing
/// message (`ro_admin::signing::signing_message`: the plane, the actor, the nonce, the
/// command's digest and its instant) and the signer's nonce.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureField {
    key_id: ro_admin::signing::KeyId,
    sig: String,
    nonce: String,
}

/// Adds `confirmation_token` to a command line (what a client does on the second step).
pub fn with_confirmation_token(line: &str, token: &str) -> Result<String, ProtocolError> {
    let quoted = quote_metadata_decimals(line);
    let line = quoted.as_deref().unwrap_or(line);
    let value: Value = parse_strict(line).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(ProtocolError::NotJson(
            "the line is JSON but not an object".into(),
        ));
    };
    map.insert("confirmation_token".into(), Value::String(token.to_owned()));
    Ok(Value::Object(map).to_string())
}

/// The error response `{"ok": false, "error": {code, message, details}}`.
pub fn error_response(code: &str, message: &str, details: Value) -> Value {
    json!({ "ok": false, "error": { "code": code, "message": message, "details": details } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ro_admin::AdminCommand;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap()
    }

    fn alice() -> Actor {
        Actor::human(ActorId::new("alice").unwrap())
    }

    #[test]
    fn numbers_are_read_exactly_or_refused() {
        for exact in [
            "0.05",
            "1.0000",
            "0.5",
            "5e-1",
            "-2.25",
            "1E2",
            "0.0001",
            "12345.678",
        ] {
            assert!(
                parse_strict(&format!(
                    r#"{{"ratio": {exact}, "s": "0.99999999999999999999"}}"#
                ))
                .is_ok(),
                "{exact}"
            );
        }
        for inexact in [
            "0.99999999999999999999",
            "1e-400",
            "0.1000000000000000055511151231257827",
            "123456789012345678.5",
        ] {
            let e = parse_strict(&format!(r#"{{"a": [1, {{"ratio": {inexact}}}]}}"#)).unwrap_err();
            assert!(
                e.to_string().contains("cannot be read exactly"),
                "{inexact}: {e}"
            );
        }
    }

    #[test]
    fn runbook_documents_decode_as_written() {
        let d = decode(
            r#"{"type": "EMERGENCY_LOCKDOWN", "operator_id": "op-7"}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(
            d.request,
            Request::Command(PlaneCommand::Admin(AdminCommand::EmergencyLockdown {}))
        );
        assert_eq!(d.ctx.actor, Actor::human(ActorId::new("op-7").unwrap()));
        assert_eq!(d.ctx.at, now());
        let d = decode(
            r#"{"type": "UNRELEASE_LOCKDOWN", "operator_id": "op-7", "confirmation_token": "abc"}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(
            d.request,
            Request::Command(PlaneCommand::Admin(AdminCommand::ReleaseLockdown {}))
        );
        // The token is a context field: it never changes the command or its digest.
        assert_eq!(
            d.ctx.confirmation_token,
            Some(ConfirmationToken::new("abc"))
        );
        let Request::Command(command) = &d.request else {
            panic!("a command")
        };
        assert_eq!(d.ctx.causation, Some(command_digest(command)));
    }

    #[test]
    fn context_fields_are_taken_and_checked() {
        let d = decode(
            r#"{"type":"GRANT_ROLE","principal":"bob","role":"analyst","at":"2026-01-01T00:00:00Z","actor":{"id":"bot","kind":"agent"},"correlation_id":"c-1","reason":"onboarding"}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(d.ctx.actor, Actor::agent(ActorId::new("bot").unwrap()));
        assert_eq!(
            d.ctx.at,
            Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
        );
        // A time the host has not reached (beyond the allowed skew) is refused.
        let ahead = |at: &str| {
            decode(
                &format!(r#"{{"type":"EMERGENCY_LOCKDOWN","operator_id":"op","at":"{at}"}}"#),
                None,
                now(),
            )
        };
        assert!(ahead("2026-01-05T14:35:00Z").is_ok(), "within the skew");
        let e = ahead("9999-12-31T23:59:59.999999999Z").unwrap_err();
        assert!(matches!(&e, ProtocolError::ClockSkew(_)), "{e}");
        assert_eq!(e.code(), "CLOCK_SKEW");
        assert_eq!(e.details()["field"], "at");
        // A host bounding both ways refuses a time long past too; the console does not.
        let past =
            r#"{"type":"EMERGENCY_LOCKDOWN","operator_id":"op","at":"2026-01-05T14:00:00Z"}"#;
        assert!(decode(past, None, now()).is_ok());
        let e = decode_within(past, None, now(), Skew::both(5)).unwrap_err();
        assert_eq!(e.code(), "CLOCK_SKEW");
        let recent =
            r#"{"type":"EMERGENCY_LOCKDOWN","operator_id":"op","at":"2026-01-05T14:29:57Z"}"#;
        assert!(decode_within(recent, None, now(), Skew::both(5)).is_ok());
        assert!(d.ctx.correlation_id.is_some() && d.ctx.reason.is_some());
        let Request::Command(command) = &d.request else {
            panic!("a command")
        };
        assert_eq!(d.ctx.causation, Some(command_digest(command)));
        assert!(matches!(command, PlaneCommand::Policy(_)));
    }

    #[test]
    fn bad_documents_are_typed_errors_naming_the_problem() {
        let cases = [
            ("not json", "INVALID_JSON", ""),
            ("[1]", "INVALID_JSON", ""),
            (r#"{"principal":"bob"}"#, "INVALID_FIELD", "type"),
            (r#"{"type":7}"#, "INVALID_FIELD", "type"),
            (
                r#"{"type":"LAUNCH_ROCKETS"}"#,
                "UNKNOWN_COMMAND",
                "LAUNCH_ROCKETS",
            ),
            (
                r#"{"type":"GRANT_ROLE","principal":"bob","role":"analyst","rol":"x"}"#,
                "INVALID_COMMAND",
                "rol",
            ),
            (
                r#"{"type":"GRANT_ROLE","principal":"bob"}"#,
                "INVALID_COMMAND",
                "role",
            ),
            (
                r#"{"type":"EMERGENCY_LOCKDOWN","at":"yesterday"}"#,
                "INVALID_FIELD",
                "RFC 3339",
            ),
            (
                r#"{"type":"EMERGENCY_LOCKDOWN","operator_id":"a","actor":{"id":"b","kind":"human"}}"#,
                "INVALID_FIELD",
                "not both",
            ),
            (
                r#"{"type":"EMERGENCY_LOCKDOWN","actor":{"id":"b","kind":"robot"}}"#,
                "INVALID_FIELD",
                "robot",
            ),
            (
                r#"{"type":"EMERGENCY_LOCKDOWN","reason":""}"#,
                "INVALID_FIELD",
                "reason",
            ),
        ];
        for (line, code, mentions) in cases {
            let e = decode(line, Some(&alice()), now()).unwrap_err();
            assert_eq!(e.code(), code, "{line}: {e}");
            assert!(e.to_string().contains(mentions), "{line}: {e}");
        }
        let e = decode(r#"{"type":"EMERGENCY_LOCKDOWN"}"#, None, now()).unwrap_err();
        assert_eq!(e.code(), "ACTOR_REQUIRED");
    }

    #[test]
    fn integers_beyond_what_the_journal_holds_are_refused_naming_their_field() {
        let e = decode(
            r#"{"type":"REPORT_SIGNAL","signal":"STORAGE_PRESSURE","volume":"v","used_bytes":9007199254740993,"capacity_bytes":1}"#,
            Some(&alice()),
            now(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "INVALID_FIELD", "{e}");
        assert_eq!(e.details(), serde_json::json!({ "field": "used_bytes" }));
        let e = decode(
            r#"{"type":"DEFINE_JOB","definition":{"job_id":"j","version":18446744073709551615}}"#,
            Some(&alice()),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            e.details(),
            serde_json::json!({ "field": "definition.version" })
        );
        let e = decode(
            r#"{"type":"X","a":[1,-9007199254740992]}"#,
            Some(&alice()),
            now(),
        )
        .unwrap_err();
        assert_eq!(e.details(), serde_json::json!({ "field": "a[1]" }));
    }

    #[test]
    fn the_default_actor_acts_with_the_kind_the_host_resolved() {
        let d = decode(r#"{"type":"EMERGENCY_LOCKDOWN"}"#, Some(&alice()), now()).unwrap();
        assert_eq!(d.ctx.actor, alice());
        let bot = Actor::agent(ActorId::new("bot").unwrap());
        let d = decode(r#"{"type":"EMERGENCY_LOCKDOWN"}"#, Some(&bot), now()).unwrap();
        assert_eq!(d.ctx.actor, bot);
    }
}
