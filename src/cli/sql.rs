//! `occlens sql` and `occlens tables`.

use super::args::{SqlArgs, TablesArgs};
use occlens::output::table::write;
use occlens::snapshot::Source;
use occlens::{Engine, Result};
use std::process::ExitCode;

pub async fn sql(engine: &Engine, args: &SqlArgs) -> Result<ExitCode> {
    let batches = engine.ctx.sql(&args.query).await?.collect().await?;
    write(&mut std::io::stdout().lock(), &batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn tables(engine: &Engine, args: &TablesArgs) -> Result<ExitCode> {
    println!("snapshot: {}", engine.snapshot.location);
    for t in &engine.snapshot.tables {
        let rows = engine
            .ctx
            .sql(&format!("SELECT count(*) AS n FROM {}", t.name))
            .await?
            .collect()
            .await?;
        let n = occlens::views::rows::to_rows(&rows)?
            .first()
            .and_then(|r| r.get("n").and_then(|v| v.as_i64()))
            .unwrap_or(0);
        let source = match &t.source {
            Source::File(u) => u.clone(),
            Source::Parts(u, n) => format!("{u} ({n} part files)"),
            Source::Absent => "absent (optional: registered empty)".into(),
        };
        println!("{:<45} {:>10} rows  {}", t.name, n, source);
        if args.columns {
            for f in t.schema.fields() {
                println!(
                    "    {:<40} {}{}",
                    f.name(),
                    f.data_type(),
                    if f.is_nullable() { "" } else { " NOT NULL" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
