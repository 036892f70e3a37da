//! The finding contract: what every analyzer emits.

use serde::Serialize;
use serde_json::{Map, Value};

use super::cause::Cause;

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

impl Confidence {
    /// Its name in the JSON (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A symptom that several analyzers may explain; `verdict::decide` lets exactly one
/// finding explain each (one RST, one flow's resends, one silence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Symptom {
    /// The RST at this frame.
    Rst(u64),
    /// The resends of one direction of a flow (flow id, sender).
    Resends(u64, crate::model::Dir),
    /// The silence that ends a flow (flow id).
    Silence(u64),
    /// A flow's SYNs that went unanswered (flow id).
    Syns(u64),
}

/// Whether `hay.to_lowercase()` contains `needle.to_lowercase()`. For ASCII text
/// (every summary and clause so far) without the two lowercased copies.
fn contains_lowercased(hay: &str, needle: &str) -> bool {
    if !(hay.is_ascii() && needle.is_ascii()) {
        return hay.to_lowercase().contains(&needle.to_lowercase());
    }
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = needle.first() else {
        return true;
    };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    // Candidates: the needle's first letter in either case (found by memchr's
    // vector scan), each then compared whole.
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, &hay[..=last_start])
        .any(|i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
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
    /// The symptoms this finding explains (at most two).
    #[serde(skip)]
    pub claims: [Option<Symptom>; 2],
    /// Its cause, when the finding names one (also `evidence.cause`, and the hint).
    #[serde(skip)]
    pub cause: Option<Cause>,
    /// The cause is known from this host's own socket, not inferred from packets:
    /// it wins over any inference about the same symptom.
    #[serde(skip)]
    pub certain: bool,
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
            claims: [None, None],
            cause: None,
            certain: false,
        }
    }

    /// Bytes this finding holds (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        use crate::budget::{map_bytes, BLOCK_OVERHEAD};
        std::mem::size_of::<Finding>()
            + self.summary.capacity()
            + self.hint.capacity()
            + 2 * BLOCK_OVERHEAD
            + map_bytes(&self.evidence)
    }

    /// Says that this finding explains `symptom`.
    pub fn claim(mut self, symptom: Symptom) -> Self {
        if let Some(slot) = self.claims.iter_mut().find(|c| c.is_none()) {
            *slot = Some(symptom);
        }
        self
    }

    pub fn claimed(&self) -> impl Iterator<Item = Symptom> + '_ {
        self.claims.iter().flatten().copied()
    }

    /// Names the cause: `evidence.cause` and the hint follow from it.
    pub fn with_cause(mut self, cause: Cause) -> Self {
        self.set_cause(cause);
        self
    }

    /// Ends the summary by naming the cause, unless it already does: every finding
    /// that has a cause says it in words as well as in `evidence.cause`. Called once,
    /// when nothing can change the cause any more.
    pub fn name_cause(&mut self) {
        let Some(cause) = self.cause else { return };
        let clause = cause.clause();
        if contains_lowercased(&self.summary, clause) {
            return;
        }
        let t = self.summary.trim_end().trim_end_matches('.').len();
        self.summary.truncate(t);
        self.summary.push_str(". Cause: ");
        self.summary.push_str(clause);
        self.summary.push('.');
    }

    /// Sets (or corrects) the cause, with the hint that goes with it.
    pub fn set_cause(&mut self, cause: Cause) {
        self.cause = Some(cause);
        self.evidence
            .insert("cause".into(), Value::String(cause.name().into()));
        self.hint = cause.hint();
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

#[cfg(test)]
mod tests {
    use super::contains_lowercased;

    #[test]
    fn contains_as_lowercased_copies_would() {
        let cases = [
            ("The SYNs were lost. Cause: x", "the syns were lost"),
            ("abc", ""),
            ("", "a"),
            ("ab", "abc"),
            ("xxAbCxx", "aBc"),
            ("aab", "ab"),
            ("abc", "ABC"),
            ("xyz abC", "abc"),
            ("tat tHe end", "the end"),
            ("no match here", "match there"),
            ("Straße İstanbul", "istanbul"),
            ("ÀB", "àb"),
        ];
        for (hay, needle) in cases {
            assert_eq!(
                contains_lowercased(hay, needle),
                hay.to_lowercase().contains(&needle.to_lowercase()),
                "{hay:?} {needle:?}"
            );
        }
    }
}
