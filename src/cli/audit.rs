//! `occlens audit`: differences between stored and expected determinations (with their class),
//! counts per class and per project, and the occurrences the API hides, per reason.

use super::args::{AuditArgs, AuditFormat};
use occlens::engine::audit::Audit;
use occlens::engine::rows::Row;
use occlens::render::pyfmt::to_json_pretty;
use occlens::{Engine, Error, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

const DIFFERENCE: [&str; 7] = [
    "id",
    "project_id",
    "class",
    "stored_taxon_id",
    "stored_score",
    "expected_taxon_id",
    "expected_score",
];

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Counts of `key` over `rows`, in key order.
fn counts(rows: &[Row], key: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        let k = match r.get(key) {
            None | Some(Value::Null) => "(none)".to_string(),
            v => text(v),
        };
        *out.entry(k).or_insert(0) += 1;
    }
    out
}

/// An aligned table with a header rule, like DuckDB's plain output.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = line(head.to_vec());
    out += &line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

fn count_table(head: &str, counts: &BTreeMap<String, usize>) -> String {
    let rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(k, n)| vec![k.clone(), n.to_string()])
        .collect();
    table(&[head, "occurrences"], &rows)
}

fn render_table(a: &Audit) -> String {
    let mut out = format!(
        "{} of {} valid occurrences hold a determination other than the one Antenna's write path gives (spec §3.6)\n",
        a.differences.len(),
        a.valid
    );
    if !a.differences.is_empty() {
        let rows: Vec<Vec<String>> = a
            .differences
            .iter()
            .map(|r| DIFFERENCE.iter().map(|k| text(r.get(*k))).collect())
            .collect();
        out += "\n";
        out += &table(&DIFFERENCE, &rows);
        out += "\nby class:\n";
        out += &count_table("class", &counts(&a.differences, "class"));
        out += "\nby project:\n";
        out += &count_table("project_id", &counts(&a.differences, "project_id"));
    }
    out += &format!(
        "\n{} occurrences are hidden by the API as invalid (spec §3.1)\n",
        a.invalid.len()
    );
    if !a.invalid.is_empty() {
        out += &count_table("reason", &counts(&a.invalid, "reason"));
    }
    out
}

fn render_csv(a: &Audit) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Query(format!("writing CSV: {e}"));
    let mut head = vec!["kind"];
    head.extend(DIFFERENCE);
    w.write_record(&head).map_err(err)?;
    for r in &a.differences {
        let mut cells = vec!["difference".to_string()];
        cells.extend(DIFFERENCE.iter().map(|k| text(r.get(*k))));
        w.write_record(&cells).map_err(err)?;
    }
    for r in &a.invalid {
        let cells = [
            "invalid".to_string(),
            text(r.get("id")),
            text(r.get("project_id")),
            text(r.get("reason")),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        w.write_record(&cells).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Query(format!("writing CSV: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn render_json(a: &Audit) -> String {
    to_json_pretty(&json!({
        "valid_occurrences": a.valid,
        "differences": a.differences,
        "by_class": counts(&a.differences, "class"),
        "by_project": counts(&a.differences, "project_id"),
        "invalid": a.invalid,
        "invalid_by_reason": counts(&a.invalid, "reason"),
    })) + "\n"
}

pub async fn audit(engine: &Engine, args: &AuditArgs) -> Result<ExitCode> {
    let a = engine.audit(args.project).await?;
    let out = match args.format {
        AuditFormat::Table => render_table(&a),
        AuditFormat::Csv => render_csv(&a)?,
        AuditFormat::Json => render_json(&a),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::Io {
            path: "stdout".into(),
            source: e,
        })?;
    Ok(ExitCode::SUCCESS)
}
