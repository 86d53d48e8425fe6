//! The verification report: totals, counts by endpoint and by field, then every mismatch and
//! every URL that could not be fetched (class `fetch_failed`) — as text for a terminal or as
//! one JSON document (`--format json`). URLs and values pass through [`crate::redact`].

use super::Checked;
use crate::render::pyfmt::to_json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Counts of one endpoint.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct EndpointCounts {
    pub checked: usize,
    pub mismatched: usize,
}

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub checked: Vec<Checked>,
    /// Inputs not checked: what, and why.
    pub skipped: Vec<(String, String)>,
    /// Live URLs that could not be fetched after their retries: the URL, and the cause.
    pub failed: Vec<(String, String)>,
}

/// A pointer with its indices and index ranges as `*`: the field a mismatch is about.
pub fn field_of(pointer: &str) -> String {
    if pointer.is_empty() {
        return "/".into();
    }
    pointer
        .split('/')
        .map(|s| {
            let is_index = !s.is_empty()
                && s.split("..")
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if is_index {
                "*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl VerifyReport {
    pub fn matched(&self) -> usize {
        self.checked
            .iter()
            .filter(|c| c.mismatches.is_empty())
            .count()
    }

    pub fn mismatched(&self) -> usize {
        self.checked.len() - self.matched()
    }

    pub fn by_endpoint(&self) -> BTreeMap<&'static str, EndpointCounts> {
        let mut out: BTreeMap<&'static str, EndpointCounts> = BTreeMap::new();
        for c in &self.checked {
            let e = out.entry(c.endpoint).or_default();
            e.checked += 1;
            e.mismatched += usize::from(!c.mismatches.is_empty());
        }
        out
    }

    /// How many mismatches each field has (over all responses).
    pub fn by_field(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for m in self.checked.iter().flat_map(|c| &c.mismatches) {
            *out.entry(field_of(&m.pointer)).or_insert(0) += 1;
        }
        out
    }

    /// The report as text, secrets redacted.
    pub fn to_text(&self) -> String {
        crate::redact::redact(&self.text())
    }

    fn text(&self) -> String {
        let mut t = format!(
            "{} responses checked: {} match, {} differ; {} skipped",
            self.checked.len(),
            self.matched(),
            self.mismatched(),
            self.skipped.len()
        );
        if !self.failed.is_empty() {
            t.push_str(&format!("; {} could not be fetched", self.failed.len()));
        }
        t.push('\n');
        for (endpoint, c) in self.by_endpoint() {
            t.push_str(&format!(
                "  {endpoint:<10} {:>7} checked {:>7} differ\n",
                c.checked, c.mismatched
            ));
        }
        let fields = self.by_field();
        if !fields.is_empty() {
            t.push_str("mismatches by field:\n");
            for (field, n) in &fields {
                t.push_str(&format!("  {n:>7}  {field}\n"));
            }
        }
        for c in self.checked.iter().filter(|c| !c.mismatches.is_empty()) {
            t.push_str(&format!("\nGET {}\n", c.url));
            for m in &c.mismatches {
                let pointer = if m.pointer.is_empty() {
                    "/"
                } else {
                    &m.pointer
                };
                t.push_str(&format!(
                    "  {pointer}: expected {}, got {}\n",
                    shown(&m.expected),
                    shown(&m.actual)
                ));
            }
        }
        if !self.skipped.is_empty() {
            t.push_str(&format!("\nskipped ({}):\n", self.skipped.len()));
            for (what, why) in &self.skipped {
                t.push_str(&format!("  {what}: {why}\n"));
            }
        }
        if !self.failed.is_empty() {
            t.push_str(&format!("\nfetch_failed ({}):\n", self.failed.len()));
            for (url, cause) in &self.failed {
                t.push_str(&format!("  GET {url}: {cause}\n"));
            }
        }
        t
    }

    /// The report as one JSON document, secrets redacted in every string (values whole).
    pub fn to_json(&self) -> Value {
        let mut v = self.json();
        crate::redact::redact_json(&mut v);
        v
    }

    fn json(&self) -> Value {
        let endpoints: serde_json::Map<String, Value> = self
            .by_endpoint()
            .into_iter()
            .map(|(e, c)| {
                (
                    e.to_string(),
                    json!({"checked": c.checked, "mismatched": c.mismatched}),
                )
            })
            .collect();
        let mismatches: Vec<Value> = self
            .checked
            .iter()
            .flat_map(|c| {
                c.mismatches.iter().map(move |m| {
                    json!({"url": c.url, "pointer": m.pointer, "expected": m.expected, "actual": m.actual})
                })
            })
            .collect();
        json!({
            "checked": self.checked.len(),
            "matched": self.matched(),
            "mismatched": self.mismatched(),
            "skipped": self.skipped.len(),
            "by_endpoint": endpoints,
            "by_field": self.by_field(),
            "mismatches": mismatches,
            "skipped_inputs": self.skipped.iter().map(|(w, y)| json!({"input": w, "reason": y})).collect::<Vec<_>>(),
            "fetch_failed": self.failed.len(),
            "failures": self.failed.iter().map(|(u, c)| json!({"url": u, "class": "fetch_failed", "cause": c})).collect::<Vec<_>>(),
        })
    }
}

/// Longest value the text report prints in full (a 200 KB HTML body was one 207 KB line).
const SHOWN_BYTES: usize = 500;

/// `v` as JSON text, cut after [`SHOWN_BYTES`] with its size named (the JSON report holds it
/// whole).
fn shown(v: &Value) -> String {
    let text = to_json(v);
    if text.len() <= SHOWN_BYTES {
        return text;
    }
    let mut end = SHOWN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} bytes in all; --format json shows the whole value)",
        &text[..end],
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::{field_of, shown, SHOWN_BYTES};
    use serde_json::json;

    #[test]
    fn long_values_are_cut_in_the_text_report() {
        assert_eq!(shown(&json!("short")), "\"short\"");
        let long = json!("é".repeat(400));
        let cut = shown(&long);
        assert!(cut.len() < SHOWN_BYTES + 80, "{cut}");
        assert!(
            cut.ends_with("… (802 bytes in all; --format json shows the whole value)"),
            "{cut}"
        );
    }

    #[test]
    fn fields() {
        assert_eq!(
            field_of("/results/3/determination_score"),
            "/results/*/determination_score"
        );
        assert_eq!(
            field_of("/results/0..4/(tie group ids)"),
            "/results/*/(tie group ids)"
        );
        assert_eq!(field_of(""), "/");
        assert_eq!(field_of("(status)"), "(status)");
    }
}
