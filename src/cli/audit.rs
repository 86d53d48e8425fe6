//! `occlens audit`: differences between stored and expected determinations (with their class),
//! counts per class and per project, and the occurrences the API hides, per reason.

use super::args::{AuditArgs, AuditFormat};
use datafusion::execution::SendableRecordBatchStream;
use futures::TryStreamExt;
use occlens::engine::audit::AuditStreams;
use occlens::engine::rows::{to_rows, Row};
use occlens::render::pyfmt::{to_json, to_json_pretty};
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

/// Differences the table lists (every one is counted); CSV and JSON list them all.
const TABLE_ROWS: usize = 40;

/// The hidden occurrences, compactly (the JSON report and the table count them before the
/// differences): id, project, index of the reason.
#[derive(Default)]
struct Invalid {
    rows: Vec<(Value, Value, usize)>,
    reasons: Vec<String>,
}

impl Invalid {
    async fn collect(mut stream: SendableRecordBatchStream) -> Result<Invalid> {
        let mut invalid = Invalid::default();
        while let Some(batch) = stream.try_next().await? {
            for r in to_rows(&[batch])? {
                let reason = text(r.get("reason"));
                let k = match invalid.reasons.iter().position(|x| *x == reason) {
                    Some(k) => k,
                    None => {
                        invalid.reasons.push(reason);
                        invalid.reasons.len() - 1
                    }
                };
                let field = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
                invalid.rows.push((field("id"), field("project_id"), k));
            }
        }
        Ok(invalid)
    }

    fn row(&self, i: usize) -> Row {
        let (id, project, reason) = &self.rows[i];
        let mut row = Row::new();
        row.insert("id".into(), id.clone());
        row.insert("project_id".into(), project.clone());
        row.insert("reason".into(), Value::from(self.reasons[*reason].clone()));
        row
    }

    fn by_reason(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for (_, _, k) in &self.rows {
            *out.entry(self.reasons[*k].clone()).or_insert(0) += 1;
        }
        out
    }
}

/// Counts of a row's `key` (a missing or null value counts as "(none)").
fn count(counts: &mut BTreeMap<String, usize>, row: &Row, key: &str) {
    let k = match row.get(key) {
        None | Some(Value::Null) => "(none)".to_string(),
        v => text(v),
    };
    *counts.entry(k).or_insert(0) += 1;
}

/// Every difference, batch by batch, to `each` (with its running counts by class and project).
async fn each_difference(
    mut stream: SendableRecordBatchStream,
    mut each: impl FnMut(Row) -> Result<()>,
) -> Result<(usize, BTreeMap<String, usize>, BTreeMap<String, usize>)> {
    let (mut n, mut by_class, mut by_project) = (0, BTreeMap::new(), BTreeMap::new());
    while let Some(batch) = stream.try_next().await? {
        for row in to_rows(&[batch])? {
            n += 1;
            count(&mut by_class, &row, "class");
            count(&mut by_project, &row, "project_id");
            each(row)?;
        }
    }
    Ok((n, by_class, by_project))
}

fn io(e: std::io::Error) -> Error {
    Error::Io {
        path: "stdout".into(),
        source: e,
    }
}

async fn write_table(streams: AuditStreams, out: &mut impl Write) -> Result<()> {
    let invalid = Invalid::collect(streams.invalid).await?;
    let valid = streams.occurrences - invalid.rows.len() as i64;
    let mut shown: Vec<Vec<String>> = Vec::new();
    let (n, by_class, by_project) = each_difference(streams.differences.open().await?, |r| {
        if shown.len() < TABLE_ROWS {
            shown.push(DIFFERENCE.iter().map(|k| text(r.get(*k))).collect());
        }
        Ok(())
    })
    .await?;
    let mut text = format!(
        "{n} of {valid} valid occurrences hold a determination other than the one Antenna's write path gives (spec §3.6)\n",
    );
    if n > 0 {
        text += "\n";
        text += &table(&DIFFERENCE, &shown);
        if n > shown.len() {
            text += &format!(
                "… and {} more (--format csv or json lists every one)\n",
                n - shown.len()
            );
        }
        text += "\nby class:\n";
        text += &count_table("class", &by_class);
        text += "\nby project:\n";
        text += &count_table("project_id", &by_project);
    }
    text += &format!(
        "\n{} occurrences are hidden by the API as invalid (spec §3.1)\n",
        invalid.rows.len()
    );
    if !invalid.rows.is_empty() {
        text += &count_table("reason", &invalid.by_reason());
    }
    out.write_all(text.as_bytes()).map_err(io)
}

async fn write_csv(streams: AuditStreams, out: &mut impl Write) -> Result<()> {
    let err = |e: csv::Error| Error::Query(format!("writing CSV: {e}"));
    let invalid = Invalid::collect(streams.invalid).await?;
    let mut w = csv::Writer::from_writer(out);
    let mut head = vec!["kind"];
    head.extend(DIFFERENCE);
    w.write_record(&head).map_err(err)?;
    each_difference(streams.differences.open().await?, |r| {
        let mut cells = vec!["difference".to_string()];
        cells.extend(DIFFERENCE.iter().map(|k| text(r.get(*k))));
        w.write_record(&cells).map_err(err)
    })
    .await?;
    for (id, project, reason) in &invalid.rows {
        let cells = [
            "invalid".to_string(),
            text(Some(id)),
            text(Some(project)),
            invalid.reasons[*reason].clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        w.write_record(&cells).map_err(err)?;
    }
    w.flush().map_err(io)
}

/// `value` pretty-printed as a member of the report's top-level object (indented by 2).
fn member(key: &str, value: &Value, last: bool) -> String {
    let text = to_json_pretty(value).replace('\n', "\n  ");
    format!(
        "  {}: {text}{}\n",
        to_json(&Value::from(key)),
        if last { "" } else { "," }
    )
}

/// An array member of the report's top-level object, written element by element.
struct JsonArray {
    any: bool,
}

impl JsonArray {
    fn start(out: &mut impl Write, key: &str) -> Result<JsonArray> {
        write!(out, "  {}: [", to_json(&Value::from(key))).map_err(io)?;
        Ok(JsonArray { any: false })
    }

    fn push(&mut self, out: &mut impl Write, value: &Value) -> Result<()> {
        let text = to_json_pretty(value).replace('\n', "\n    ");
        let sep: &[u8] = if std::mem::replace(&mut self.any, true) {
            b",\n    "
        } else {
            b"\n    "
        };
        out.write_all(sep)
            .and_then(|_| out.write_all(text.as_bytes()))
            .map_err(io)
    }

    fn end(self, out: &mut impl Write) -> Result<()> {
        out.write_all(if self.any { b"\n  ],\n" } else { b"],\n" })
            .map_err(io)
    }
}

/// The JSON report, as `to_json_pretty` of one object prints it, written as the rows come.
async fn write_json(streams: AuditStreams, out: &mut impl Write) -> Result<()> {
    let invalid = Invalid::collect(streams.invalid).await?;
    let valid = streams.occurrences - invalid.rows.len() as i64;
    out.write_all(b"{\n").map_err(io)?;
    out.write_all(member("valid_occurrences", &Value::from(valid), false).as_bytes())
        .map_err(io)?;
    let mut differences = JsonArray::start(out, "differences")?;
    let (_, by_class, by_project) = each_difference(streams.differences.open().await?, |r| {
        differences.push(out, &Value::Object(r))
    })
    .await?;
    differences.end(out)?;
    let counts = member("by_class", &json!(by_class), false)
        + &member("by_project", &json!(by_project), false);
    out.write_all(counts.as_bytes()).map_err(io)?;
    let mut rows = JsonArray::start(out, "invalid")?;
    for i in 0..invalid.rows.len() {
        rows.push(out, &Value::Object(invalid.row(i)))?;
    }
    rows.end(out)?;
    let last = member("invalid_by_reason", &json!(invalid.by_reason()), true) + "}\n";
    out.write_all(last.as_bytes()).map_err(io)
}

pub async fn audit(engine: &Engine, args: &AuditArgs) -> Result<ExitCode> {
    let streams = engine.audit_streams(args.project).await?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
    match args.format {
        AuditFormat::Table => write_table(streams, &mut out).await?,
        AuditFormat::Csv => write_csv(streams, &mut out).await?,
        AuditFormat::Json => write_json(streams, &mut out).await?,
    }
    out.flush().map_err(io)?;
    Ok(ExitCode::SUCCESS)
}
