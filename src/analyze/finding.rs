//! The finding contract: what every analyzer emits.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    /// The flow it concerns; None for capture-wide findings.
    pub flow: Option<u64>,
    /// Epoch seconds of the moment the finding points at.
    pub at: f64,
    pub summary: String,
    pub evidence: Map<String, Value>,
    pub confidence: Confidence,
    pub hint: String,
}

impl Finding {
    pub fn new(id: &'static str, severity: Severity, flow: Option<u64>, at: f64) -> Finding {
        Finding {
            id,
            severity,
            flow,
            at: crate::model::time::round_us(at),
            summary: String::new(),
            evidence: Map::new(),
            confidence: Confidence::High,
            hint: String::new(),
        }
    }

    pub fn summary(mut self, s: impl Into<String>) -> Self {
        self.summary = s.into();
        self
    }

    pub fn hint(mut self, s: impl Into<String>) -> Self {
        self.hint = s.into();
        self
    }

    pub fn confidence(mut self, c: Confidence) -> Self {
        self.confidence = c;
        self
    }

    pub fn evidence(mut self, key: &str, v: impl Serialize) -> Self {
        self.evidence.insert(
            key.to_string(),
            serde_json::to_value(v).unwrap_or(Value::Null),
        );
        self
    }
}
