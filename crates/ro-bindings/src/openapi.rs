//! The OpenAPI 3.1 description of `ro serve`'s HTTP API (`ro schema --openapi`, checked in as
//! `contracts/ro_http_api_v0.openapi.json`). Its schemas are the JSON Schema contract's
//! definitions ([`crate::schema::contracts`]) under `components/schemas`: the bodies of
//! `/v1/commands` and `/v1/queries` are the protocol's `Request` and `Response`, the same
//! documents as `ro apply` reads and prints.

use serde_json::{Value, json};

/// The HTTP API's version, in its paths (`/v1`) and in `info.version`.
pub const VERSION: &str = "v1";

/// The document.
pub fn document() -> Value {
    let contracts = crate::schema::contracts();
    let mut schemas = contracts
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let queries = query_requests(&schemas);
    let bare: Vec<Value> = queries
        .iter()
        .filter(|q| {
            q.get("required")
                .and_then(Value::as_array)
                .is_none_or(|r| r.iter().all(|f| f == "type"))
        })
        .filter_map(|q| q.pointer("/properties/type/const").cloned())
        .collect();
    schemas.insert(
        "QueryRequest".into(),
        json!({ "description": "A query document (the queries of `Request`).", "oneOf": queries }),
    );
    for (name, schema) in extra_schemas() {
        schemas.insert(name.into(), schema);
    }
    let mut schemas = Value::Object(schemas);
    rebase_refs(&mut schemas);
    let error = |description: &str| {
        json!({ "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorResponse" } } } })
    };
    let unauthenticated = error(
        "No valid token: missing, malformed, unknown, wrong secret (UNAUTHENTICATED), revoked (TOKEN_REVOKED) or expired (TOKEN_EXPIRED).",
    );
    let busy = error(
        "The writer's queue is full (QUEUE_FULL, with Retry-After) or the server is stopping (SHUTTING_DOWN).",
    );
    let bad_request = error(
        "Malformed input (INVALID_JSON, INVALID_FIELD, UNKNOWN_COMMAND, INVALID_COMMAND, CLOCK_SKEW, INVALID_ARGUMENT, NOT_A_QUERY).",
    );
    let too_large = error("The body is larger than the server's limit (BODY_TOO_LARGE).");
    let timeout = error("The request took longer than the server's limit (REQUEST_TIMEOUT).");
    let json_body = |schema: &str| json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let answered = |description: &str, schema: &str| {
        json!({ "description": description,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
    };
    let open = json!([{}, { "bearer": [] }]);
    let probe = |summary: &str, responses: Value| json!({ "get": { "summary": summary, "security": open, "responses": responses } });
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "ro: the Run/Operate plane",
            "version": VERSION,
            "description": "`ro serve`. Every /v1 request names its principal by its bearer token (`ro token issue`), never by its body: a document naming another actor is refused ACTOR_MISMATCH and recorded. The health probes are open unless the server runs with --closed-probes."
        },
        "servers": [{ "url": "http://127.0.0.1:8080" }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/v1/commands": { "post": {
                "summary": "Execute commands",
                "description": "One JSON document (a command or a query) → one response, after its events are durable. With Content-Type application/x-ndjson: one response line per non-blank line, in order (a refusal's details.line is its line), status 200. The bodies are byte for byte those of `ro apply`.",
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Request" } },
                    "application/x-ndjson": { "schema": { "type": "string" } } } },
                "parameters": [{ "name": "X-Ro-Line-Offset", "in": "header", "required": false,
                                 "description": "Lines of the same input sent before this body (for details.line).",
                                 "schema": { "type": "integer", "minimum": 0 } }],
                "responses": {
                    "200": { "description": "Accepted (a query answered), or an NDJSON batch's responses.",
                             "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Response" } },
                                          "application/x-ndjson": { "schema": { "type": "string" } } } },
                    "202": answered("The first step of a two-step command: send it again with confirmation_token before expires_at.", "Response"),
                    "400": bad_request,
                    "401": unauthenticated,
                    "403": error("Refused by identity or authorization, recorded (ACTOR_MISMATCH, PRINCIPAL_KIND_MISMATCH, UNREGISTERED_PRINCIPAL, HUMAN_ONLY_ACTION, UNAUTHORIZED, SIGNATURE_REQUIRED, SIGNATURE_INVALID)."),
                    "408": timeout,
                    "409": error("Refused by the plane (its code says why; recorded_seqs the trace)."),
                    "413": too_large,
                    "503": busy
                } } },
            "/v1/queries": { "post": {
                "summary": "Answer a query",
                "requestBody": json_body("QueryRequest"),
                "responses": {
                    "200": answered("The answer.", "Response"),
                    "400": bad_request, "401": unauthenticated,
                    "403": error("The document names another principal or kind, or the query is not allowed."),
                    "408": timeout, "409": error("Refused (its code says why)."), "413": too_large, "503": busy
                } } },
            "/v1/queries/{type}": { "get": {
                "summary": "Answer a query named in the URL",
                "description": "Any query, its fields as URL parameters (a whole number is sent as a number): e.g. /v1/queries/NEXT_RUNS?cron=…&timezone=…&after=…&count=3. Listed here: the queries that need no field.",
                "parameters": [{ "name": "type", "in": "path", "required": true,
                                 "schema": { "type": "string", "enum": bare } }],
                "responses": {
                    "200": answered("The answer.", "Response"),
                    "400": bad_request, "401": unauthenticated,
                    "403": error("Not allowed."),
                    "404": error("No such query (UNKNOWN_QUERY)."),
                    "408": timeout, "409": error("Refused (its code says why)."), "503": busy
                } } },
            "/v1/heartbeat": { "get": {
                "summary": "The operator runbook's heartbeat",
                "responses": { "200": answered("The heartbeat.", "Response"), "401": unauthenticated,
                               "403": error("Not allowed."), "408": timeout, "409": error("Refused."), "503": busy } } },
            "/v1/mission-control": { "get": {
                "summary": "Mission control (read-only): every watched service's state; its own state is always OK",
                "responses": { "200": answered("The services.", "MissionControl"), "401": unauthenticated, "408": timeout } } },
            "/v1/mission-control/{service}": { "get": {
                "summary": "One watched service with its recent recorded transitions",
                "parameters": [ { "name": "service", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": { "200": answered("The service.", "WatchedService"), "401": unauthenticated,
                               "404": error("Not watched (UNKNOWN_SERVICE)."), "408": timeout } } },
            "/v1/status": { "get": {
                "summary": "`ro status`: the head, the state digest and a summary of the plane",
                "responses": { "200": answered("The summary.", "Status"), "401": unauthenticated, "408": timeout, "503": busy } } },
            "/v1/audit": { "get": {
                "summary": "A page of the journal's export lines",
                "parameters": [
                    { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } }
                ],
                "responses": { "200": answered("Up to `limit` records after `after`.", "AuditPage"),
                               "400": bad_request, "401": unauthenticated, "408": timeout, "503": busy } } },
            "/v1/events": { "get": {
                "summary": "Live events (Server-Sent Events)",
                "description": "Every record after `after` (or the Last-Event-ID header), then each as it commits: `id` the seq, `event: record`, `data` the export line.",
                "parameters": [
                    { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "string", "pattern": "^[0-9]+$" } }
                ],
                "responses": { "200": { "description": "The stream.", "content": { "text/event-stream": { "schema": {
                    "type": "object", "required": ["id", "event", "data"],
                    "properties": {
                        "id": { "type": "string", "pattern": "^[0-9]+$" },
                        "event": { "const": "record" },
                        "data": { "type": "string", "contentMediaType": "application/json",
                                  "contentSchema": { "$ref": "#/components/schemas/Envelope" } } } } } } },
                               "400": bad_request, "401": unauthenticated, "503": busy } } },
            "/ops/status": probe("The status contract", json!({
                "200": answered("OK, MARKET_CLOSED or HALTED, with reason codes, freshness and safety.", "OpsStatus"),
                "401": unauthenticated })),
            "/healthz": probe("Freshness: 200 when no critical component is stale, 503 when one is", json!({
                "200": answered("Fresh.", "Healthz"), "401": unauthenticated,
                "503": answered("Stale.", "Healthz") })),
            "/health": probe("Liveness: 200 while the server serves and the store commits", json!({
                "200": answered("Committing.", "Health"), "401": unauthenticated,
                "503": answered("The last commit failed.", "Health") })),
            "/metrics": probe("Prometheus text: commands by type and outcome, commit latency, group-commit size, head, SSE subscribers, the plane's health signals", json!({
                "200": { "description": "The metrics.", "content": { "text/plain": { "schema": { "type": "string" } } } },
                "401": unauthenticated }))
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer",
                                             "description": "ro1.<token id>.<64 hex digits>, from `ro token issue`." } },
            "schemas": schemas
        }
    })
}

/// The document as `ro schema --openapi` prints it (pretty, keys sorted, a final newline).
pub fn document_text() -> String {
    crate::schema::pretty_sorted(document())
}

/// The HTTP API's own bodies (the rest are the protocol's).
fn extra_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "AuditPage",
            json!({ "type": "object", "additionalProperties": false,
                    "required": ["ok", "records", "next_after"],
                    "properties": {
                        "ok": { "const": true },
                        "records": { "type": "array", "items": { "$ref": "#/$defs/Envelope" },
                                     "description": "Export lines: each record's envelope with its seq, prev and hash." },
                        "next_after": { "type": "integer", "minimum": 0, "description": "The last seq of this page (`after` when empty): the next page's `after`." } } }),
        ),
        (
            "OpsStatus",
            json!({ "type": "object", "additionalProperties": false,
                    "required": ["status", "marketdata", "safety", "observability", "scheduler", "head_seq", "as_of"],
                    "properties": {
                        "status": { "type": "object", "additionalProperties": false, "required": ["state", "reason_codes"],
                                    "properties": { "state": { "enum": ["OK", "MARKET_CLOSED", "HALTED"] },
                                                    "reason_codes": { "type": "array", "items": { "type": "string" } } } },
                        "marketdata": { "type": "object", "additionalProperties": false, "required": ["is_fresh"],
                                        "properties": { "is_fresh": { "type": "boolean", "description": "No critical component is stale." } } },
                        "safety": { "type": "object", "required": ["safe_to_execute_orders", "safe_to_run_strategies"],
                                    "properties": { "safe_to_execute_orders": { "type": "boolean" }, "safe_to_run_strategies": { "type": "boolean" } } },
                        "observability": { "type": "object" },
                        "scheduler": { "type": "object", "required": ["running", "waiting_for_release", "stopped_because"],
                                       "properties": { "running": { "type": "boolean" }, "waiting_for_release": { "type": "boolean" },
                                                       "stopped_because": { "type": ["string", "null"] } } },
                        "head_seq": { "type": "integer", "minimum": 0 },
                        "as_of": { "$ref": "#/$defs/Timestamp" } } }),
        ),
        (
            "Healthz",
            json!({ "type": "object", "additionalProperties": false, "required": ["ok", "state", "head_seq", "as_of"],
                    "properties": { "ok": { "type": "boolean" }, "state": { "enum": ["OK", "MARKET_CLOSED", "HALTED"] },
                                    "head_seq": { "type": "integer", "minimum": 0 }, "as_of": { "$ref": "#/$defs/Timestamp" } } }),
        ),
        (
            "Health",
            json!({ "type": "object", "additionalProperties": false, "required": ["ok", "head_seq"],
                    "properties": { "ok": { "type": "boolean" }, "head_seq": { "type": "integer", "minimum": 0 },
                                    "journal": { "type": "object", "additionalProperties": false,
                                                 "description": "The check of every stored record the host runs at start (it opened from its snapshot, trusting the records before it). `DAMAGED` also fails `ok`.",
                                                 "required": ["check"],
                                                 "properties": { "check": { "enum": ["RUNNING", "VERIFIED", "DAMAGED"] },
                                                                 "verified_seq": { "type": "integer", "minimum": 0 },
                                                                 "error": { "type": ["string", "null"] } } },
                                    "outbox": { "type": "object", "additionalProperties": false,
                                                "description": "With an outbox (`ro serve --outbox`): how far the bus is behind the journal.",
                                                "required": ["connected", "published_seq", "behind", "error"],
                                                "properties": { "connected": { "type": "boolean" },
                                                                "published_seq": { "type": "integer", "minimum": 0 },
                                                                "behind": { "type": "integer", "minimum": 0 },
                                                                "error": { "type": ["string", "null"] } } } } }),
        ),
        (
            "MissionControl",
            json!({ "type": "object", "additionalProperties": false, "required": ["state", "as_of", "services"],
                    "properties": { "state": { "const": "OK" }, "as_of": { "$ref": "#/$defs/Timestamp" },
                                    "services": { "type": "array", "items": { "$ref": "#/components/schemas/WatchedService" } } } }),
        ),
        (
            "WatchedService",
            json!({ "type": "object", "required": ["service", "state", "reason_codes", "since", "last_seen"],
                    "properties": {
                        "service": { "type": "string" }, "owner": { "type": ["string", "null"] },
                        "market_hours": { "type": "boolean" },
                        "state": { "enum": ["OK", "MARKET_CLOSED", "HALTED", "OFFLINE", null] },
                        "reason_codes": { "type": "array", "items": { "type": "string" } },
                        "is_fresh": { "type": ["boolean", "null"] }, "safety": {},
                        "since": { "oneOf": [{ "$ref": "#/$defs/Timestamp" }, { "type": "null" }] },
                        "last_seen": { "oneOf": [{ "$ref": "#/$defs/Timestamp" }, { "type": "null" }] },
                        "last_observed": { "enum": ["OK", "MARKET_CLOSED", "HALTED", "OFFLINE", null] },
                        "transitions": { "type": "array", "items": { "type": "object", "required": ["at", "from", "to", "reason_codes"] } } } }),
        ),
        (
            "Status",
            json!({ "type": "object", "required": ["head_seq", "head_hash", "state_digest"],
                    "properties": { "head_seq": { "type": "integer", "minimum": 0 },
                                    "head_hash": { "type": "string" }, "state_digest": { "type": "string" } } }),
        ),
    ]
}

/// The variants of the contract's `Request` that are queries.
fn query_requests(schemas: &serde_json::Map<String, Value>) -> Vec<Value> {
    schemas
        .get("Request")
        .and_then(|r| r.get("oneOf"))
        .and_then(Value::as_array)
        .map(|variants| {
            variants
                .iter()
                .filter(|v| {
                    v.pointer("/properties/type/const")
                        .and_then(Value::as_str)
                        .is_some_and(|t| crate::protocol::QUERY_TYPES.contains(&t))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// `#/$defs/X` → `#/components/schemas/X`, everywhere.
fn rebase_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(name) = target.strip_prefix("#/$defs/")
            {
                *target = format!("#/components/schemas/{name}");
            }
            map.values_mut().for_each(rebase_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rebase_refs),
        _ => {}
    }
}
