//! One error type for the library: every variant renders as a single line naming the thing
//! that is wrong and what was expected.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("snapshot {location}: {message}")]
    Snapshot { location: String, message: String },

    #[error("table {table}: column {column}: expected {expected}, found {found}")]
    ColumnType {
        table: String,
        column: String,
        expected: String,
        found: String,
    },

    #[error("table {table}: missing column {column} (expected {expected})")]
    MissingColumn {
        table: String,
        column: String,
        expected: String,
    },

    /// A view of `queries/` whose result does not have a column the Rust side reads.
    #[error("view {view}: column {column}: expected {expected}, found {found}")]
    ViewColumn {
        view: String,
        column: String,
        expected: String,
        found: String,
    },

    /// What the user asked for cannot be done as given (arguments, options, inputs).
    #[error("{0}")]
    Usage(String),

    /// A PostgreSQL server: connecting to it, reading its schema, copying its rows. `message`
    /// is the whole line (it quotes the cause); `source` keeps the cause itself.
    #[error("{message}")]
    Postgres {
        message: String,
        #[source]
        source: Option<Source>,
    },

    /// An object store (S3 and the like): listing, reading or uploading objects.
    #[error("{message}")]
    ObjectStore {
        message: String,
        #[source]
        source: Option<Source>,
    },

    /// Writing an export's or a snapshot's files (CSV, Parquet, JSON text).
    #[error("{message}")]
    Export {
        message: String,
        #[source]
        source: Option<Source>,
    },

    /// A fault of occlens itself (a thread that panicked or stopped).
    #[error("internal error: {0}")]
    Internal(String),

    #[error("query failed: {0}")]
    Query(String),

    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        // DataFusion errors can span lines (context, backtraces); keep the one-line contract.
        let text = one_line(&e.to_string());
        if let Some(message) = executor_read_error(&text) {
            return Error::Usage(message);
        }
        match column_value_error(&text) {
            Some(message) => Error::Query(format!("Execution error: {message}")),
            None => Error::Query(with_hint(text)),
        }
    }
}

/// occlens's own message about a value a snapshot's column holds (`column T.C holds …`, from
/// `snapshot::types`) when a reader quoted it inside its own: a filter evaluated while
/// decoding Parquet gives `Parquet error: External: Compute error: Error evaluating filter
/// predicate: Execution("column …")`. The message alone, as the other statements print it:
/// the value is what is wrong, not a damaged file.
fn column_value_error(text: &str) -> Option<String> {
    const QUOTED: &str = "Execution(\"column ";
    let start = text.find(QUOTED)? + QUOTED.len() - "column ".len();
    let mut message = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => message.push(chars.next()?),
            '"' => return Some(message),
            c => message.push(c),
        }
    }
    None
}

/// A query's error that names no file or column, with where to look: a Parquet error (a
/// damaged page: the file's footer read at open, its pages only now), or a timestamp cast
/// that overflows; `occlens check` names the file or the column.
fn with_hint(text: String) -> String {
    // DataFusion's advice names its own setting, which occlens sets from --memory-limit (and
    // refuses in SET): name occlens's.
    let text = text
        .replace(
            "'datafusion.runtime.memory_limit'",
            "--memory-limit (OCCLENS_MEMORY_LIMIT)",
        )
        .replace(
            "the config: 'datafusion.execution.sort_spill_reservation_bytes'",
            "DATAFUSION_EXECUTION_SORT_SPILL_RESERVATION_BYTES",
        );
    let temp = std::env::temp_dir();
    let temp = temp.to_string_lossy();
    if text.contains("IO error") && text.contains(&format!("at path \"{temp}")) {
        // A query that spilled (its memory past --memory-limit) to a temporary directory that
        // cannot be written: DataFusion's message names only its own file there.
        format!("{text}; the query spilled to disk under the temporary directory {temp}, which cannot be written: set TMPDIR to a writable directory (or raise --memory-limit)")
    } else if text.contains(OUT_OF_MEMORY) && !text.contains("--memory-limit") {
        // A consumer that cannot spill (e.g. a hash join's build side) past the pool: DataFusion's
        // message names its reservations only.
        format!("{text}; {MEMORY_HINT}")
    } else if text.contains("Parquet") && !text.contains(DAMAGE_HINT) {
        format!("{text}; {DAMAGE_HINT}")
    } else if text.contains("Cannot cast Timestamp(")
        && text.contains("exceeds the representable")
        && !text.contains(INSTANTS_HINT)
    {
        // A column stored in seconds or milliseconds whose values overflow microseconds:
        // DataFusion's message names neither the table nor the column.
        format!("{text}; {INSTANTS_HINT}")
    } else {
        text
    }
}

/// How DataFusion's error for a memory pool past its limit begins.
const OUT_OF_MEMORY: &str = "Resources exhausted";

const MEMORY_HINT: &str =
    "the query needs more memory than --memory-limit (OCCLENS_MEMORY_LIMIT) gives it, where part of it cannot spill to disk (e.g. a hash join's build side): raise the limit";

const INSTANTS_HINT: &str =
    "a timestamp column holds instants beyond ±292,000 years as microseconds (nanoseconds stored as milliseconds?): `occlens check` names it";

const DAMAGE_HINT: &str =
    "a snapshot file may be damaged: `occlens check` decodes every file and names the one that fails";

/// How a cluster executor's error on reading a file begins (`cluster::local_files`)...
pub const EXECUTOR_READ_PREFIX: &str = "executor ";
/// ... and ends.
pub const EXECUTOR_READ_ADVICE: &str =
    "(on a cluster, a snapshot is an object-store URL or a path every executor sees)";

/// An executor's read error inside a failed cluster job's message (`Job … failed: … most recent
/// failure reason: "…executor H:P cannot read PATH: … (on a cluster, …)"`): what the client
/// prints instead of Ballista's whole chain.
pub fn executor_read_error(job_error: &str) -> Option<String> {
    let advice = job_error.find(EXECUTOR_READ_ADVICE)?;
    // The last `executor HOST:PORT cannot read ` before the advice (a path or cause may hold
    // the word "executor" too).
    let start = job_error[..advice]
        .rmatch_indices(EXECUTOR_READ_PREFIX)
        .map(|(i, _)| i)
        .find(|&i| {
            let rest = &job_error[i + EXECUTOR_READ_PREFIX.len()..advice];
            rest.split_once(' ').is_some_and(|(address, after)| {
                !address.is_empty() && after.starts_with("cannot read ")
            })
        })?;
    let message = &job_error[start..advice + EXECUTOR_READ_ADVICE.len()];
    // Ballista quotes the task's error with `{:?}`: undo its escapes.
    Some(message.replace("\\\"", "\"").replace("\\\\", "\\"))
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        match e {
            datafusion::arrow::error::ArrowError::IoError(path, source) => {
                Error::Io { path, source }
            }
            e => Error::Query(with_hint(e.to_string())),
        }
    }
}

/// The cause an error keeps (`Error::source`).
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Error {
    /// A query that needed more memory than `--memory-limit` gives it.
    pub fn out_of_memory(&self) -> bool {
        matches!(self, Error::Query(text) if text.contains(OUT_OF_MEMORY))
    }

    /// A PostgreSQL error: `message` is the line printed.
    pub fn postgres(message: impl Into<String>) -> Error {
        Error::Postgres {
            message: message.into(),
            source: None,
        }
    }

    /// An object store's error: `message` is the line printed.
    pub fn object_store(message: impl Into<String>) -> Error {
        Error::ObjectStore {
            message: message.into(),
            source: None,
        }
    }

    /// An export's error: `message` is the line printed.
    pub fn export(message: impl Into<String>) -> Error {
        Error::Export {
            message: message.into(),
            source: None,
        }
    }

    /// This error, keeping `cause` as its source (the message already quotes it; other
    /// variants keep their own fields only).
    pub fn because(self, cause: impl Into<Source>) -> Error {
        match self {
            Error::Postgres { message, .. } => Error::Postgres {
                message,
                source: Some(cause.into()),
            },
            Error::ObjectStore { message, .. } => Error::ObjectStore {
                message,
                source: Some(cause.into()),
            },
            Error::Export { message, .. } => Error::Export {
                message,
                source: Some(cause.into()),
            },
            other => other,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// The reader of our output went away (`occlens … | head`): not a failure of occlens.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// A message that may span lines (DataFusion contexts, library errors) as one line.
pub fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An error and its chain of sources (`a: b: c`) as one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&text)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_column_value_quoted_by_a_reader_is_printed_alone() {
        let nested = r#"Parquet error: External: Compute error: Error evaluating filter predicate: Execution("column main_occurrence.id holds 1.5, which is not an integer of type Int64")"#;
        let e = Error::from(datafusion::error::DataFusionError::Execution(nested.into()));
        assert_eq!(
            e.to_string(),
            "query failed: Execution error: column main_occurrence.id holds 1.5, which is not an integer of type Int64"
        );
        // Escapes undone; a message not of that shape keeps its hint.
        assert_eq!(
            column_value_error(r#"x Execution("column t.c holds \"a\\b\"") y"#).as_deref(),
            Some(r#"column t.c holds "a\b""#)
        );
        assert_eq!(column_value_error(r#"Execution("column t.c"#), None);
        let other = Error::from(datafusion::error::DataFusionError::Execution(
            "Parquet error: bad page".into(),
        ));
        assert!(other.to_string().contains(DAMAGE_HINT), "{other}");
    }

    #[test]
    fn domain_errors_print_one_line_and_keep_their_cause() {
        let cause = std::io::Error::other("disk full");
        let e = Error::export(format!("writing CSV: {cause}")).because(cause);
        assert_eq!(e.to_string(), "writing CSV: disk full");
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("disk full")
        );
        for e in [
            Error::postgres("p"),
            Error::object_store("o"),
            Error::export("x"),
        ] {
            assert!(e.source().is_none(), "{e}");
            let kept = e.because(std::io::Error::other("why"));
            assert_eq!(kept.source().unwrap().to_string(), "why");
        }
        // Other variants keep their own fields only.
        let usage = Error::Usage("u".into()).because(std::io::Error::other("why"));
        assert!(usage.source().is_none());
        let io = Error::io("/out/f.csv", std::io::Error::other("denied"));
        assert_eq!(io.to_string(), "/out/f.csv: denied");
        assert_eq!(io.source().unwrap().to_string(), "denied");
    }
}
