//! `occlens sql` as data people know it from datafusion-cli and the DuckDB CLI: one statement,
//! scripts (`-c`, `-f`, stdin), or an interactive shell on a terminal with history, multi-line
//! statements, backslash commands and Ctrl-C that cancels the running statement. Every
//! statement goes through `user_sql`: read-only unless --allow-write.

mod commands;
mod out;
mod split;

use super::args::SqlArgs;
use crate::cli::table::{write_limited, TableFormat};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::execute_stream;
use futures::StreamExt as _;
use occlens::{Engine, Error, Result};
use out::{Collect, Out, Progress, Sink};
use split::Item;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// `--maxrows`: a number of rows, or `inf` for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxRows(pub Option<usize>);

impl std::str::FromStr for MaxRows {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<MaxRows, String> {
        match s.trim() {
            "inf" | "all" | "unlimited" => Ok(MaxRows(None)),
            n => n
                .parse()
                .map(|n| MaxRows(Some(n)))
                .map_err(|_| format!("{s}: expected a number of rows or 'inf'")),
        }
    }
}

/// The shell's settings and the engine its statements run on.
pub struct Session<'a> {
    engine: &'a Engine,
    allow_write: bool,
    format: TableFormat,
    maxrows: Option<usize>,
    timing: bool,
    interactive: bool,
    /// `--time-limit`: each statement's bound in the interactive shell.
    time_limit: Option<std::time::Duration>,
}

/// What a backslash command asks of the loop that runs it.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Whether `occlens sql` runs the interactive shell: no statement, script or file given, and
/// standard input is a terminal.
pub fn interactive(args: &SqlArgs) -> bool {
    !scripted(args) && std::io::stdin().is_terminal()
}

/// Whether statements are given (QUERY, -c, -f); else they are read from standard input.
fn scripted(args: &SqlArgs) -> bool {
    args.query.is_some() || !args.commands.is_empty() || !args.files.is_empty()
}

/// `occlens sql`; `time_limit`: each statement's bound in the interactive shell (elsewhere
/// the whole command's, `time_limit::watch`).
pub async fn run(
    engine: &Engine,
    args: &SqlArgs,
    time_limit: Option<std::time::Duration>,
) -> Result<ExitCode> {
    let out = args
        .out
        .as_deref()
        .map(|p| Out::parse(p, args.overwrite))
        .transpose()?;
    let interactive = interactive(args);
    let mut session = Session {
        engine,
        allow_write: args.allow_write,
        format: args.format,
        maxrows: args
            .maxrows
            .map_or(if interactive { Some(40) } else { None }, |m| m.0),
        timing: interactive,
        interactive,
        time_limit,
    };
    if interactive {
        if out.is_some() {
            return Err(Error::Usage(
                "--out takes the result of one statement: give it as QUERY, -c or -f".into(),
            ));
        }
        return session.shell().await;
    }
    let mut items = Vec::new();
    // The positional statement is one statement, as it always was (not split at `;`).
    if let Some(q) = &args.query {
        // DataFusion's own error ("only supports a single SQL statement") did not say
        // what to do.
        let n = datafusion::sql::parser::DFParser::parse_sql(q).map_or(1, |s| s.len());
        if n > 1 {
            return Err(Error::Usage(format!(
                "QUERY holds {n} statements; give several with -c (split at `;`), -f or stdin"
            )));
        }
        items.push(Item::Sql(q.clone()));
    }
    for c in &args.commands {
        items.extend(split::script(c));
    }
    for f in &args.files {
        items.extend(split::script(&read_script(f)?));
    }
    if !scripted(args) {
        items.extend(split::script(&read_script(Path::new("-"))?));
    }
    if let Some(out) = out {
        let [Item::Sql(sql)] = items.as_slice() else {
            return Err(Error::Usage(format!(
                "--out takes the result of one statement; {} given",
                items.len()
            )));
        };
        let rows = session.write_out(sql, &out).await?;
        eprintln!(
            "occlens: wrote {rows} row{} to {}",
            if rows == 1 { "" } else { "s" },
            out.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for item in items {
        // A script stops at its first error (exit status 1).
        if session.item(&item).await? == Flow::Quit {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The text of `-f FILE` (`-`: stdin).
fn read_script(path: &Path) -> Result<String> {
    let mut text = String::new();
    let io = |e: std::io::Error| Error::io(path, e);
    // Scripts are read whole: at most MAX_SCRIPT bytes (`-f /dev/zero` is an error, not an
    // out-of-memory kill).
    const MAX_SCRIPT: u64 = 64 << 20;
    let read =
        |r: &mut dyn std::io::Read, text: &mut String| r.take(MAX_SCRIPT + 1).read_to_string(text);
    if path == Path::new("-") {
        read(&mut std::io::stdin().lock(), &mut text).map_err(io)?;
    } else {
        read(&mut std::fs::File::open(path).map_err(io)?, &mut text).map_err(io)?;
    }
    if text.len() as u64 > MAX_SCRIPT {
        return Err(Error::Usage(format!(
            "{}: a SQL script is at most {} MiB",
            path.display(),
            MAX_SCRIPT >> 20
        )));
    }
    Ok(text)
}

/// `$XDG_DATA_HOME/occlens/history` (`~/.local/share/occlens/history`; the platform's data
/// directory elsewhere).
fn history_path() -> Option<std::path::PathBuf> {
    let dir = dirs::data_dir()?.join("occlens");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("history");
    // Only a history file occlens (rustyline) wrote, or none yet: a symlink or another file
    // under that name is left as it is (appending rewrote it with a `#V2` header), and the
    // shell keeps no history.
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(path),
        Ok(m) if m.file_type().is_file() => {
            let mut head = [0u8; 4];
            let n = std::io::Read::read(&mut std::fs::File::open(&path).ok()?, &mut head).ok()?;
            (n == 0 || head[..n].starts_with(b"#V2")).then_some(path)
        }
        _ => None,
    }
}

impl Session<'_> {
    /// Run one statement or backslash command.
    async fn item(&mut self, item: &Item) -> Result<Flow> {
        match item {
            Item::Sql(sql) => self.statement(sql).await.map(|()| Flow::Continue),
            // A backslash command's queries (`\d` counts rows) are cancelled as a
            // statement is.
            Item::Command(line) => {
                let (interactive, limit) = (self.interactive, self.time_limit);
                cancellable(interactive, limit, commands::run(self, line)).await
            }
        }
    }

    /// Run `sql`, print its result in the session's format, and the time it took.
    async fn statement(&mut self, sql: &str) -> Result<()> {
        let started = Instant::now();
        let mut sink = Collect::default();
        self.cancellable(self.execute(sql, &mut sink)).await?;
        self.print(&sink.batches)?;
        if self.timing {
            eprintln!("Elapsed {:.3} seconds.", started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Print a statement's batches to stdout in the session's format (up to --maxrows).
    fn print(&self, batches: &[RecordBatch]) -> Result<()> {
        self.print_limited(batches, self.maxrows)
    }

    /// Print every row of a command's batches in the session's format.
    fn print_all(&self, batches: &[RecordBatch]) -> Result<()> {
        self.print_limited(batches, None)
    }

    fn print_limited(&self, batches: &[RecordBatch], maxrows: Option<usize>) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        write_limited(&mut stdout, batches, self.format, maxrows)?;
        stdout.flush().map_err(|e| Error::io("stdout", e))
    }

    /// Stream the result of `sql` to `--out`.
    async fn write_out(&mut self, sql: &str, out: &Out) -> Result<u64> {
        let mut sink = out.sink();
        self.cancellable(self.execute(sql, &mut sink)).await?;
        sink.publish()
    }

    /// Plan `sql` read-only unless --allow-write, run it, and hand its batches to `sink`,
    /// with a progress line when it runs for long.
    async fn execute(&self, sql: &str, sink: &mut dyn Sink) -> Result<()> {
        let mut planned =
            occlens::engine::user_sql::user_sql(&self.engine.ctx, sql, self.allow_write).await?;
        let task = std::sync::Arc::new(planned.df.task_ctx());
        let plan = planned.physical_plan().await?;
        sink.start(&plan.schema())?;
        let progress = Progress::start(plan.clone());
        let mut stream = execute_stream(plan, task)?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            progress
                .rows
                .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            sink.batch(&batch)?;
        }
        if let Some(copy) = planned.copy {
            copy.publish()?;
        }
        Ok(())
    }

    /// In the shell, Ctrl-C or `--time-limit` cancels `work` (its future is dropped:
    /// DataFusion stops its tasks, a temporary --out file is removed); elsewhere SIGINT and
    /// the time limit end the process.
    async fn cancellable<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        cancellable(self.interactive, self.time_limit, work).await
    }

    /// The interactive shell: until `\q` or Ctrl-D.
    async fn shell(&mut self) -> Result<ExitCode> {
        use rustyline::error::ReadlineError;
        super::SHELL_OWNS_SIGINT.store(true, Ordering::SeqCst);
        let readline_error = |e: ReadlineError| match e {
            ReadlineError::Io(e) => Error::io("terminal", e),
            e => Error::io("terminal", std::io::Error::other(e)),
        };
        let config = rustyline::Config::builder()
            .max_history_size(10_000)
            .map_err(readline_error)?
            .auto_add_history(false)
            .build();
        let mut editor = rustyline::DefaultEditor::with_config(config).map_err(readline_error)?;
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        eprintln!(
            "occlens {} SQL shell over {} ({}). Statements end with ';'; \\? for help, \\q or Ctrl-D to quit.",
            env!("CARGO_PKG_VERSION"),
            self.engine.snapshot.location,
            if self.allow_write { "--allow-write" } else { "read-only" }
        );
        let mut reader = split::Reader::default();
        // The lines of the statement being typed: one history entry once it is complete.
        let mut entry = String::new();
        loop {
            let prompt = if reader.is_empty() {
                "occlens> "
            } else {
                "     -> "
            };
            let line = match editor.readline(prompt) {
                Ok(line) => line,
                // Ctrl-C at the prompt: forget what was typed.
                Err(ReadlineError::Interrupted) => {
                    reader.clear();
                    entry.clear();
                    continue;
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(readline_error(e)),
            };
            if !entry.is_empty() {
                entry.push('\n');
            }
            entry.push_str(&line);
            let items = reader.push(&line);
            if reader.is_empty() {
                if !entry.trim().is_empty() {
                    let _ = editor.add_history_entry(entry.trim_end());
                    if let Some(h) = &history {
                        let _ = editor.append_history(h);
                    }
                }
                entry.clear();
            }
            for item in items {
                match self.item(&item).await {
                    Ok(Flow::Quit) => return Ok(ExitCode::SUCCESS),
                    Ok(Flow::Continue) => {}
                    Err(e) if e.is_broken_pipe() => return Err(e),
                    Err(Error::Usage(m)) if m.starts_with("Query cancelled") => eprintln!("{m}"),
                    Err(e) => eprintln!("occlens: {}", occlens::redact::redact(&e.to_string())),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// [`Session::cancellable`] for work that holds the session.
async fn cancellable<T>(
    interactive: bool,
    time_limit: Option<std::time::Duration>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if !interactive {
        return work.await;
    }
    let limit = async {
        match time_limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Usage("Query cancelled.".into())),
        _ = limit => Err(Error::Usage(format!(
            "Query cancelled: {}.",
            super::time_limit::message(time_limit.unwrap_or_default())
        ))),
    }
}
