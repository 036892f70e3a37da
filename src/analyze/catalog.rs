//! The finding catalog behind `tcpdiag explain` and docs/findings.md.

pub struct Entry {
    pub id: &'static str,
    pub severity: &'static str,
    pub meaning: &'static str,
    pub evidence: &'static str,
    pub causes: &'static str,
    pub check: &'static str,
}

pub const CATALOG: &[Entry] = &[];

pub fn explain(id: &str) -> Option<String> {
    CATALOG.iter().find(|e| e.id == id).map(render)
}

pub fn explain_all() -> String {
    CATALOG.iter().map(render).collect::<Vec<_>>().join("\n")
}

fn render(e: &Entry) -> String {
    format!(
        "{} ({})\n  meaning:  {}\n  evidence: {}\n  causes:   {}\n  check:    {}\n",
        e.id, e.severity, e.meaning, e.evidence, e.causes, e.check
    )
}
