//! The outbox: every committed record's export line published to a NATS JetStream stream, in
//! seq order, each once. The message id is `<subject>:<seq>`, so the stream's duplicate window
//! drops a re-publish; on (re)connecting the outbox reads the last record the stream holds for
//! its subject and resumes after it, so a crash, a restart or a bus that was away loses and
//! repeats nothing. Commands never wait for the bus: the outbox follows the commits, and
//! `/health` and `/metrics` say how far behind it is.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream;
use serde_json::Value;

use super::{Shared, Stream};

/// Where the outbox publishes.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// The NATS server (`nats://HOST:PORT`).
    pub url: String,
    /// The JetStream stream (created if missing): letters, digits, `-` and `_`.
    pub stream: String,
    /// The subject every record is published on (`ro.journal.<plane>` by default).
    pub subject: String,
}

/// How long the stream remembers message ids (a re-publish within it is dropped).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The most publishes awaiting their acknowledgements at once.
const IN_FLIGHT: usize = 256;

impl OutboxConfig {
    /// Checks the names: a stream name without `.`, `*`, `>` or spaces, a subject of
    /// non-empty tokens without wildcards.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.stream.is_empty()
            && self
                .stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !name_ok {
            return Err(format!(
                "--outbox-stream {:?}: use letters, digits, '-' and '_'",
                self.stream
            ));
        }
        let subject_ok = self.subject.split('.').all(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        });
        if !subject_ok {
            return Err(format!(
                "--outbox-subject {:?}: dot-separated tokens of letters, digits, '-' and '_'",
                self.subject
            ));
        }
        Ok(())
    }
}

/// Publishes until shutdown, reconnecting (every second) while the bus is away.
pub(super) async fn run(shared: Arc<Shared>, config: OutboxConfig) {
    let mut stop = shared.shutdown.clone();
    loop {
        match publish(&shared, &config).await {
            Ok(()) => return,
            Err(e) => {
                shared
                    .metrics
                    .outbox_connected
                    .store(false, Ordering::Relaxed);
                if let Ok(mut last) = shared.outbox_error.lock() {
                    *last = Some(e);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The seq of a record's export line.
fn seq_of(payload: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(payload)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// Connects, resumes after the stream's last record and publishes every record after it, in
/// order; `Ok` at shutdown, `Err` when the bus fails.
async fn publish(shared: &Arc<Shared>, config: &OutboxConfig) -> Result<(), String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(config.url.as_str())
        .await
        .map_err(|e| format!("connecting to {}: {e}", config.url))?;
    let js = jetstream::new(client);
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: config.stream.clone(),
            subjects: vec![config.subject.clone()],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {}: {e}", config.stream))?;
    let last = match stream
        .get_last_raw_message_by_subject(&config.subject)
        .await
    {
        Ok(message) => seq_of(&message.payload).ok_or_else(|| {
            format!(
                "the last message on {} is not a record's export line",
                config.subject
            )
        })?,
        Err(e) if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => 0,
        Err(e) => {
            return Err(format!(
                "reading the last record on {}: {e}",
                config.subject
            ));
        }
    };
    let metrics = &shared.metrics;
    metrics.outbox_published.store(last, Ordering::Relaxed);
    metrics.outbox_connected.store(true, Ordering::Relaxed);
    if let Ok(mut error) = shared.outbox_error.lock() {
        *error = None;
    }
    let mut records = Stream {
        live: shared.records.subscribe(),
        pending: Default::default(),
        sent: last,
        stop: shared.shutdown.clone(),
        _subscribed: None,
        shared: Arc::clone(shared),
    };
    loop {
        let Some(first) = records.next().await else {
            return Ok(());
        };
        // What is already read and in order goes out together; the acknowledgements are
        // awaited after, in order.
        let mut batch = vec![first];
        while batch.len() < IN_FLIGHT
            && let Some(next) = records.ready()
        {
            batch.push(next);
        }
        let mut acks = Vec::with_capacity(batch.len());
        for (seq, line) in &batch {
            let publish = jetstream::context::Publish::build()
                .payload(line.as_bytes().to_vec().into())
                .message_id(format!("{}:{seq}", config.subject));
            let ack = js
                .send_publish(config.subject.clone(), publish)
                .await
                .map_err(|e| format!("publishing seq {seq}: {e}"))?;
            acks.push((*seq, ack));
        }
        for (seq, ack) in acks {
            ack.await
                .map_err(|e| format!("acknowledgement of seq {seq}: {e}"))?;
            metrics.outbox_published.store(seq, Ordering::Relaxed);
        }
    }
}
