//! `occlens audit`: differences between stored and expected determinations (with their class),
//! counts per class and per project, and the occurrences the API hides, per reason.

use super::args::{AuditArgs, AuditFormat};
use datafusion::common::runtime::SpawnedTask;
use datafusion::execution::SendableRecordBatchStream;
use futures::TryStreamExt;
use occlens::engine::audit::{AuditStreams, Statement};
use occlens::engine::rows::Row;
use occlens::engine::typed::{AuditDifferenceRow, AuditInvalidRow, ViewRow};
use occlens::render::pyfmt::{push_py_repr, to_json, to_json_pretty};
use occlens::{Engine, Error, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
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

/// An integer cell: empty when NULL.
fn int(v: Option<i64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// A float as JSON writes it (serde_json's shortest form); empty when NULL or not finite.
fn float(v: Option<f64>) -> String {
    number(v).map_or_else(String::new, |n| n.to_string())
}

fn number(v: Option<f64>) -> Option<serde_json::Number> {
    v.and_then(serde_json::Number::from_f64)
}

fn int_value(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// The cells of the table and CSV columns ([`DIFFERENCE`]) of a difference.
fn cells(r: &AuditDifferenceRow) -> [String; 7] {
    [
        int(r.id),
        int(r.project_id),
        r.class.clone().unwrap_or_default(),
        int(r.stored_taxon_id),
        float(r.stored_score),
        int(r.expected_taxon_id),
        float(r.expected_score),
    ]
}

/// A difference as the JSON report lists it inside its array: what `to_json_pretty` prints
/// for the object of the columns of `audit.differences` (in order), indented by 4, written
/// without building the object.
fn difference_json(r: &AuditDifferenceRow, out: &mut String) {
    use std::fmt::Write as _;
    // Each key after the first follows a comma.
    fn key(out: &mut String, k: &str) {
        if !out.ends_with('{') {
            out.push(',');
        }
        out.push_str("\n      \"");
        out.push_str(k);
        out.push_str("\": ");
    }
    fn int(out: &mut String, k: &str, v: Option<i64>) {
        key(out, k);
        match v {
            Some(v) => write!(out, "{v}").expect("writing to a String"),
            None => out.push_str("null"),
        }
    }
    fn float(out: &mut String, k: &str, v: Option<f64>) {
        key(out, k);
        match v.filter(|v| v.is_finite()) {
            Some(v) => push_py_repr(out, v),
            None => out.push_str("null"),
        }
    }
    out.push('{');
    int(out, "id", r.id);
    int(out, "project_id", r.project_id);
    key(out, "class");
    match r.class.as_deref() {
        // The class names need no escaping; anything else goes through the JSON writer.
        Some(c) if c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            out.push('"');
            out.push_str(c);
            out.push('"');
        }
        Some(c) => out.push_str(&to_json(&Value::from(c))),
        None => out.push_str("null"),
    }
    int(out, "stored_taxon_id", r.stored_taxon_id);
    float(out, "stored_score", r.stored_score);
    int(out, "expected_taxon_id", r.expected_taxon_id);
    float(out, "expected_score", r.expected_score);
    int(out, "best_identification_id", r.best_identification_id);
    int(out, "best_prediction_id", r.best_prediction_id);
    out.push_str("\n    }");
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

/// The hidden occurrences' query, run beside the differences' instead of first, on its own
/// (SF1: 0.35 s of a 2.5 s audit). The CSV and table reports start it when the first
/// batch of differences comes (the differences' sort is done, their aggregations' memory freed, and
/// merging sorted runs and writing rows leaves a core idle); so does the JSON report, which
/// prints the valid count last.
enum Beside {
    Waiting(Box<Statement>),
    /// Stopped when dropped: a report that fails (stdout closed, a difference's error)
    /// stops the hidden occurrences' query too.
    Started(SpawnedTask<Result<Invalid>>),
    Taken,
}

impl Beside {
    fn start(&mut self) {
        if let Beside::Waiting(_) = self {
            let Beside::Waiting(statement) = std::mem::replace(self, Beside::Taken) else {
                unreachable!("matched above")
            };
            *self = Beside::Started(SpawnedTask::spawn(async move {
                Invalid::collect(statement.open().await?).await
            }));
        }
    }

    /// The hidden occurrences (collected now when no difference started them).
    async fn finish(self) -> Result<Invalid> {
        match self {
            Beside::Waiting(statement) => Invalid::collect(statement.open().await?).await,
            Beside::Started(task) => task
                .join()
                .await
                .map_err(|e| Error::Internal(format!("the audit's hidden occurrences: {e}")))?,
            Beside::Taken => Err(Error::Internal(
                "the audit's hidden occurrences, twice".into(),
            )),
        }
    }
}

/// Differences the table lists (every one is counted); CSV and JSON list them all.
const TABLE_ROWS: usize = 40;

/// The hidden occurrences, compactly (every report lists or counts them after the
/// differences): id, project, index of the reason.
#[derive(Default)]
struct Invalid {
    rows: Vec<(Option<i64>, Option<i64>, usize)>,
    reasons: Vec<String>,
}

impl Invalid {
    async fn collect(mut stream: SendableRecordBatchStream) -> Result<Invalid> {
        let mut invalid = Invalid::default();
        while let Some(batch) = stream.try_next().await? {
            for r in AuditInvalidRow::decode(&batch, "audit_invalid")? {
                let reason = r.reason.unwrap_or_default();
                let k = match invalid.reasons.iter().position(|x| *x == reason) {
                    Some(k) => k,
                    None => {
                        invalid.reasons.push(reason);
                        invalid.reasons.len() - 1
                    }
                };
                invalid.rows.push((r.id, r.project_id, k));
            }
        }
        Ok(invalid)
    }

    fn row(&self, i: usize) -> Row {
        let (id, project, reason) = &self.rows[i];
        let mut row = Row::new();
        row.insert("id".into(), int_value(*id));
        row.insert("project_id".into(), int_value(*project));
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

/// Counts by class and by project, kept by value while rows stream and named as text at the
/// end (a NULL counts as "(none)").
#[derive(Default)]
struct AuditCounts {
    n: usize,
    by_class: HashMap<Option<String>, usize>,
    by_project: HashMap<Option<i64>, usize>,
}

impl AuditCounts {
    fn add(&mut self, r: &AuditDifferenceRow) {
        self.n += 1;
        match self.by_class.get_mut(&r.class) {
            Some(n) => *n += 1,
            None => {
                self.by_class.insert(r.class.clone(), 1);
            }
        }
        *self.by_project.entry(r.project_id).or_insert(0) += 1;
    }

    fn merge(&mut self, other: AuditCounts) {
        self.n += other.n;
        for (class, n) in other.by_class {
            *self.by_class.entry(class).or_insert(0) += n;
        }
        for (project, n) in other.by_project {
            *self.by_project.entry(project).or_insert(0) += n;
        }
    }

    /// (differences, by class, by project).
    fn named(self) -> (usize, BTreeMap<String, usize>, BTreeMap<String, usize>) {
        fn named<K>(
            m: HashMap<K, usize>,
            text: impl Fn(K) -> Option<String>,
        ) -> BTreeMap<String, usize> {
            let mut out = BTreeMap::new();
            for (k, n) in m {
                *out.entry(text(k).unwrap_or_else(|| "(none)".into()))
                    .or_insert(0) += n;
            }
            out
        }
        (
            self.n,
            named(self.by_class, |k| k),
            named(self.by_project, |k| k.map(|p| p.to_string())),
        )
    }
}

/// Batches formatted at once on the runtime's workers, ahead of the one being written.
const AHEAD: usize = 3;

/// A batch of differences as a report writes it: its text, its counts and (for the table)
/// its first rows.
struct Formatted {
    text: Vec<u8>,
    counts: AuditCounts,
    first: Vec<AuditDifferenceRow>,
}

/// Every difference, batch by batch, in order: each batch decoded, counted and formatted by
/// `format` on the runtime's workers (up to [`AHEAD`] batches at once), then handed to
/// `write` on this thread. The sort's merge feeds one thread; formatting a million
/// differences there held the workers idle for about a second (SF1, every occurrence
/// differing: 1.9-2.5 s to compute them, 2.8-3.7 s for the whole CSV audit).
/// The hidden occurrences' query starts with the first batch ([`Beside`]).
async fn each_batch(
    stream: SendableRecordBatchStream,
    invalid: &mut Beside,
    keep: usize,
    format: fn(&[AuditDifferenceRow], &mut Vec<u8>) -> Result<()>,
    mut write: impl FnMut(Vec<u8>, Vec<AuditDifferenceRow>) -> Result<()>,
) -> Result<(usize, BTreeMap<String, usize>, BTreeMap<String, usize>)> {
    let mut formatted = stream
        .map_err(Error::from)
        .map_ok(|batch| {
            invalid.start();
            let task = SpawnedTask::spawn(async move {
                let rows = AuditDifferenceRow::decode(&batch, "audit_difference")?;
                let mut counts = AuditCounts::default();
                rows.iter().for_each(|r| counts.add(r));
                let mut text = Vec::new();
                format(&rows, &mut text)?;
                let first = rows.into_iter().take(keep).collect();
                Ok(Formatted {
                    text,
                    counts,
                    first,
                })
            });
            async move {
                task.join().await.map_err(|e| {
                    Error::Internal(format!("formatting the audit's differences: {e}"))
                })?
            }
        })
        .try_buffered(AHEAD);
    let mut counts = AuditCounts::default();
    while let Some(batch) = formatted.try_next().await? {
        counts.merge(batch.counts);
        write(batch.text, batch.first)?;
    }
    Ok(counts.named())
}

fn io(e: std::io::Error) -> Error {
    Error::io("stdout", e)
}

async fn write_table(streams: AuditStreams, out: &mut impl Write) -> Result<()> {
    let mut invalid = Beside::Waiting(Box::new(streams.invalid));
    let mut shown: Vec<Vec<String>> = Vec::new();
    let stream = streams.differences.open().await?;
    let (n, by_class, by_project) = each_batch(
        stream,
        &mut invalid,
        TABLE_ROWS,
        |_, _| Ok(()),
        |_, first| {
            for r in first.iter().take(TABLE_ROWS.saturating_sub(shown.len())) {
                shown.push(cells(r).to_vec());
            }
            Ok(())
        },
    )
    .await?;
    let invalid = invalid.finish().await?;
    let valid = streams.occurrences - invalid.rows.len() as i64;
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

/// Differences as CSV records (`kind` first), as one writer would write them in a row.
fn csv_rows(rows: &[AuditDifferenceRow], out: &mut Vec<u8>) -> Result<()> {
    let err = |e: csv::Error| Error::Query(format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        w.write_field("difference").map_err(err)?;
        w.write_record(cells(r)).map_err(err)?;
    }
    w.flush().map_err(io)
}

async fn write_csv(streams: AuditStreams, out: &mut impl Write) -> Result<()> {
    let err = |e: csv::Error| Error::Query(format!("writing CSV: {e}"));
    let mut invalid = Beside::Waiting(Box::new(streams.invalid));
    let mut head = vec!["kind"];
    head.extend(DIFFERENCE);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&head).map_err(err)?;
    out.write_all(&w.into_inner().map_err(|e| io(e.into_error()))?)
        .map_err(io)?;
    let stream = streams.differences.open().await?;
    each_batch(stream, &mut invalid, 0, csv_rows, |text, _| {
        out.write_all(&text).map_err(io)
    })
    .await?;
    let invalid = invalid.finish().await?;
    let mut w = csv::Writer::from_writer(out);
    for (id, project, reason) in &invalid.rows {
        let cells = [
            "invalid".to_string(),
            int(*id),
            int(*project),
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
        self.push_text(out, text.as_bytes())
    }

    /// An element already printed as [`JsonArray::push`] prints it.
    fn push_text(&mut self, out: &mut impl Write, text: &[u8]) -> Result<()> {
        let sep: &[u8] = if std::mem::replace(&mut self.any, true) {
            b",\n    "
        } else {
            b"\n    "
        };
        out.write_all(sep)
            .and_then(|_| out.write_all(text))
            .map_err(io)
    }

    /// Elements printed by [`json_rows`], each after `,` and the indentation: the array's
    /// first element without its comma.
    fn push_texts(&mut self, out: &mut impl Write, texts: &[u8]) -> Result<()> {
        if texts.is_empty() {
            return Ok(());
        }
        let rest = texts.strip_prefix(b",").ok_or_else(|| {
            Error::Internal("the audit's JSON elements: a separator expected first".into())
        })?;
        let texts = if std::mem::replace(&mut self.any, true) {
            texts
        } else {
            rest
        };
        out.write_all(texts).map_err(io)
    }

    fn end(self, out: &mut impl Write) -> Result<()> {
        out.write_all(if self.any { b"\n  ],\n" } else { b"],\n" })
            .map_err(io)
    }
}

/// Differences as the JSON report's array elements, each after a separator.
fn json_rows(rows: &[AuditDifferenceRow], out: &mut Vec<u8>) -> Result<()> {
    let mut text = String::new();
    for r in rows {
        text.clear();
        text.push_str(",\n    ");
        difference_json(r, &mut text);
        out.extend_from_slice(text.as_bytes());
    }
    Ok(())
}

/// The JSON report, as `to_json_pretty` of one object prints it, written as the rows come.
/// The differences come first and the valid count last (it needs the hidden occurrences), so
/// the differences stream as the CSV report's do: the hidden occurrences' query starts when
/// the first batch of differences comes, not beside the differences' sort.
async fn write_json(streams: AuditStreams, out: &mut impl Write) -> Result<()> {
    let mut invalid = Beside::Waiting(Box::new(streams.invalid));
    out.write_all(b"{\n").map_err(io)?;
    let mut differences = JsonArray::start(out, "differences")?;
    let stream = streams.differences.open().await?;
    let (_, by_class, by_project) = each_batch(stream, &mut invalid, 0, json_rows, |text, _| {
        differences.push_texts(out, &text)
    })
    .await?;
    differences.end(out)?;
    let counts = member("by_class", &json!(by_class), false)
        + &member("by_project", &json!(by_project), false);
    out.write_all(counts.as_bytes()).map_err(io)?;
    let invalid = invalid.finish().await?;
    let mut rows = JsonArray::start(out, "invalid")?;
    for i in 0..invalid.rows.len() {
        rows.push(out, &Value::Object(invalid.row(i)))?;
    }
    rows.end(out)?;
    let valid = streams.occurrences - invalid.rows.len() as i64;
    let last = member("invalid_by_reason", &json!(invalid.by_reason()), false)
        + &member("valid_occurrences", &Value::from(valid), true)
        + "}\n";
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
