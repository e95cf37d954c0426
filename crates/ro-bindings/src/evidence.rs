//! Evidence on disk: the files an auditor opens, each a pure function of a journal prefix and
//! an instant, so that the journal proves them.
//!
//! - **Bundles** (`ro evidence --dir DIR --bundle KIND`): `DIR/ops_runs/<UTC>_<kind>/` holds the
//!   status, readiness and deploy reports (JSON and Markdown), the alerts, the config snapshot,
//!   the inventory of what runs forever, the job runs of the last day with their command lines
//!   and exit codes, and the last-known-good manifest with the posture at capture; its
//!   `manifest.json` lists every file with its BLAKE3 digest and the journal's head (seq,
//!   hash, state digest). The readiness and deploy reports are also copied to `DIR/` (the
//!   latest, overwritten). A bundle directory is written once, atomically (built beside it and
//!   renamed), and never overwritten.
//! - **Verification** (`ro evidence --verify BUNDLE_DIR`): every file matches its digest, no file
//!   is unlisted, the journal holds the manifest's head, and the files rebuilt from the journal
//!   prefix at the manifest's instant are byte for byte the same.
//! - **Incidents** (`ro report incidents --dir DIR`): `DIR/incident_<UUID>.json` per incident,
//!   with its audit hash and the state as it stood once the failure was recorded (rebuild it
//!   with `ro status --at-seq`). The UUID derives from the plane id and the audit hash, so every
//!   host names an incident alike; rewriting a file gives the same bytes.

use std::path::{Path, PathBuf};

use ro_admin::{Plane, PlaneQuery};
use ro_core::{Actor, ActorId, Digest, Kernel, Timestamp};
use serde_json::{Value, json};

use crate::host::{self, HostError};
use crate::store::Store;

/// The manifest's format name.
pub const BUNDLE_FORMAT: &str = "ro-evidence-bundle/v1";

/// Which of the playbook's runs a bundle records (it names the directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bundle {
    /// Before the open.
    PreMarket,
    /// After the close.
    PostMarket,
    /// After a deploy.
    Deploy,
    /// For an incident.
    Incident,
}

impl Bundle {
    /// Every kind.
    pub const ALL: [Bundle; 4] = [
        Bundle::PreMarket,
        Bundle::PostMarket,
        Bundle::Deploy,
        Bundle::Incident,
    ];

    /// `pre_market`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Bundle::PreMarket => "pre_market",
            Bundle::PostMarket => "post_market",
            Bundle::Deploy => "deploy",
            Bundle::Incident => "incident",
        }
    }

    /// Parses `pre-market` or `pre_market`, ….
    pub fn parse(text: &str) -> Option<Bundle> {
        let text = text.replace('-', "_");
        Bundle::ALL.into_iter().find(|b| b.as_str() == text)
    }
}

/// An incident's UUID (version 8): the first 16 bytes of a BLAKE3 hash of the plane id and
/// the audit hash, with the version and variant bits set.
pub fn incident_id(plane_id: &str, audit_hash: &str) -> String {
    let digest = Digest::of_parts(&[
        b"ro.incident-id.v1\0",
        plane_id.as_bytes(),
        b"\0",
        audit_hash.as_bytes(),
    ]);
    let mut b = [0u8; 16];
    b.copy_from_slice(digest.as_bytes().get(..16).unwrap_or(&[0; 16]));
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | 0x80;
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    )
}

fn reader() -> Result<Actor, HostError> {
    ActorId::new("ro-evidence")
        .map(Actor::service)
        .map_err(|e| HostError::Encoding(e.to_string()))
}

/// A query's answer as JSON (`null` when the plane refuses it).
fn ask(kernel: &Kernel<Plane>, query: &PlaneQuery, at: Timestamp) -> Result<Value, HostError> {
    let answer = kernel.state().query(query, &reader()?, at);
    let mut value = match answer {
        Ok(a) => serde_json::to_value(a).map_err(|e| HostError::Encoding(e.to_string()))?,
        Err(e) => {
            json!({ "refused": { "code": ro_core::Rejection::code(&e), "message": e.to_string() } })
        }
    };
    host::add_audit_hashes(kernel, &mut value);
    Ok(value)
}

/// The member at `pointer` (`null` when absent).
fn field<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

fn pretty(value: &Value) -> Result<Vec<u8>, HostError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| HostError::Encoding(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The files of a bundle, by name, from the plane in `kernel` at `at`.
fn bundle_files(
    kernel: &Kernel<Plane>,
    at: Timestamp,
    kind: Bundle,
) -> Result<Vec<(&'static str, Vec<u8>)>, HostError> {
    let plane = kernel.state();
    let calendar = plane.alerts().config().calendar.clone();
    let status = ask(kernel, &PlaneQuery::OpsStatus { calendar }, at)?;
    let posture = json!({
        "lockdown": plane.lockdown(),
        "production_locked": plane.production_locked(),
        "kill_switch": plane.kill_switch(),
        "no_go": plane.readiness().no_go.is_some(),
    });
    let latest = plane.readiness().latest.clone();
    let verdict = match (&plane.readiness().no_go, &latest) {
        (Some(_), _) => "NO_GO",
        (None, Some(check)) => match check.result {
            ro_admin::health::ReadinessResult::Go => "GO",
            ro_admin::health::ReadinessResult::NoGo => "NO_GO",
            ro_admin::health::ReadinessResult::Unknown => "UNKNOWN",
        },
        (None, None) => "UNKNOWN",
    };
    let readiness = json!({
        "verdict": verdict,
        "latest_check": latest,
        "no_go_in_force": plane.readiness().no_go,
        "status": status,
        "posture": posture,
        "as_of": at,
    });
    let readiness_md = format!(
        "# Readiness report\n\n- As of: {at}\n- Verdict: **{verdict}**\n- Latest check: {}\n- \
         State: {} ({})\n- Safe to execute orders: {}\n- Safe to run strategies: {}\n- Posture: \
         lockdown {}, production locked {}, kill switch {}, NO-GO in force {}\n",
        latest.as_ref().map_or("none recorded".into(), |c| format!(
            "{} at {} (evidence {})",
            text(&json!(c.result)),
            c.at,
            c.evidence
        )),
        text(field(&status, "/state")),
        field(&status, "/reason_codes")
            .as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        text(field(&status, "/safety/safe_to_execute_orders")),
        text(field(&status, "/safety/safe_to_run_strategies")),
        plane.lockdown(),
        plane.production_locked(),
        plane.kill_switch(),
        plane.readiness().no_go.is_some(),
    );
    let deploy = ask(kernel, &PlaneQuery::DeployReport { environment: None }, at)?;
    let mut deploy_md = format!(
        "# Deploy report\n\n- As of: {at}\n\n| environment | service | version | artifact | rollout | health |\n|---|---|---|---|---|---|\n"
    );
    for s in field(&deploy, "/services").as_array().into_iter().flatten() {
        let d = field(s, "/deployment");
        deploy_md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            text(field(s, "/environment")),
            text(field(s, "/service")),
            text(field(d, "/spec/version")),
            text(field(d, "/spec/artifact/digest")),
            text(field(d, "/state")),
            text(field(s, "/health")),
        ));
    }
    let mission = ask(kernel, &PlaneQuery::MissionControl {}, at)?;
    let heartbeat = ask(kernel, &PlaneQuery::Heartbeat {}, at)?;
    let alerts = ask(kernel, &PlaneQuery::Alerts { open_only: false }, at)?;
    let jobs = plane.jobs();
    let config = json!({
        "jobs": jobs.jobs().map(|(_, j)| &j.definition).collect::<Vec<_>>(),
        "calendars": jobs.calendars().collect::<Vec<_>>(),
        "alert_routing": plane.alerts().config(),
        "streams": ask(kernel, &PlaneQuery::Streams {}, at)?,
        "principals": plane.policy().access().principals(),
        "roles": plane.policy().access().roles().keys().collect::<Vec<_>>(),
    });
    // What runs forever: the scheduled jobs and the watched components.
    let inventory = json!({
        "scheduled_jobs": jobs.jobs().filter(|(_, j)| j.definition.schedule.is_some()).map(|(id, j)| json!({
            "job_id": id,
            "version": j.definition.version,
            "schedule": j.definition.schedule,
            "read_only": j.definition.read_only,
            "paused": j.paused,
            "draining": j.draining,
        })).collect::<Vec<_>>(),
        "components": field(&mission, "/components"),
    });
    let since = at
        .checked_sub(time::Duration::days(1))
        .unwrap_or(Timestamp::MIN);
    let runs: Vec<Value> = jobs
        .runs()
        .filter(|(_, r)| r.attempts.iter().any(|a| a.updated_at_utc >= since && a.updated_at_utc <= at))
        .map(|(id, r)| json!({ "run_id": id, "job_id": r.job_id, "status": r.status, "attempts": r.attempt_records(id) }))
        .collect();
    let mut lkgs = Vec::new();
    let mut manifest_yaml = String::from("# Last-known-good deployments, pinned to digests.\n");
    for env in plane.deployments().environments() {
        if let Some(lkg) = plane.deployments().lkgs(&env.environment).last() {
            manifest_yaml.push_str(&format!(
                "- environment: {}\n  lkg: {}\n  captured_at: \"{}\"\n  services:\n",
                env.environment, lkg.lkg, lkg.captured_at
            ));
            for d in &lkg.deployments {
                manifest_yaml.push_str(&format!(
                    "    - service: {}\n      version: \"{}\"\n      artifact: \"{}\"\n      digest: \"{}\"\n",
                    d.service, d.version, d.artifact.locator, d.artifact.digest
                ));
            }
            lkgs.push(lkg);
        }
    }
    Ok(vec![
        ("alerts.json", pretty(&alerts)?),
        ("config_snapshot.json", pretty(&config)?),
        ("deploy_report.json", pretty(&deploy)?),
        ("deploy_report.md", deploy_md.into_bytes()),
        ("inventory.json", pretty(&inventory)?),
        ("lkg_manifest.yaml", manifest_yaml.into_bytes()),
        (
            "lkg_metadata.json",
            pretty(&json!({ "last_known_good": lkgs, "posture_now": posture }))?,
        ),
        ("readiness_report.json", pretty(&readiness)?),
        ("readiness_report.md", readiness_md.into_bytes()),
        (
            "runs.json",
            pretty(&json!({ "since": since, "until": at, "runs": runs }))?,
        ),
        (
            "status.json",
            pretty(
                &json!({ "bundle": kind.as_str(), "ops_status": status, "mission_control": mission, "heartbeat": heartbeat, "posture": posture }),
            )?,
        ),
    ])
}

fn manifest_of(
    kernel: &Kernel<Plane>,
    at: Timestamp,
    kind: Bundle,
    files: &[(&'static str, Vec<u8>)],
) -> Result<Value, HostError> {
    let head = kernel.head();
    let digest = kernel
        .state_digest()
        .map_err(|e| HostError::Encoding(e.to_string()))?;
    Ok(json!({
        "format": BUNDLE_FORMAT,
        "bundle": kind.as_str(),
        "at": at,
        "journal": {
            "plane_id": kernel.state().signing().plane_id().to_string(),
            "head_seq": head.seq,
            "head_hash": head.hash.to_string(),
            "state_digest": digest.to_string(),
        },
        "files": files.iter().map(|(name, bytes)| json!({
            "path": name,
            "blake3": Digest::of(bytes).to_string(),
            "bytes": bytes.len(),
        })).collect::<Vec<_>>(),
    }))
}

fn io(path: &Path, e: std::io::Error) -> HostError {
    HostError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// `20261204T143000Z`.
fn utc_name(at: Timestamp) -> String {
    let t = at.to_offset_date_time();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes a bundle of the plane at its head, at `at`, under `dir/ops_runs/`; returns the
/// manifest with the bundle's directory.
pub fn write_bundle(
    store: &Store,
    dir: &Path,
    kind: Bundle,
    at: Timestamp,
) -> Result<Value, HostError> {
    let kernel = store.kernel();
    let files = bundle_files(kernel, at, kind)?;
    let manifest = manifest_of(kernel, at, kind, &files)?;
    let runs = dir.join("ops_runs");
    std::fs::create_dir_all(&runs).map_err(|e| io(&runs, e))?;
    let name = format!("{}_{}", utc_name(at), kind.as_str());
    let target = runs.join(&name);
    if target.exists() {
        return Err(HostError::InvalidArgument(format!(
            "{} exists: evidence is never overwritten; write a new bundle at another instant",
            target.display()
        )));
    }
    // Built beside its place and renamed into it: a bundle is complete or absent.
    let partial = runs.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir(&partial).map_err(|e| io(&partial, e))?;
    let write = |path: PathBuf, bytes: &[u8]| -> Result<(), HostError> {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
        file.write_all(bytes).map_err(|e| io(&path, e))?;
        file.sync_all().map_err(|e| io(&path, e))
    };
    for (file, bytes) in &files {
        write(partial.join(file), bytes)?;
    }
    write(partial.join("manifest.json"), &pretty(&manifest)?)?;
    std::fs::rename(&partial, &target).map_err(|e| io(&target, e))?;
    // The latest reports where the playbook looks for them (overwritten each time).
    for latest in [
        "readiness_report.json",
        "readiness_report.md",
        "deploy_report.json",
        "deploy_report.md",
    ] {
        if let Some((_, bytes)) = files.iter().find(|(n, _)| *n == latest) {
            let path = dir.join(latest);
            let tmp = dir.join(format!(".{latest}.partial"));
            write(tmp.clone(), bytes)?;
            std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        }
    }
    Ok(json!({ "ok": true, "bundle_dir": target.display().to_string(), "manifest": manifest }))
}

/// Checks a bundle against its manifest and the journal. `Ok` with `ok: false` and the
/// problems when it does not verify.
pub fn verify_bundle(store: &Store, bundle_dir: &Path) -> Result<Value, HostError> {
    let manifest_path = bundle_dir.join("manifest.json");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).map_err(|e| io(&manifest_path, e))?)
            .map_err(|e| HostError::InvalidArgument(format!("{}: {e}", manifest_path.display())))?;
    let bad = |what: &str| HostError::InvalidArgument(format!("manifest.json: {what}"));
    if field(&manifest, "/format") != BUNDLE_FORMAT {
        return Err(bad(&format!("format is not {BUNDLE_FORMAT}")));
    }
    let kind = field(&manifest, "/bundle")
        .as_str()
        .and_then(Bundle::parse)
        .ok_or_else(|| bad("unknown bundle"))?;
    let at = field(&manifest, "/at")
        .as_str()
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .ok_or_else(|| bad("at is not an RFC 3339 instant"))?;
    let seq = field(&manifest, "/journal/head_seq")
        .as_u64()
        .ok_or_else(|| bad("no journal.head_seq"))?;
    let listed: Vec<(String, String)> = field(&manifest, "/files")
        .as_array()
        .ok_or_else(|| bad("no files"))?
        .iter()
        .map(|f| (text(field(f, "/path")), text(field(f, "/blake3"))))
        .collect();
    let mut problems: Vec<String> = Vec::new();
    // 1. The files on disk are the listed ones, with their digests.
    for (path, digest) in &listed {
        if path.contains('/') || path.starts_with('.') {
            problems.push(format!("{path}: not a file of the bundle"));
            continue;
        }
        match std::fs::read(bundle_dir.join(path)) {
            Ok(bytes) if Digest::of(&bytes).to_string() == *digest => {}
            Ok(_) => problems.push(format!("{path}: its digest differs from the manifest")),
            Err(e) => problems.push(format!("{path}: {e}")),
        }
    }
    let entries = std::fs::read_dir(bundle_dir).map_err(|e| io(bundle_dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "manifest.json" && !listed.iter().any(|(p, _)| *p == name) {
            problems.push(format!("{name}: not listed in the manifest"));
        }
    }
    // 2. The journal holds the manifest's head.
    let record = store.kernel().journal().get(seq);
    if record.map(|r| r.hash.to_string())
        != field(&manifest, "/journal/head_hash")
            .as_str()
            .map(str::to_owned)
    {
        problems.push(format!(
            "the journal's record {seq} is not the manifest's head (another plane, or a rewritten journal)"
        ));
    } else {
        // 3. The files rebuilt from the journal prefix are the files listed.
        let kernel = host::kernel_at(store, seq)?;
        let files = bundle_files(&kernel, at, kind)?;
        let rebuilt = manifest_of(&kernel, at, kind, &files)?;
        if field(&rebuilt, "/journal") != field(&manifest, "/journal") {
            problems
                .push("the plane rebuilt at head_seq has another state digest or plane id".into());
        }
        if field(&rebuilt, "/files") != field(&manifest, "/files") {
            for (path, digest) in &listed {
                let again = files
                    .iter()
                    .find(|(n, _)| n == path)
                    .map(|(_, b)| Digest::of(b).to_string());
                if again.as_deref() != Some(digest.as_str()) {
                    problems.push(format!("{path}: not what the journal gives at seq {seq}"));
                }
            }
            if files.len() != listed.len() {
                problems.push("the manifest does not list the bundle's files".into());
            }
        }
    }
    Ok(json!({
        "ok": problems.is_empty(),
        "bundle_dir": bundle_dir.display().to_string(),
        "head_seq": seq,
        "files_checked": listed.len(),
        "problems": problems,
    }))
}

/// Writes `dir/incident_<UUID>.json` for every incident; returns one line per file.
pub fn write_incidents(store: &Store, dir: &Path) -> Result<Vec<Value>, HostError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let plane = store.kernel().state();
    let plane_id = plane.signing().plane_id().to_string();
    let mut out = Vec::new();
    for incident in plane.registry().incidents() {
        let seq = incident.audit_seq;
        let Some(record) = store.kernel().journal().get(seq) else {
            continue;
        };
        let audit_hash = record.prev.to_string();
        let id = incident_id(&plane_id, &audit_hash);
        let kernel = host::kernel_at(store, seq)?;
        let at = incident.detected_at;
        let calendar = kernel.state().alerts().config().calendar.clone();
        let body = json!({
            "incident_id": id,
            "incident": incident.incident,
            "mode": incident.mode,
            "description": incident.description,
            "reported_by": incident.reported_by,
            "detected_at": at,
            "audit_seq": seq,
            "audit_hash": audit_hash,
            "snapshot_artifact": incident.snapshot,
            "state_snapshot": {
                "summary": host::summary(&kernel, json!({ "replayed_to_seq": seq }), None)?,
                "ops_status": ask(&kernel, &PlaneQuery::OpsStatus { calendar }, at)?,
                "heartbeat": ask(&kernel, &PlaneQuery::Heartbeat {}, at)?,
                "open_alerts": ask(&kernel, &PlaneQuery::Alerts { open_only: true }, at)?,
            },
            "reproduce": format!("ro --store STORE status --at-seq {seq}"),
        });
        let bytes = pretty(&body)?;
        let path = dir.join(format!("incident_{id}.json"));
        let written = match std::fs::read(&path) {
            Ok(existing) if existing == bytes => false,
            Ok(_) => {
                return Err(HostError::InvalidArgument(format!(
                    "{} exists with other content: it is not what this journal records (another \
                     plane's, or edited); move it away",
                    path.display()
                )));
            }
            Err(_) => {
                let tmp = dir.join(format!(".incident_{id}.partial"));
                std::fs::write(&tmp, &bytes).map_err(|e| io(&tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
                true
            }
        };
        out.push(json!({
            "incident_id": id,
            "file": path.display().to_string(),
            "blake3": Digest::of(&bytes).to_string(),
            "written": written,
        }));
    }
    Ok(out)
}
