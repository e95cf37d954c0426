//! The JSON Schema of every public contract (`ro schema`), checked in as
//! `contracts/ro_public_contracts_v0.schema.json`.
//!
//! The document validates one input line at its root (`$defs/Request`: every command and
//! query as the protocol reads it, context fields included) and names every other contract in
//! `$defs`: the responses (`Response`, `ErrorResponse`, `QueryResult`, `CommandResult`), the
//! journal's envelope and every event (`Envelope`, `PlaneEvent`), and the contract's named objects
//! (`ArtifactRef`, `JobStatus`, `JobAttemptRecord`, `ConfigVersionRef`, `AdminActionType`,
//! `AdminEvent`, `SecretRotationEvent`) and `ro report signatures`' `SignatureLog`. The types' own schemas come from their Rust
//! definitions (schemars), so the file cannot drift from the code without a test failing.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use crate::protocol::CONTEXT_FIELDS;

/// Where the checked-in copy lives, relative to the workspace root.
pub const CONTRACTS_PATH: &str = "contracts/ro_public_contracts_v0.schema.json";

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "urn:ro:contracts:ro_public_contracts_v0";

fn register<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

/// The variants (`oneOf`) of a generated enum schema.
fn variants(schema: &Value, generator: &SchemaGenerator) -> Vec<Value> {
    let resolved = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/$defs/")
            .and_then(|name| generator.definitions().get(name))
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.clone(),
    };
    resolved
        .get("oneOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Adds the context fields every document may carry to a command variant's properties.
fn with_context(mut variant: Value) -> Value {
    // A context field given as `null` is read as absent (except `actor`).
    let context = json!({
        "at": { "anyOf": [{ "$ref": "#/$defs/Timestamp" }, { "type": "null" }], "description": "When; the host stamps its clock when absent." },
        "actor": { "$ref": "#/$defs/Actor" },
        "operator_id": { "anyOf": [{ "$ref": "#/$defs/ActorId" }, { "type": "null" }], "description": "Shorthand for a human actor with this id." },
        "correlation_id": { "anyOf": [{ "$ref": "#/$defs/CorrelationId" }, { "type": "null" }] },
        "reason": { "anyOf": [{ "$ref": "#/$defs/Reason" }, { "type": "null" }] },
    });
    debug_assert_eq!(
        context.as_object().map(Map::len),
        Some(CONTEXT_FIELDS.len())
    );
    if let (Some(properties), Value::Object(context)) = (
        variant.get_mut("properties").and_then(Value::as_object_mut),
        context,
    ) {
        properties.extend(context);
    }
    // `actor` and `operator_id` name the same thing: give one of them at most (said without
    // `required` under `not`, which Ajv's strict mode refuses).
    if let Some(object) = variant.as_object_mut() {
        object.insert(
            "dependentSchemas".into(),
            json!({ "actor": { "properties": { "operator_id": { "type": "null" } } } }),
        );
    }
    variant
}

/// The variant's `type` constant, if any.
fn type_of(variant: &Value) -> Option<&str> {
    variant.pointer("/properties/type/const")?.as_str()
}

/// The whole contract document.
pub fn contracts() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let commands = [
        register::<ro_policy::PolicyCommand>(&mut generator),
        register::<ro_artifacts::ArtifactCommand>(&mut generator),
        register::<ro_jobs::JobsCommand>(&mut generator),
        register::<ro_admin::AdminCommand>(&mut generator),
    ];
    let queries = register::<ro_admin::PlaneQuery>(&mut generator);
    for named in [
        register::<ro_core::Timestamp>,
        register::<ro_core::Actor>,
        register::<ro_core::ActorId>,
        register::<ro_core::CorrelationId>,
        register::<ro_core::Reason>,
        register::<ro_core::Digest>,
        register::<ro_admin::PlaneEvent>,
        register::<ro_admin::QueryAnswer>,
        register::<ro_admin::CommandResult>,
        register::<ro_admin::audit::AdminRecord>,
        register::<ro_admin::signing::SignatureLog>,
        register::<ro_artifacts::ArtifactRef>,
        register::<ro_jobs::AttemptStatus>,
        register::<ro_jobs::JobAttemptRecord>,
        register::<ro_policy::ConfigVersionRef>,
        register::<ro_policy::Action>,
    ] {
        named(&mut generator);
    }
    let mut requests: Vec<Value> = Vec::new();
    for schema in &commands {
        for variant in variants(schema, &generator) {
            let mut variant = with_context(variant);
            // Any command may carry the token of its second step (a safety-reducing admin
            // action without a token field of its own is confirmed this way).
            if let Some(properties) = variant.get_mut("properties").and_then(Value::as_object_mut) {
                properties.entry("signature").or_insert_with(|| {
                    json!({
                        "type": "object",
                        "description": "An Ed25519 signature of the command by its actor's registered key (signatures v2), over ro.signature.v2\\0, the plane's id (32 bytes, `plane_id` of `ro status`), the actor's kind, id and the nonce (each followed by a zero byte), the command digest (32 bytes) and the command's `at` (RFC 3339). Each signature is accepted once.",
                        "properties": {
                            "key_id": { "type": "string" },
                            "sig": { "type": "string", "pattern": "^[0-9a-f]{128}$" },
                            "nonce": { "type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$" }
                        },
                        "required": ["key_id", "sig", "nonce"],
                        "additionalProperties": false
                    })
                });
                properties.entry("confirmation_token").or_insert_with(|| {
                    json!({
                        "type": "string",
                        "description": "The token from the first step of a two-step command."
                    })
                });
            }
            requests.push(variant);
        }
    }
    for variant in variants(&queries, &generator) {
        let mut variant = with_context(variant);
        if let Some(object) = variant.as_object_mut() {
            let description = object
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            object.insert(
                "description".into(),
                Value::String(format!(
                    "Query (answered in `result`, appends nothing). {description}"
                )),
            );
        }
        requests.push(variant);
    }
    // The runbook's name for releasing the lockdown is the same command.
    for variant in &mut requests {
        if type_of(variant) == Some("RELEASE_LOCKDOWN")
            && let Some(ty) = variant.pointer_mut("/properties/type")
        {
            *ty = json!({ "type": "string", "enum": ["RELEASE_LOCKDOWN", "UNRELEASE_LOCKDOWN"] });
        }
    }
    requests.sort_by(|a, b| type_of(a).cmp(&type_of(b)));
    // A type two domains decide (`TICK`: the policy's escalations and the jobs' timeouts) is
    // one document: one alternative, or `oneOf` would match it twice and refuse it.
    // (Alternatives of one type that differ otherwise, such as the `HEARTBEAT` query and the
    // attempt's `HEARTBEAT` with its `run_id`, stay apart.)
    let without_description = |v: &Value| {
        let mut v = v.clone();
        if let Some(object) = v.as_object_mut() {
            object.remove("description");
        }
        v
    };
    requests.dedup_by(|later, earlier| {
        let same = type_of(later).is_some()
            && type_of(later) == type_of(earlier)
            && without_description(later) == without_description(earlier);
        if same
            && let (Some(a), Some(b)) = (
                earlier.get("description").and_then(Value::as_str),
                later.get("description").and_then(Value::as_str),
            )
            && a != b
        {
            let merged = format!("{a} {b}");
            earlier["description"] = Value::String(merged);
        }
        same
    });
    let mut defs = generator.take_definitions(true);
    // The domain enums are spelled out in `Request`, context fields included.
    for inlined in [
        "PolicyCommand",
        "ArtifactCommand",
        "JobsCommand",
        "AdminCommand",
        "PlaneQuery",
    ] {
        defs.remove(inlined);
    }
    // Each query's result, by its type: the answer variants name the queries they answer
    // (`HEARTBEAT`, …) in their descriptions.
    let query_types: Vec<String> = requests
        .iter()
        .filter(|v| {
            v.get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.starts_with("Query ("))
        })
        .filter_map(|v| type_of(v).map(str::to_owned))
        .collect();
    let mut by_type: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for answer in defs
        .get("QueryAnswer")
        .and_then(|q| q.get("anyOf"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let description = answer
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for ty in description.split('`').skip(1).step_by(2) {
            if query_types.iter().any(|q| q == ty) {
                by_type
                    .entry(ty.to_owned())
                    .or_default()
                    .push(answer.clone());
            }
        }
    }
    let query_results: Map<String, Value> = by_type
        .into_iter()
        .map(|(ty, mut shapes)| {
            let shape = if shapes.len() == 1 {
                shapes.remove(0)
            } else {
                json!({ "anyOf": shapes })
            };
            (ty, shape)
        })
        .collect();
    // The host adds each open incident's audit hash to a `HEARTBEAT`'s result.
    if let Some(properties) = defs
        .get_mut("Incident")
        .and_then(|i| i.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        properties.insert(
            "audit_hash".into(),
            json!({ "$ref": "#/$defs/Digest", "description": "The journal's head hash at detection (the `prev` of record `audit_seq`); added by the host in query results." }),
        );
        properties.insert(
            "incident_id".into(),
            json!({ "type": "string", "format": "uuid", "description": "The incident's UUID (version 8, derived from the plane id and the audit hash: the same on every host); names its file `incident_<UUID>.json`. Added by the host in query results." }),
        );
    }
    let secret_rotation = defs
        .get("PolicyEvent")
        .map(|policy| variants(policy, &generator))
        .unwrap_or_default()
        .into_iter()
        .find(|v| type_of(v) == Some("SecretRotated"))
        .unwrap_or(Value::Null);
    let extra = json!({
        "Request": {
            "description": "One input line of `ro apply`: a command or a query. `type` names it; the context fields at, actor, operator_id, correlation_id and reason may accompany any of them; unknown fields are refused.",
            "oneOf": requests,
        },
        "Response": {
            "description": "One output line of `ro apply`, in input order, printed after the command's events are durable.",
            "oneOf": [
                {
                    "title": "Accepted",
                    "type": "object",
                    "properties": {
                        "ok": { "const": true },
                        "seq": { "type": "integer", "minimum": 0, "description": "The journal's head after the command." },
                        "events": { "type": "array", "items": { "$ref": "#/$defs/Envelope" }, "description": "What the command appended (empty for a query)." },
                        "result": { "anyOf": [ { "$ref": "#/$defs/CommandResult" }, { "$ref": "#/$defs/QueryResult" } ] },
                    },
                    "required": ["ok", "seq", "events", "result"],
                    "additionalProperties": false,
                },
                {
                    "title": "ConfirmationRequired",
                    "type": "object",
                    "properties": {
                        "ok": { "const": true },
                        "confirmation_required": { "const": true },
                        "confirmation_token": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "Re-send the same command, by the same actor, with this token." },
                        "expires_at": { "$ref": "#/$defs/JournalTimestamp", "description": "When the token expires (on the host's clock): the command is not done until confirmed before then." },
                        "next": { "type": "string", "description": "What to send next, in words." },
                    },
                    "required": ["ok", "confirmation_required", "confirmation_token", "expires_at", "next"],
                    "additionalProperties": false,
                },
                { "$ref": "#/$defs/ErrorResponse" },
            ],
        },
        "ErrorResponse": {
            "type": "object",
            "properties": {
                "ok": { "const": false },
                "error": {
                    "type": "object",
                    "properties": {
                        "code": { "type": "string", "pattern": "^[A-Z][A-Z0-9_]*$", "description": "A stable code, e.g. LOCKDOWN_ACTIVE." },
                        "message": { "type": "string", "description": "What is wrong and how to fix it." },
                        "details": { "type": "object", "description": "Machine-readable details: the field, the command type, the seqs of recorded refusals, and (from `ro apply`) the input `line` number." },
                    },
                    "required": ["code", "message", "details"],
                    "additionalProperties": false,
                },
            },
            "required": ["ok", "error"],
            "additionalProperties": false,
        },
        "Envelope": {
            "description": "One journal record as `ro audit` prints it and responses carry it (docs/journal-format.md).",
            "type": "object",
            "properties": {
                "seq": { "type": "integer", "minimum": 1 },
                "prev": { "$ref": "#/$defs/Digest" },
                "hash": { "$ref": "#/$defs/Digest" },
                "at": { "$ref": "#/$defs/JournalTimestamp" },
                "actor": { "$ref": "#/$defs/Actor" },
                "correlation_id": { "anyOf": [ { "$ref": "#/$defs/CorrelationId" }, { "type": "null" } ] },
                "causation": { "anyOf": [ { "$ref": "#/$defs/Digest" }, { "type": "null" } ] },
                "schema_version": { "type": "integer", "minimum": 1 },
                "event": { "$ref": "#/$defs/PlaneEvent" },
            },
            "required": ["seq", "prev", "hash", "at", "actor", "correlation_id", "causation", "schema_version", "event"],
            "additionalProperties": false,
        },
        "JournalTimestamp": {
            "description": "A timestamp as the journal holds it: only the canonical spelling (UTC with an uppercase Z, no trailing zero in the fraction; docs/journal-format.md). Documents sent to ro may spell an instant otherwise (`Timestamp`); records never do.",
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,8}[1-9])?Z$",
        },
        "QueryResult": { "$ref": "#/$defs/QueryAnswer" },
        "QueryResults": {
            "description": "The `result` of each query, by its `type` (a map for typed clients: a query's response carries the result shape named here).",
            "type": "object",
            "required": query_results.keys().collect::<Vec<_>>(),
            "properties": query_results,
            "additionalProperties": false,
        },
        "AdminActionType": { "$ref": "#/$defs/Action" },
        "SecretRotationEvent": secret_rotation,
    });
    if let Value::Object(extra) = extra {
        defs.extend(extra);
    }
    let mut document = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ro public contracts v0",
        "description": "The JSON contracts of the ro Run/Operate plane: the root validates one input line of `ro apply`; $defs names every other contract. Generated by `ro schema`.",
        "$ref": "#/$defs/Request",
        "$defs": defs,
    });
    bounded_integers(&mut document);
    document
}

/// The largest integer the journal holds (canonical JSON integers are exact in every
/// language's doubles up to it).
pub const MAX_JSON_INTEGER: u64 = (1 << 53) - 1;

/// Replaces schemars' integer formats (`uint32`, `int64`, …: not JSON Schema formats, so
/// validators either refuse them or ignore them) with the bounds they stand for, capped at
/// what the journal holds.
fn bounded_integers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let bounds = match map.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0i64, u64::from(u8::MAX))),
                Some("uint16") => Some((0, u64::from(u16::MAX))),
                Some("uint32") => Some((0, u64::from(u32::MAX))),
                Some("uint64" | "uint") => Some((0, MAX_JSON_INTEGER)),
                Some("int8") => Some((i64::from(i8::MIN), 127)),
                Some("int16") => Some((i64::from(i16::MIN), 32_767)),
                Some("int32") => Some((i64::from(i32::MIN), 2_147_483_647)),
                Some("int64" | "int") => Some((-(MAX_JSON_INTEGER as i64), MAX_JSON_INTEGER)),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                map.remove("format");
                let floor = map
                    .get("minimum")
                    .and_then(Value::as_i64)
                    .unwrap_or(min)
                    .max(min);
                map.insert("minimum".into(), Value::from(floor));
                map.insert("maximum".into(), Value::from(max));
            }
            map.values_mut().for_each(bounded_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bounded_integers),
        _ => {}
    }
}

/// The contract document as `ro schema` prints it (pretty, with a final newline).
pub fn contracts_text() -> String {
    pretty_sorted(contracts())
}

/// A document printed pretty, with its keys sorted and a final newline.
pub fn pretty_sorted(value: Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` with every object's keys in sorted order, so the printed document does not depend
/// on serde_json's map order (insertion order when a crate in the build enables its
/// `preserve_order` feature).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
