//! Mission control: the host watches the services a file lists (`ro serve --services FILE`),
//! polling each one's `GET /ops/status` on its own task (one request at a time per service, so
//! a hung service delays no other), with a timeout and a fixed per-service offset. A service
//! that cannot be read (refused, too slow, not the status contract) is `OFFLINE` with the
//! reason. A change of state is recorded through the plane (a `REPORT_COMPONENT` with the
//! state and reason codes) only once it has been seen `confirm` times in a row, so a flapping
//! service is damped and the journal holds each change, not each poll. The read-only API
//! (`GET /v1/mission-control`, `GET /v1/mission-control/{service}`) answers from memory;
//! mission control's own state is `OK` whatever its services' states are.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ro_admin::health::{ComponentName, ServiceState};
use ro_core::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Shared, clock, internal};

/// The services file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesFile {
    /// How often each service is polled, in milliseconds (at least 100; default 5,000).
    #[serde(default = "default_every")]
    pub every_ms: u64,
    /// How long a poll may take, in milliseconds (less than `every_ms`; default 2,000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// How many polls in a row a new state needs before it is recorded (1 to 10; default 2).
    #[serde(default = "default_confirm")]
    pub confirm: u32,
    /// The services.
    pub services: Vec<Service>,
}

/// A watched service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Its name (a component name: the plane records it under this name).
    pub name: ComponentName,
    /// Its base URL (`http://HOST:PORT`, optionally a path prefix): `/ops/status` is polled.
    pub url: String,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<String>,
    /// Whether it depends on market hours (shown; `MARKET_CLOSED` is its normal state outside).
    #[serde(default)]
    pub market_hours: bool,
}

fn default_every() -> u64 {
    5_000
}
fn default_timeout() -> u64 {
    2_000
}
fn default_confirm() -> u32 {
    2
}

/// The most services one host watches.
pub const MAX_SERVICES: usize = 500;

/// The largest status answer read, in bytes.
const MAX_ANSWER: u64 = 1 << 20;

/// How many transitions are kept per service for the API.
const KEPT_TRANSITIONS: usize = 32;

impl ServicesFile {
    /// Reads and checks the file.
    pub fn load(path: &std::path::Path) -> Result<ServicesFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--services {}: {e}", path.display()))?;
        let file: ServicesFile = serde_json::from_str(&text)
            .map_err(|e| format!("--services {}: {e}", path.display()))?;
        file.check()
            .map_err(|e| format!("--services {}: {e}", path.display()))?;
        Ok(file)
    }

    fn check(&self) -> Result<(), String> {
        if self.every_ms < 100 {
            return Err("every_ms is at least 100".into());
        }
        if self.timeout_ms == 0 || self.timeout_ms >= self.every_ms {
            return Err("timeout_ms is more than 0 and less than every_ms".into());
        }
        if !(1..=10).contains(&self.confirm) {
            return Err("confirm is 1 to 10".into());
        }
        if self.services.len() > MAX_SERVICES {
            return Err(format!("at most {MAX_SERVICES} services"));
        }
        let mut names = std::collections::BTreeSet::new();
        for service in &self.services {
            if !names.insert(service.name.as_str()) {
                return Err(format!("service {} is listed twice", service.name));
            }
            target(&service.url).map_err(|e| format!("service {}: {e}", service.name))?;
        }
        Ok(())
    }
}

/// `http://HOST:PORT[/PREFIX]` → (`HOST:PORT`, the status path).
fn target(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("url {url:?}: only http://HOST:PORT[/PREFIX] is watched"))?;
    let (authority, prefix) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    if authority.is_empty() || !authority.contains(':') {
        return Err(format!("url {url:?}: name the port (http://HOST:PORT)"));
    }
    let path = if prefix == "/" {
        "/ops/status".to_owned()
    } else {
        format!("{prefix}/ops/status")
    };
    Ok((authority.to_owned(), path))
}

/// What one poll saw.
#[derive(Debug, Clone, PartialEq)]
struct Observation {
    state: ServiceState,
    reasons: Vec<String>,
    is_fresh: Option<bool>,
    safety: Value,
}

impl Observation {
    fn offline(why: String) -> Observation {
        Observation {
            state: ServiceState::Offline,
            reasons: vec![why],
            is_fresh: None,
            safety: Value::Null,
        }
    }
}

fn state_name(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Ok => "OK",
        ServiceState::MarketClosed => "MARKET_CLOSED",
        ServiceState::Halted => "HALTED",
        ServiceState::Offline => "OFFLINE",
    }
}

/// One service's standing, as the API shows it.
#[derive(Debug)]
struct Watched {
    service: Service,
    /// The recorded state (after damping), and since when.
    recorded: Option<(Observation, Timestamp)>,
    /// A different state seen, and how many times in a row.
    candidate: Option<(Observation, u32)>,
    /// The last poll's observation and time.
    last: Option<(Observation, Timestamp)>,
    transitions: VecDeque<Value>,
}

/// Every watched service.
pub(super) struct Mission {
    file: ServicesFile,
    watched: Vec<Mutex<Watched>>,
    /// The overview as last rendered (after each poll): a request reads it, nothing more.
    rendered: RwLock<Arc<str>>,
}

impl Mission {
    pub(super) fn new(file: ServicesFile) -> Mission {
        let watched = file
            .services
            .iter()
            .map(|service| {
                Mutex::new(Watched {
                    service: service.clone(),
                    recorded: None,
                    candidate: None,
                    last: None,
                    transitions: VecDeque::new(),
                })
            })
            .collect();
        let mission = Mission {
            file,
            watched,
            rendered: RwLock::new(Arc::from("")),
        };
        mission.render();
        mission
    }

    /// Renders the overview (`as_of`: now, the time of the latest poll).
    fn render(&self) {
        let services: Vec<Value> = self
            .watched
            .iter()
            .filter_map(|w| w.lock().ok().map(|w| row(&w)))
            .collect();
        let text = json!({ "state": "OK", "as_of": clock(), "services": services }).to_string();
        if let Ok(mut rendered) = self.rendered.write() {
            *rendered = Arc::from(text);
        }
    }

    /// `GET /v1/mission-control`: the overview as of the latest poll.
    pub(super) fn overview(&self) -> Arc<str> {
        self.rendered
            .read()
            .map(|r| Arc::clone(&r))
            .unwrap_or_else(|_| Arc::from(""))
    }

    /// `GET /v1/mission-control/{service}`; `None` for a service not watched.
    pub(super) fn service(&self, name: &str) -> Option<Value> {
        let watched = self
            .watched
            .iter()
            .filter_map(|w| w.lock().ok())
            .find(|w| w.service.name.as_str() == name)?;
        let mut out = row(&watched);
        if let Some(map) = out.as_object_mut() {
            map.insert(
                "transitions".into(),
                Value::Array(watched.transitions.iter().rev().cloned().collect()),
            );
        }
        Some(out)
    }
}

fn row(w: &Watched) -> Value {
    let recorded = w.recorded.as_ref();
    let last = w.last.as_ref();
    json!({
        "service": w.service.name.as_str(),
        "owner": w.service.owner,
        "market_hours": w.service.market_hours,
        "state": recorded.map(|(o, _)| state_name(o.state)),
        "reason_codes": recorded.map(|(o, _)| o.reasons.clone()).unwrap_or_default(),
        "is_fresh": recorded.and_then(|(o, _)| o.is_fresh),
        "safety": recorded.map(|(o, _)| o.safety.clone()).unwrap_or(Value::Null),
        "since": recorded.map(|(_, at)| *at),
        "last_seen": last.map(|(_, at)| *at),
        "last_observed": last.map(|(o, _)| state_name(o.state)),
    })
}

/// Starts one watcher per service.
pub(super) fn spawn(
    shared: &Arc<Shared>,
    mission: &Arc<Mission>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..mission.watched.len())
        .map(|i| tokio::spawn(watch(Arc::clone(shared), Arc::clone(mission), i)))
        .collect()
}

async fn watch(shared: Arc<Shared>, mission: Arc<Mission>, index: usize) {
    let Some(slot) = mission.watched.get(index) else {
        return;
    };
    let Ok((authority, path)) = slot
        .lock()
        .map_err(drop)
        .and_then(|w| target(&w.service.url).map_err(drop))
    else {
        return;
    };
    let every = Duration::from_millis(mission.file.every_ms);
    let timeout = Duration::from_millis(mission.file.timeout_ms);
    // A fixed offset per service spreads the polls over the interval.
    let offset = slot.lock().map_or(0, |w| {
        let digest = blake3::hash(w.service.name.as_str().as_bytes());
        u64::from(digest.as_bytes().first().copied().unwrap_or(0)) * mission.file.every_ms / 256
    });
    let mut stop = shared.shutdown.clone();
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(offset)) => {}
        _ = stop.changed() => return,
    }
    loop {
        let seen = poll(&authority, &path, timeout).await;
        let now = clock();
        let change = slot
            .lock()
            .ok()
            .and_then(|mut w| observe(&mut w, seen, now, mission.file.confirm));
        mission.render();
        if let Some((doc, transition)) = change {
            let answers = internal(&shared, vec![doc]).await;
            let answer = answers.first().cloned().unwrap_or(Value::Null);
            let mut transition = transition;
            if let Some(map) = transition.as_object_mut() {
                map.insert(
                    "recorded_seq".into(),
                    answer
                        .pointer("/events/0/seq")
                        .cloned()
                        .unwrap_or(Value::Null),
                );
                if answer.get("ok") != Some(&Value::Bool(true)) {
                    map.insert(
                        "not_recorded".into(),
                        answer.get("error").cloned().unwrap_or(Value::Null),
                    );
                }
            }
            if let Ok(mut w) = slot.lock() {
                w.transitions.push_back(transition);
                while w.transitions.len() > KEPT_TRANSITIONS {
                    w.transitions.pop_front();
                }
            }
            mission.render();
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Takes one poll's observation; returns the document recording a confirmed change and the
/// transition to keep, when there is one.
fn observe(
    w: &mut Watched,
    seen: Observation,
    now: Timestamp,
    confirm: u32,
) -> Option<(String, Value)> {
    w.last = Some((seen.clone(), now));
    let same_as_recorded = w
        .recorded
        .as_ref()
        .is_some_and(|(o, _)| o.state == seen.state && o.reasons == seen.reasons);
    if same_as_recorded {
        // Freshness and safety may move without a change of state.
        if let Some((o, _)) = &mut w.recorded {
            *o = seen;
        }
        w.candidate = None;
        return None;
    }
    let count = match &w.candidate {
        Some((c, n)) if c.state == seen.state && c.reasons == seen.reasons => n + 1,
        _ => 1,
    };
    if count < confirm {
        w.candidate = Some((seen, count));
        return None;
    }
    w.candidate = None;
    let from = w.recorded.as_ref().map(|(o, _)| state_name(o.state));
    let to = state_name(seen.state);
    let healthy = matches!(seen.state, ServiceState::Ok | ServiceState::MarketClosed);
    let doc = json!({
        "type": "REPORT_COMPONENT",
        "component": w.service.name.as_str(),
        "healthy": healthy,
        // Recorded on change only: the report stays fresh for a day.
        "fresh_for_ms": ro_admin::health::MAX_FRESH_FOR_MS,
        "state": to,
        "reason_codes": seen.reasons,
    })
    .to_string();
    let transition = json!({ "at": now, "from": from, "to": to, "reason_codes": seen.reasons,
                             "observations": count });
    w.recorded = Some((seen, now));
    Some((doc, transition))
}

/// One `GET /ops/status`, within `timeout`.
async fn poll(authority: &str, path: &str, timeout: Duration) -> Observation {
    let request = async {
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| format!("UNREACHABLE: {e}"))?;
        let _ = stream.set_nodelay(true);
        stream
            .write_all(
                format!(
                    "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .map_err(|e| format!("UNREACHABLE: {e}"))?;
        let mut raw = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| format!("UNREACHABLE: {e}"))?;
        Ok::<Vec<u8>, String>(raw)
    };
    let raw = match tokio::time::timeout(timeout, request).await {
        Err(_) => {
            return Observation::offline(format!(
                "TIMEOUT: no answer within {} ms",
                timeout.as_millis()
            ));
        }
        Ok(Err(why)) => return Observation::offline(why),
        Ok(Ok(raw)) if raw.is_empty() => {
            return Observation::offline("UNREACHABLE: the connection closed unanswered".into());
        }
        Ok(Ok(raw)) => raw,
    };
    match parse(&raw) {
        Ok(seen) => seen,
        Err(why) => Observation::offline(format!("MALFORMED: {why}")),
    }
}

/// An HTTP answer carrying the status contract.
fn parse(raw: &[u8]) -> Result<Observation, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "not an HTTP answer".to_owned())?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    let value: Value =
        serde_json::from_str(&body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let state = match value.pointer("/status/state").and_then(Value::as_str) {
        Some("OK") => ServiceState::Ok,
        Some("MARKET_CLOSED") => ServiceState::MarketClosed,
        Some("HALTED") => ServiceState::Halted,
        Some(other) => {
            return Err(format!(
                "status.state {other:?} is not OK, MARKET_CLOSED or HALTED"
            ));
        }
        None => return Err("no status.state".into()),
    };
    let mut reasons: Vec<String> = value
        .pointer("/status/reason_codes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    reasons.retain(|r| {
        !r.is_empty()
            && r.len() <= ro_admin::health::MAX_REASON_CODE_BYTES
            && !r.chars().any(char::is_control)
    });
    reasons.truncate(ro_admin::health::MAX_REASON_CODES);
    Ok(Observation {
        state,
        reasons,
        is_fresh: value
            .pointer("/marketdata/is_fresh")
            .and_then(Value::as_bool),
        safety: value.get("safety").cloned().unwrap_or(Value::Null),
    })
}

fn dechunk(mut body: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body
            .split_once("\r\n")
            .ok_or_else(|| "a chunk is cut short".to_owned())?;
        let size =
            usize::from_str_radix(size.trim(), 16).map_err(|_| "a bad chunk size".to_owned())?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(
            rest.get(..size)
                .ok_or_else(|| "a chunk is cut short".to_owned())?,
        );
        body = rest.get(size + 2..).unwrap_or_default();
    }
}
