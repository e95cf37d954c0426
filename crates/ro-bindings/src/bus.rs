//! The bus reconciler: the plane's streams (`CREATE_STREAM` and its audited changes) are the
//! desired state of NATS JetStream. [`plan`] reads the bus's streams and says, per plane
//! stream, what would change (create, update with before and after, nothing, or refused);
//! [`apply`] carries out the same plan. Nothing is applied that the plane has not recorded:
//! its settings are the approved ones (a shortened retention is two-step in the plane before
//! it is the plane's value).
//!
//! Mapping (ARCHITECTURE.md): a plane stream `S` with `n` partitions and `h` hours of
//! retention is the JetStream stream `<prefix>S'` (`S` with `.`, `:` and `@` as `_`) over the
//! subjects `<prefix>S.0` … `<prefix>S.<n-1>`, with `max_age` `h` hours. With a prefix, the
//! bus's other streams under it are listed as `unmanaged` (made outside the plane; reported,
//! never deleted). A key's partition is
//! [`ro_admin::streams::partition_of`], which producers share. Access lists are not enforced by
//! JetStream (a NATS server's permissions are its own configuration): the plan reports them
//! as such. The reconciler never shrinks partitions: a bus stream with subjects the plane does
//! not name is refused, not narrowed.

use std::time::Duration;

use async_nats::jetstream;
use ro_admin::Plane;
use ro_admin::streams::StreamSpec;
use serde_json::{Value, json};

/// The JetStream stream and subjects of a plane stream.
pub fn desired(spec: &StreamSpec, prefix: &str) -> (String, Vec<String>, Duration) {
    let base = spec.stream.as_str();
    let name: String = base
        .chars()
        .map(|c| if matches!(c, '.' | ':' | '@') { '_' } else { c })
        .collect();
    let subjects = (0..spec.partitions)
        .map(|n| format!("{prefix}{base}.{n}"))
        .collect();
    (
        format!("{prefix}{name}"),
        subjects,
        Duration::from_secs(spec.retention_hours.saturating_mul(3600)),
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

pub(crate) async fn connect(url: &str) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| format!("connecting to {url}: {e}"))?;
    Ok(jetstream::new(client))
}

/// One stream's settings as the plan shows them.
fn settings(subjects: &[String], max_age: Duration) -> Value {
    json!({ "subjects": subjects, "max_age_seconds": max_age.as_secs() })
}

/// The plane's streams with their settings versions.
pub fn specs(plane: &Plane) -> Vec<(StreamSpec, u32)> {
    plane
        .streams()
        .all()
        .map(|spec| (spec.clone(), plane.streams().version(&spec.stream)))
        .collect()
}

/// What the bus should do for each plane stream, one JSON object each (`stream`,
/// `jetstream`, `action`: create | update | none | refused, `before`, `after`, `notes`), with
/// the configuration to create or update.
pub(crate) async fn plan_on(
    js: &jetstream::Context,
    specs: &[(StreamSpec, u32)],
    prefix: &str,
) -> Result<Vec<(Value, Option<jetstream::stream::Config>)>, String> {
    let mut out = Vec::new();
    let mut names = std::collections::BTreeMap::new();
    for (spec, version) in specs {
        let (name, subjects, max_age) = desired(spec, prefix);
        let mut notes = vec![Value::from(
            "publishers and subscribers are not enforced by JetStream: the plane's may_publish and may_subscribe are the check",
        )];
        if let Some(other) = names.insert(name.clone(), spec.stream.as_str().to_owned()) {
            out.push((
                json!({ "stream": spec.stream.as_str(), "jetstream": name, "action": "refused",
                        "notes": [format!("the JetStream name is also {other}'s")] }),
                None,
            ));
            continue;
        }
        let after = settings(&subjects, max_age);
        let config = jetstream::stream::Config {
            name: name.clone(),
            subjects: subjects.clone(),
            max_age,
            ..Default::default()
        };
        let actual = match js.get_stream(&name).await {
            Ok(mut stream) => Some(
                stream
                    .info()
                    .await
                    .map_err(|e| format!("stream {name}: {e}"))?
                    .config
                    .clone(),
            ),
            Err(e) => match e.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(err)
                    if err.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    None
                }
                _ => return Err(format!("stream {name}: {e}")),
            },
        };
        let Some(actual) = actual else {
            out.push((
                json!({ "stream": spec.stream.as_str(), "jetstream": name, "action": "create",
                        "before": null, "after": after, "notes": notes }),
                Some(config),
            ));
            continue;
        };
        let before = settings(&actual.subjects, actual.max_age);
        let extra: Vec<&String> = actual
            .subjects
            .iter()
            .filter(|s| !subjects.contains(s))
            .collect();
        if !extra.is_empty() {
            notes.push(Value::from(format!(
                "the bus has subjects the plane does not name ({extra:?}): partitions are never shrunk; grow the plane's partitions or remove them on the bus by hand"
            )));
            out.push((
                json!({ "stream": spec.stream.as_str(), "jetstream": name, "action": "refused",
                        "before": before, "after": after, "notes": notes }),
                None,
            ));
            continue;
        }
        if actual.subjects == subjects && actual.max_age == max_age {
            out.push((
                json!({ "stream": spec.stream.as_str(), "jetstream": name, "action": "none",
                        "before": before, "after": after, "notes": notes }),
                None,
            ));
            continue;
        }
        if max_age < actual.max_age {
            notes.push(Value::from(
                "shortens the bus's replay window to the plane's recorded retention",
            ));
        }
        let mut update = actual;
        update.subjects = subjects;
        update.max_age = max_age;
        out.push((
            json!({ "stream": spec.stream.as_str(), "jetstream": name, "action": "update",
                    "before": before, "after": after, "notes": notes,
                    "version": version }),
            Some(update),
        ));
    }
    // With a prefix, the bus's other streams under it were made outside the plane: reported,
    // never deleted.
    if !prefix.is_empty() {
        use futures_util::StreamExt;
        let mut listed = js.stream_names();
        let mut unmanaged = Vec::new();
        while let Some(name) = listed.next().await {
            let name = name.map_err(|e| format!("listing streams: {e}"))?;
            if name.starts_with(prefix) && !names.contains_key(&name) {
                unmanaged.push(name);
            }
        }
        unmanaged.sort();
        for name in unmanaged {
            let before = match js.get_stream(&name).await {
                Ok(mut stream) => match stream.info().await {
                    Ok(info) => settings(&info.config.subjects, info.config.max_age),
                    Err(_) => Value::Null,
                },
                Err(_) => Value::Null,
            };
            out.push((
                json!({ "stream": name, "jetstream": name, "action": "unmanaged",
                        "before": before, "after": null,
                        "notes": ["a stream under the prefix the plane does not define: created outside the plane; never deleted here"] }),
                None,
            ));
        }
    }
    Ok(out)
}

/// The plan, changing nothing on the bus.
pub fn plan(plane: &Plane, url: &str, prefix: &str) -> Result<Vec<Value>, String> {
    runtime()?.block_on(async {
        let js = connect(url).await?;
        Ok(plan_on(&js, &specs(plane), prefix)
            .await?
            .into_iter()
            .map(|(item, _)| item)
            .collect())
    })
}

/// Carries out the plan: creates and updates what it says (`applied` on each item).
pub fn apply(plane: &Plane, url: &str, prefix: &str) -> Result<Vec<Value>, String> {
    runtime()?.block_on(async {
        let js = connect(url).await?;
        let mut out = Vec::new();
        for (mut item, config) in plan_on(&js, &specs(plane), prefix).await? {
            let Some(applied) = carry_out(&js, &item, config).await else {
                out.push(item);
                continue;
            };
            if let Some(map) = item.as_object_mut() {
                match applied {
                    Ok(()) => map.insert("applied".into(), Value::Bool(true)),
                    Err(e) => map.insert("error".into(), Value::String(e)),
                };
            }
            out.push(item);
        }
        Ok(out)
    })
}

/// Creates or updates one plan item's stream; `None` when the item changes nothing.
pub(crate) async fn carry_out(
    js: &jetstream::Context,
    item: &Value,
    config: Option<jetstream::stream::Config>,
) -> Option<Result<(), String>> {
    match (item.get("action").and_then(Value::as_str), config) {
        (Some("create"), Some(config)) => Some(
            js.create_stream(config)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        ),
        (Some("update"), Some(config)) => Some(
            js.update_stream(config)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        ),
        _ => None,
    }
}

/// How many messages the slowest consumer of each plane stream on the bus has not yet had
/// (streams the bus does not hold, or without consumers, are left out).
pub(crate) async fn lag_on(
    js: &jetstream::Context,
    specs: &[(StreamSpec, u32)],
    prefix: &str,
) -> Vec<(String, u64)> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    for (spec, _) in specs {
        let (name, _, _) = desired(spec, prefix);
        let Ok(stream) = js.get_stream(&name).await else {
            continue;
        };
        let mut consumers = stream.consumers();
        let mut slowest = None;
        while let Some(Ok(info)) = consumers.next().await {
            slowest = Some(slowest.unwrap_or(0).max(info.num_pending));
        }
        if let Some(lag) = slowest {
            out.push((spec.stream.as_str().to_owned(), lag));
        }
    }
    out
}
