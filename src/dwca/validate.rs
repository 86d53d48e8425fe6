//! The structural DwC-A validator (antenna-exports-dwca.md §2): every check in Antenna's order,
//! with Antenna's messages. Offline and structural only: no vocabularies, no EML schema.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::path::Path;

/// Errors and warnings of one archive; ok when there are no errors.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ValidationReport {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl ValidationReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

const DWC: &str = "http://rs.tdwg.org/dwc/terms/";

/// The terms `validate_dwca_archive` requires by default: the event and occurrence fields the
/// exporter's catalogue marks required.
pub fn default_required_terms() -> Vec<String> {
    [
        "eventID",
        "eventDate",
        "decimalLatitude",
        "decimalLongitude",
        "occurrenceID",
        "basisOfRecord",
        "scientificName",
    ]
    .iter()
    .map(|t| format!("{DWC}{t}"))
    .collect()
}

/// One table declared in meta.xml.
struct ArchiveTable {
    location: String,
    id_index: usize,
    /// (index, term), in declaration order
    fields: Vec<(usize, String)>,
    /// The columns meta.xml declares: one more than its largest index.
    declared: usize,
}

/// Python's `repr` of a string (single quotes unless the text holds one and no double quote).
fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c)
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_list(values: &BTreeSet<String>) -> String {
    let first: Vec<String> = values.iter().take(5).map(|v| py_str(v)).collect();
    format!("[{}]", first.join(", "))
}

fn children<'a, 'n>(
    node: roxmltree::Node<'a, 'a>,
    name: &'n str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> + use<'a, 'n> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn non_negative(raw: Option<&str>) -> Option<usize> {
    raw.and_then(|r| r.trim().parse::<usize>().ok())
}

/// Parse one `<core>` or `<extension>`; `Err` carries the message that makes it skipped.
fn table(node: roxmltree::Node, core: bool) -> Result<ArchiveTable, String> {
    let role = if core { "core" } else { "extension" };
    let id_tag = if core { "id" } else { "coreid" };
    let location = children(node, "files")
        .flat_map(|f| children(f, "location"))
        .filter_map(|l| l.text())
        .map(|t| t.trim().to_string())
        .find(|t| !t.is_empty())
        .ok_or_else(|| format!("meta.xml {role} missing <files><location>"))?;
    let ids: Vec<_> = children(node, id_tag).collect();
    if ids.len() != 1 {
        return Err(format!(
            "meta.xml {role} ({location}) must declare exactly one <{id_tag}>"
        ));
    }
    let id_index = non_negative(ids[0].attribute("index")).ok_or_else(|| {
        format!("meta.xml {role} ({location}) <{id_tag}> index is not a non-negative integer")
    })?;
    let mut fields: Vec<(usize, String)> = Vec::new();
    for f in children(node, "field") {
        let (Some(raw), Some(term)) = (f.attribute("index"), f.attribute("term")) else {
            return Err(format!(
                "meta.xml {role} ({location}) <field> missing index or term"
            ));
        };
        let index = non_negative(Some(raw)).ok_or_else(|| {
            format!(
                "meta.xml {role} ({location}) <field> index is not a non-negative integer: {raw}"
            )
        })?;
        if let Some((_, other)) = fields.iter().find(|(i, _)| *i == index) {
            return Err(format!(
                "meta.xml {role} ({location}) duplicate <field> index {index}: {other} and {term}"
            ));
        }
        fields.push((index, term.to_string()));
    }
    let largest = fields
        .iter()
        .map(|(i, _)| *i)
        .chain([id_index])
        .max()
        .unwrap_or(0);
    let declared = largest.checked_add(1).ok_or_else(|| {
        format!("meta.xml {role} ({location}) declares a column index too large: {largest}")
    })?;
    Ok(ArchiveTable {
        location,
        id_index,
        fields,
        declared,
    })
}

/// The most of `meta.xml` or `eml.xml` that is read (each is a few kB; a bigger one is
/// refused rather than inflated into memory), and the longest line of a data file.
const XML_MAX: u64 = 64 << 20;
const LINE_MAX: usize = 64 << 20;

/// The member `name` of the archive, whole (at most XML_MAX bytes).
fn read_member<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let unreadable =
        |e: &dyn std::fmt::Display| format!("{name}: cannot be read from the archive: {e}");
    let entry = zip.by_name(name).map_err(|e| unreadable(&e))?;
    let mut bytes = Vec::new();
    entry
        .take(XML_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e))?;
    if bytes.len() as u64 > XML_MAX {
        return Err(format!("{name} is larger than {} MiB", XML_MAX >> 20));
    }
    Ok(bytes)
}

/// A reader that fails on a line longer than `LINE_MAX` bytes (the CSV reader would hold it
/// whole: a small archive can inflate to gigabytes without a newline).
struct LineCap<R> {
    inner: R,
    run: usize,
}

impl<R> LineCap<R> {
    fn new(inner: R) -> Self {
        LineCap { inner, run: 0 }
    }
}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.run = if b == b'\n' { 0 } else { self.run + 1 };
            if self.run > LINE_MAX {
                return Err(std::io::Error::other(format!(
                    "a line is longer than {} MiB",
                    LINE_MAX >> 20
                )));
            }
        }
        Ok(n)
    }
}

/// What was read of one table's file.
/// The distinct non-empty ids (core: ids; extension: coreids) and occurrenceIDs of a file.
struct Content {
    ids: HashSet<String>,
    occurrence_ids: HashSet<String>,
}

/// Validate the archive at `path`, requiring every term of `required` to be non-empty on every
/// row of each table that declares it (the export gate passes none).
pub fn validate(path: &Path, required: &[String]) -> ValidationReport {
    let mut report = ValidationReport::default();
    let errors = &mut report.errors;
    let file = match std::fs::File::open(path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
            errors.push(format!("Cannot read {}: it is a directory", path.display()));
            return report;
        }
        Ok(f) => f,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                _ => e.to_string(),
            };
            errors.push(format!("Cannot read {}: {why}", path.display()));
            return report;
        }
    };
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        errors.push(format!("Not a zip file: {}", path.display()));
        return report;
    };
    let names: HashSet<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .collect();
    for required_file in ["meta.xml", "eml.xml"] {
        if !names.contains(required_file) {
            errors.push(format!("Archive missing required file: {required_file}"));
        }
    }
    if !names.contains("meta.xml") {
        return report;
    }
    let meta_bytes = match read_member(&mut zip, "meta.xml") {
        Ok(bytes) => bytes,
        Err(message) => {
            errors.push(message);
            return report;
        }
    };
    let meta_text = String::from_utf8_lossy(&meta_bytes).to_string();
    let doc = match roxmltree::Document::parse(&meta_text) {
        Ok(d) => d,
        Err(e) => {
            errors.push(format!("meta.xml does not parse: {e}"));
            return report;
        }
    };
    let root = doc.root_element();
    let cores: Vec<_> = children(root, "core").collect();
    if cores.len() != 1 {
        errors.push(format!(
            "meta.xml must declare exactly one <core>, found {}",
            cores.len()
        ));
        return report;
    }
    let mut tables = Vec::new();
    let declared =
        std::iter::once((cores[0], true)).chain(children(root, "extension").map(|e| (e, false)));
    for (node, core) in declared {
        match table(node, core) {
            Ok(t) => tables.push(t),
            Err(message) => errors.push(message),
        }
    }
    let required: HashSet<&str> = required.iter().map(String::as_str).collect();
    let occurrence_term = format!("{DWC}occurrenceID");
    let mut contents: Vec<Option<Content>> = Vec::new();
    for (t, table) in tables.iter().enumerate() {
        let file = &table.location;
        // Each file is checked as it is inflated: memory holds its distinct ids, not its text.
        let Ok(entry) = zip.by_name(file) else {
            errors.push(format!(
                "meta.xml references {file} but it is missing from the archive"
            ));
            contents.push(None);
            continue;
        };
        contents.push(check_table(
            table,
            t == 0,
            LineCap::new(entry),
            &required,
            &occurrence_term,
            errors,
        ));
    }
    // Referential checks: coreids against the core, occurrenceIDs against occurrence.txt.
    let core_ids: HashSet<&String> = match contents.first() {
        Some(Some(c)) => c.ids.iter().collect(),
        _ => HashSet::new(),
    };
    let occurrence_ids: HashSet<&String> = tables
        .iter()
        .zip(&contents)
        .find(|(t, _)| t.location == "occurrence.txt")
        .and_then(|(_, c)| c.as_ref())
        .map(|c| c.occurrence_ids.iter().collect())
        .unwrap_or_default();
    for (table, content) in tables.iter().zip(&contents).skip(1) {
        let Some(content) = content else { continue };
        let missing: BTreeSet<String> = content
            .ids
            .iter()
            .filter(|id| !core_ids.contains(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "{}: {} coreid value(s) do not exist in core. First: {}",
                table.location,
                missing.len(),
                py_list(&missing)
            ));
        }
    }
    for (table, content) in tables.iter().zip(&contents).skip(1) {
        let declares = table
            .fields
            .iter()
            .any(|(_, term)| *term == occurrence_term);
        if table.location == "occurrence.txt" || !declares {
            continue;
        }
        let Some(content) = content else {
            if !names.contains(&table.location) {
                errors.push(format!(
                    "meta.xml references {} but it is missing from the archive",
                    table.location
                ));
            }
            continue;
        };
        let missing: BTreeSet<String> = content
            .occurrence_ids
            .iter()
            .filter(|id| !id.is_empty() && !occurrence_ids.contains(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "{}: {} occurrenceID value(s) do not exist in occurrence.txt. First: {}",
                table.location,
                missing.len(),
                py_list(&missing)
            ));
        }
    }
    if names.contains("eml.xml") {
        match read_member(&mut zip, "eml.xml") {
            Ok(eml) => {
                let eml = String::from_utf8_lossy(&eml);
                if let Err(e) = roxmltree::Document::parse(&eml) {
                    errors.push(format!("eml.xml does not parse: {e}"));
                }
            }
            Err(message) => errors.push(message),
        }
    }
    report
}

/// Per-table checks (§2 step 6) of `file` read as it streams; returns the ids and
/// occurrenceIDs read, or `None` (and only the one error) when the file is not UTF-8.
fn check_table(
    table: &ArchiveTable,
    core: bool,
    file_reader: impl Read,
    required: &HashSet<&str>,
    occurrence_term: &str,
    all_errors: &mut Vec<String>,
) -> Option<Content> {
    let file = &table.location;
    let mut errors = Vec::new();
    let mut content = Content {
        ids: HashSet::new(),
        occurrence_ids: HashSet::new(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .quote(b'"')
        .has_headers(false)
        .flexible(true)
        .from_reader(file_reader);
    // Errors after which the file cannot be read on: not UTF-8, or not inflatable (a corrupt
    // member, a CRC mismatch, a line past LINE_MAX).
    let fatal = |e: &csv::Error| match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => Some(format!("{file}: file is not valid UTF-8: {err}")),
        csv::ErrorKind::Io(err) => Some(format!("{file}: cannot be read from the archive: {err}")),
        _ => None,
    };
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) if fatal(&e).is_some() => {
            all_errors.extend(fatal(&e));
            return None;
        }
        _ => {
            all_errors.push(format!("{file}: file is empty (not even a header)"));
            return Some(content);
        }
    };
    let declared = table.declared;
    let occurrence_index = table
        .fields
        .iter()
        .find(|(_, t)| t == occurrence_term)
        .map(|(i, _)| *i);
    let required: Vec<(usize, &str)> = table
        .fields
        .iter()
        .filter(|(_, t)| required.contains(t.as_str()))
        .map(|(i, t)| (*i, t.as_str()))
        .collect();
    let columns_ok = header.len() == declared;
    if !columns_ok {
        errors.push(format!(
            "{file}: header has {} columns but meta.xml declares {declared}",
            header.len()
        ));
    }
    // The rows' errors are reported up to MAX_ROW_ERRORS per file, then counted: an archive
    // of a few KB can hold millions of bad rows.
    let mut row_errors = RowErrors::default();
    for (n, record) in records.enumerate() {
        let line = n + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => match fatal(&e) {
                Some(message) => {
                    all_errors.extend(errors);
                    all_errors.extend(row_errors.lines);
                    all_errors.push(message);
                    return None;
                }
                None => continue,
            },
        };
        if !columns_ok {
            continue; // read on only to find a UTF-8 error
        }
        if record.len() != header.len() {
            row_errors.push(format!(
                "{file}:L{line}: row has {} columns, expected {}",
                record.len(),
                header.len()
            ));
            continue;
        }
        let id = record.get(table.id_index).unwrap_or("");
        if id.trim().is_empty() {
            row_errors.push(format!("{file}:L{line}: empty id/coreid value"));
        } else if !content.ids.insert(id.to_string()) && core {
            row_errors.push(format!("{file}:L{line}: duplicate core id: {}", py_str(id)));
        }
        for (i, term) in &required {
            if record.get(*i).unwrap_or("").trim().is_empty() {
                row_errors.push(format!("{file}:L{line}: required term {term} is empty"));
            }
        }
        if let Some(i) = occurrence_index {
            let value = record.get(i).unwrap_or("");
            if !content.occurrence_ids.contains(value) {
                content.occurrence_ids.insert(value.to_string());
            }
        }
    }
    all_errors.extend(errors);
    all_errors.extend(row_errors.finish(file));
    Some(content)
}

/// The row errors of one file reported at most.
const MAX_ROW_ERRORS: usize = 1000;

/// A file's row errors: the first [`MAX_ROW_ERRORS`] kept, the others counted.
#[derive(Default)]
struct RowErrors {
    lines: Vec<String>,
    more: u64,
}

impl RowErrors {
    fn push(&mut self, message: String) {
        match self.lines.len() < MAX_ROW_ERRORS {
            true => self.lines.push(message),
            false => self.more += 1,
        }
    }

    fn finish(mut self, file: &str) -> Vec<String> {
        if self.more > 0 {
            self.lines.push(format!(
                "{file}: {} more row errors (the first {MAX_ROW_ERRORS} are listed)",
                self.more
            ));
        }
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::py_str;

    #[test]
    fn a_line_past_the_cap_is_an_error() {
        use std::io::Read;
        let long = std::io::repeat(b'a').take(super::LINE_MAX as u64 + 1);
        let e = std::io::copy(&mut super::LineCap::new(long), &mut std::io::sink()).unwrap_err();
        assert_eq!(e.to_string(), "a line is longer than 64 MiB");
        let lines = std::io::repeat(b'\n').take(super::LINE_MAX as u64 + 1);
        assert!(std::io::copy(&mut super::LineCap::new(lines), &mut std::io::sink()).is_ok());
    }

    #[test]
    fn python_string_repr() {
        assert_eq!(py_str("E1"), "'E1'");
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_str("a\tb"), "'a\\tb'");
    }
}
