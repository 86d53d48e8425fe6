//! Running a statement of `queries/`: its record batches or decoded rows, each statement
//! recorded (the plan tests count a response's statements) and traced (`OCCLENS_TRACE`).

use crate::engine::rows::{to_rows, Row};
use crate::error::Result;
use datafusion::prelude::SessionContext;

tokio::task_local! {
    /// The statements a task runs, recorded while it runs inside `STATEMENTS.scope(…)` (the
    /// plan tests count a response's statements and the row groups they scan).
    pub static STATEMENTS: std::sync::Arc<std::sync::Mutex<Vec<String>>>;
}

/// Record `sql` when the running task records its statements.
pub fn record(sql: &str) {
    let _ = STATEMENTS.try_with(|s| {
        if let Ok(mut s) = s.lock() {
            s.push(sql.to_string());
        }
    });
}

/// Spawn `work`, recording its statements where the running task records its own.
pub fn spawn<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> datafusion::common::runtime::SpawnedTask<T> {
    use datafusion::common::runtime::SpawnedTask;
    match STATEMENTS.try_with(std::sync::Arc::clone) {
        Ok(recorded) => SpawnedTask::spawn(STATEMENTS.scope(recorded, work)),
        Err(_) => SpawnedTask::spawn(work),
    }
}

/// The rows of `sql`, decoded.
pub async fn rows(ctx: &SessionContext, sql: impl AsRef<str>) -> Result<Vec<Row>> {
    to_rows(&batches(ctx, sql.as_ref()).await?)
}

/// `sql`'s row count and its rows `offset..offset + limit` (a page of a list ordered in SQL):
/// only the page's rows are decoded.
pub async fn rows_page(
    ctx: &SessionContext,
    sql: &str,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Row>)> {
    let all = batches(ctx, sql).await?;
    let count = all.iter().map(|b| b.num_rows()).sum();
    let (mut skip, mut take, mut kept) = (offset, limit, Vec::new());
    for b in &all {
        if take == 0 {
            break;
        }
        if skip >= b.num_rows() {
            skip -= b.num_rows();
            continue;
        }
        let len = (b.num_rows() - skip).min(take);
        kept.push(b.slice(skip, len));
        (skip, take) = (0, take - len);
    }
    Ok((count, to_rows(&kept)?))
}

/// The record batches of `sql`, recorded and traced (`OCCLENS_TRACE`).
pub async fn batches(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
    record(sql);
    let started = std::time::Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    trace(sql, started);
    Ok(batches)
}

/// When the process started (`process_started`, the first thing `main` does).
static PROCESS: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Note the process's start: [`mark`] times its steps from it.
pub fn process_started() {
    PROCESS.get_or_init(std::time::Instant::now);
}

/// A step of the command and its time since the process started, on stderr (OCCLENS_TRACE=1):
/// what a request spends outside its statements (start, opening, writing, exit).
pub fn mark(what: &str) {
    if let (Some(start), Some(_)) = (PROCESS.get(), std::env::var_os("OCCLENS_TRACE")) {
        eprintln!(
            "occlens: {:>7.1} ms  @ {what} (since the process started)",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// Each statement a response runs and its time since `started`, on stderr (OCCLENS_TRACE=1;
/// README, "Usage by example").
pub fn trace(sql: &str, started: std::time::Instant) {
    if std::env::var_os("OCCLENS_TRACE").is_some() {
        eprintln!(
            "occlens: {:>7.1} ms  {}",
            started.elapsed().as_secs_f64() * 1e3,
            sql.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
}
