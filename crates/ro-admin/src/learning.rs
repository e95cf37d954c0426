//! Online learning: the metrics the governed system reports for its models, and the
//! experiences it kept out of learning (the quarantine).
//!
//! - `REPORT_ML_METRICS`: a registered model's latest figures (`{"auc": "0.91"}`), held as
//!   exact decimal text; `HEARTBEAT.online_ml_metrics` shows the active and candidate models'.
//! - `QUARANTINE_EXPERIENCE`: an experience blocked from learning, with a reason code and
//!   optional evidence; the `QUARANTINE` query lists them and `HEARTBEAT` counts them. A
//!   quarantined experience stays recorded: nothing here is ever deleted.
//!
//! Both are observations: they pass a lockdown (learning is frozen, its records are not).

use std::collections::BTreeMap;
use std::fmt;

use ro_artifacts::{Locator, ModelVersion};
use ro_core::{ActorId, Context, EventMeta, Reason, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection};

/// The most figures one report holds.
pub const MAX_METRICS: usize = 32;
/// The longest detail of a quarantine record, in bytes.
pub const MAX_DETAIL_BYTES: usize = 512;

ro_core::id_kind!(
    /// Names a metric (`auc`, `drift_psi`).
    MetricName,
    MetricTag,
    "metric name"
);

ro_core::id_kind!(
    /// Identifies an experience (a sample) of the governed system.
    ExperienceId,
    ExperienceTag,
    "experience id"
);

/// A decimal number held exactly as its text (`"0.91"`, `"-3"`, `"1e-3"`): never a double.
/// Decodes from a string or an integer.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(try_from = "DecimalInput", into = "String")]
#[schemars(with = "String", extend("pattern" = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"))]
pub struct Decimal(String);

/// What a [`Decimal`] decodes from.
#[derive(Deserialize)]
#[serde(untagged)]
enum DecimalInput {
    Text(String),
    Integer(i64),
}

impl TryFrom<DecimalInput> for Decimal {
    type Error = String;
    fn try_from(input: DecimalInput) -> Result<Self, String> {
        let text = match input {
            DecimalInput::Text(t) => t,
            DecimalInput::Integer(n) => n.to_string(),
        };
        if is_decimal(&text) {
            Ok(Decimal(text))
        } else {
            Err(format!(
                "{:?} is not a decimal number (e.g. \"0.91\", \"-3\", \"1e-3\")",
                text.chars().take(40).collect::<String>()
            ))
        }
    }
}

fn is_decimal(text: &str) -> bool {
    fn digits(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
    }
    if text.len() > 64 {
        return false;
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

impl From<Decimal> for String {
    fn from(d: Decimal) -> String {
        d.0
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A model's latest figures.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct MetricsReport {
    /// When they were reported.
    pub at: Timestamp,
    /// The figures, by name.
    pub metrics: BTreeMap<MetricName, Decimal>,
}

/// An experience kept out of learning.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Quarantined {
    /// The experience.
    pub experience: ExperienceId,
    /// Why, as a code (`A-Z`, `0-9`, `_`).
    pub reason_code: String,
    /// What was seen.
    pub detail: String,
    /// The experience itself or what shows the problem (a registered artifact), if any.
    pub evidence: Option<Locator>,
    /// Who quarantined it.
    pub by: ActorId,
    /// Why, in words (absent on records written before the reason was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// The online-learning records.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Learning {
    metrics: BTreeMap<ModelVersion, MetricsReport>,
    quarantine: BTreeMap<ExperienceId, (Quarantined, Timestamp)>,
}

/// One row of the `QUARANTINE` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct QuarantineView {
    /// The record.
    #[serde(flatten)]
    pub record: Quarantined,
    /// When it was quarantined.
    pub at: Timestamp,
}

impl Learning {
    /// The latest figures of `model`.
    pub fn metrics(&self, model: &ModelVersion) -> Option<&MetricsReport> {
        self.metrics.get(model)
    }

    /// How many experiences are quarantined.
    pub fn quarantined(&self) -> u64 {
        self.quarantine.len() as u64
    }

    /// Every quarantined experience, by id.
    pub fn quarantine(&self) -> Vec<QuarantineView> {
        self.quarantine
            .values()
            .map(|(record, at)| QuarantineView {
                record: record.clone(),
                at: *at,
            })
            .collect()
    }
}

impl Plane {
    /// The online-learning records.
    pub fn learning(&self) -> &Learning {
        &self.learning
    }

    pub(crate) fn decide_learning(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let invalid = |m: String| Err(PlaneRejection::InvalidArgument(m));
        match admin {
            AdminCommand::ReportMlMetrics { model, metrics } => {
                if self.artifacts.model(model).is_none() {
                    return invalid(format!(
                        "model {model} is not registered; register it with REGISTER_MODEL"
                    ));
                }
                if metrics.is_empty() || metrics.len() > MAX_METRICS {
                    return invalid(format!("a report holds 1 to {MAX_METRICS} metrics"));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::MlMetricsReported {
                    model: model.clone(),
                    metrics: metrics.clone(),
                })])
            }
            AdminCommand::QuarantineExperience {
                experience,
                reason_code,
                detail,
                evidence,
            } => {
                let code_ok = (1..=64).contains(&reason_code.len())
                    && reason_code
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !code_ok {
                    return invalid("reason_code is 1 to 64 characters of A-Z, 0-9 and _".into());
                }
                if detail.len() > MAX_DETAIL_BYTES {
                    return invalid(format!("detail is at most {MAX_DETAIL_BYTES} bytes"));
                }
                if let Some(e) = evidence
                    && self.artifacts.artifact(e).is_none()
                {
                    return invalid(format!("evidence {e} is not a registered artifact"));
                }
                if self.learning.quarantine.contains_key(experience) {
                    // Quarantined already: the first record stands.
                    return Ok(Vec::new());
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::ExperienceQuarantined(
                    Quarantined {
                        experience: experience.clone(),
                        reason_code: reason_code.clone(),
                        detail: detail.clone(),
                        evidence: evidence.clone(),
                        by: ctx.actor.id.clone(),
                        reason: ctx.reason.clone(),
                    },
                ))])
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_learning(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        match event {
            AdminEvent::MlMetricsReported { model, metrics } => {
                self.learning.metrics.insert(
                    model.clone(),
                    MetricsReport {
                        at: meta.at,
                        metrics: metrics.clone(),
                    },
                );
            }
            AdminEvent::ExperienceQuarantined(record) => {
                self.learning
                    .quarantine
                    .insert(record.experience.clone(), (record.clone(), meta.at));
            }
            _ => {}
        }
    }
}

/// The audit record's shape of a learning event: a quarantine is an admin action (metrics are
/// observations).
pub(crate) fn classify(event: &AdminEvent) -> Option<crate::audit::Classified> {
    match event {
        AdminEvent::ExperienceQuarantined(q) => crate::audit::applied(
            ro_policy::Action::QuarantineExperience,
            vec![format!("experience:{}", q.experience)],
            &q.reason,
            (
                serde_json::Value::Null,
                serde_json::json!({ "reason_code": q.reason_code, "detail": q.detail, "evidence": q.evidence }),
            ),
        ),
        _ => None,
    }
}
