//! Bad `sql` statements and options.

use super::*;

pub(super) fn sql(good: &str, work: &Path, cases: &mut Vec<Case>) {
    let target = work.join("copied.csv");
    let t = target.to_str().unwrap();
    let copy = format!("COPY (SELECT 1 AS a) TO '{t}'");
    // A chain of a million terms aborted the process (the planner's stack): refused.
    // (The bound, 4,000 operators: a chain of 20,000 planned for minutes.)
    let chain = format!("SELECT {}", vec!["1"; 4_002].join("+"));
    let external = format!("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{t}'");
    for (name, q, names) in [
        (
            "sql: COPY without --allow-write",
            copy.as_str(),
            "--allow-write",
        ),
        (
            "sql: INSERT",
            "INSERT INTO main_occurrence (id) VALUES (1)",
            "--allow-write",
        ),
        (
            "sql: a chain of 4,002 terms",
            chain.as_str(),
            "holds 4001 operators; occlens plans at most 4000",
        ),
        // An Arrow cast error that named neither the function nor the argument.
        (
            "sql: arg_max of untyped NULLs",
            "SELECT arg_max(NULL, NULL)",
            "arg_max: argument 1 is an untyped NULL",
        ),
        (
            "sql: CREATE EXTERNAL TABLE",
            external.as_str(),
            "--allow-write",
        ),
        (
            "sql: CREATE TABLE",
            "CREATE TABLE t AS SELECT 1",
            "--allow-write",
        ),
        (
            "sql: DROP TABLE",
            "DROP TABLE main_occurrence",
            "--allow-write",
        ),
        (
            "sql: SET of the runtime's memory limit",
            "SET datafusion.runtime.memory_limit = '100G'",
            "--memory-limit",
        ),
        (
            "sql: RESET of the runtime's spill directory",
            "RESET datafusion.runtime.temp_directory",
            "RESET datafusion.runtime.temp_directory",
        ),
        (
            "sql: fixed with a huge digits",
            "SELECT fixed(1.5, 70000)",
            "fixed",
        ),
        ("sql: syntax error", "SELEC 1", "SELEC"),
        ("sql: unknown table", "SELECT * FROM nope", "nope"),
        (
            "sql: unknown column",
            "SELECT nope FROM main_occurrence",
            "nope",
        ),
        ("sql: unknown function", "SELECT nope(1)", "nope"),
        (
            "sql: exact_mean of a number, not a list",
            "SELECT exact_mean(1)",
            "exact_mean takes a list of numbers",
        ),
        (
            "sql: exact_mean of a list of text",
            "SELECT exact_mean(['0.5', 'x'])",
            "exact_mean takes a list of numbers",
        ),
        ("sql: empty", "", "sql"),
    ] {
        cases.push(case(name, &["--snapshot", good, "sql", q], Some(1), names).absent(&target));
    }
    // A sort past the memory pool: DataFusion's advice named its own setting, which occlens
    // refuses in SET; the message names --memory-limit.
    let sorted = work.join("sorted.parquet");
    cases.push(
        case(
            "sql: a sort past --memory-limit",
            &[
                "--snapshot",
                good,
                "--memory-limit",
                "25M",
                "sql",
                "--out",
                sorted.to_str().unwrap(),
                "SELECT v, md5(CAST(v AS VARCHAR)) AS h FROM generate_series(1, 1000000) t(v) ORDER BY h",
            ],
            Some(1),
            "--memory-limit (OCCLENS_MEMORY_LIMIT)",
        )
        .absent(&sorted),
    );
    // A hash join's build side past the pool (it cannot spill): DataFusion's message named its
    // reservations only; the message names --memory-limit (session 64).
    let joined = work.join("joined.csv");
    cases.push(
        case(
            "sql: a hash join past --memory-limit",
            &[
                "--snapshot",
                good,
                "--memory-limit",
                "10M",
                "sql",
                "--out",
                joined.to_str().unwrap(),
                "SELECT a.x, b.y FROM generate_series(1, 3000000) a(x) JOIN (SELECT x AS y, repeat('b', 50) AS z FROM generate_series(1, 3000000) t(x)) b ON a.x = b.y",
            ],
            Some(1),
            "cannot spill to disk (e.g. a hash join's build side): raise the limit",
        )
        .absent(&joined),
    );
    // A sort that spills while TMPDIR names no directory: DataFusion's message named only its
    // own file there (session 62).
    let spilled = work.join("spilled.csv");
    cases.push(
        case(
            "sql: a spill with TMPDIR missing",
            &[
                "--snapshot",
                good,
                "--memory-limit",
                "50M",
                "sql",
                "--out",
                spilled.to_str().unwrap(),
                "SELECT x, repeat('a', 100) AS y FROM generate_series(1, 3000000) t(x) ORDER BY x DESC",
            ],
            Some(1),
            "set TMPDIR to a writable directory",
        )
        .env("TMPDIR", "/nonexistent-occlens-tmp")
        .absent(&spilled),
    );
    // A backslash command's bad value names the command (`\maxrows -1` named none).
    cases.push(case(
        "sql: \\maxrows -1",
        &["--snapshot", good, "sql", "-c", "\\maxrows -1"],
        None,
        "\\maxrows -1: expected a number of rows or 'inf'",
    ));
    // A COPY that fails midway (after rows were written) or at its first batch: nothing
    // under the name (it was written there directly, partial).
    let failing = work.join("failing.csv");
    let nested = work.join("nested.csv");
    for (name, q, path, names) in [
        (
            "sql: COPY failing midway",
            format!(
                "COPY (SELECT value, CASE WHEN value > 90000 THEN value / (value - value) ELSE value END AS x \
                 FROM generate_series(1, 100000)) TO '{}' STORED AS CSV",
                failing.display()
            ),
            &failing,
            "divide by zero",
        ),
        (
            "sql: COPY of a type CSV cannot hold",
            format!("COPY (SELECT make_array(1, 2) AS a) TO '{}'", nested.display()),
            &nested,
            "csv",
        ),
    ] {
        let args = ["--snapshot", good, "sql", "--allow-write", q.as_str()];
        cases.push(case(name, &args, Some(1), names).absent(path));
    }
    cases.push(
        case(
            "sql: py_round with a huge digits",
            &[
                "--snapshot",
                good,
                "sql",
                "--format",
                "csv",
                "SELECT py_round(1.5, 99999999999) AS r",
            ],
            Some(0),
            "1.5",
        )
        .report(),
    );
    // COPY to a URL replaced what was there (the snapshot's own files too): refused.
    for (name, url, names) in [
        (
            "sql: COPY to an http URL",
            "http://127.0.0.1:1/x.csv",
            "local files only",
        ),
        (
            "sql: COPY to an s3 URL",
            "s3://bucket/x.csv",
            "local files only",
        ),
        // DataFusion reads `file:x.csv` as `/x.csv`.
        (
            "sql: COPY to a scheme without //",
            "file:x.csv",
            "file: URL",
        ),
    ] {
        let q = format!("COPY (SELECT 1 AS a) TO '{url}'");
        let args = ["--snapshot", good, "sql", "--allow-write", q.as_str()];
        cases.push(case(name, &args, Some(1), names));
    }
    // `sql --out` with a URL wrote a local `s3:/bucket/x.csv`; into a missing folder it
    // named its temporary file.
    let missing = work.join("nope/x.csv");
    for (name, out, names) in [
        (
            "sql: --out an s3 URL",
            "s3://bucket/x.csv",
            "writes a local file",
        ),
        (
            "sql: --out in a missing folder",
            missing.to_str().unwrap(),
            "does not exist",
        ),
    ] {
        let args = ["--snapshot", good, "sql", "SELECT 1 AS a", "--out", out];
        cases.push(case(name, &args, Some(1), names));
    }
    // EXPLAIN ANALYZE runs what it explains: a COPY under it replaced an existing file (the
    // snapshot's own tables too) and an INSERT added a part file, past the checks above.
    let explained = work.join("explained.csv");
    let folder = work.join("copied_folder");
    for (name, q, path, names) in [
        (
            "sql: EXPLAIN ANALYZE COPY",
            format!(
                "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
                explained.display()
            ),
            &explained,
            "EXPLAIN ANALYZE",
        ),
        (
            "sql: EXPLAIN ANALYZE INSERT",
            "EXPLAIN ANALYZE INSERT INTO main_occurrence (id) VALUES (1)".to_string(),
            &explained,
            "EXPLAIN ANALYZE",
        ),
        // A COPY to a folder (no extension) that failed midway left its files there.
        (
            "sql: COPY to a folder failing midway",
            format!(
                "COPY (SELECT value, CASE WHEN value > 90000 THEN value / (value - value) ELSE value END AS x \
                 FROM generate_series(1, 100000)) TO '{}' STORED AS CSV",
                folder.display()
            ),
            &folder,
            "divide by zero",
        ),
    ] {
        let args = ["--snapshot", good, "sql", "--allow-write", q.as_str()];
        cases.push(case(name, &args, Some(1), names).absent(path));
    }
    // A COPY to a folder that exists (a user's): never renamed over, nothing written in it.
    let users = work.join("users_folder");
    std::fs::create_dir_all(&users).unwrap();
    std::fs::write(users.join("mine.txt"), b"mine").unwrap();
    let q = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        users.display()
    );
    cases.push(case(
        "sql: COPY to an existing folder",
        &["--snapshot", good, "sql", "--allow-write", q.as_str()],
        Some(1),
        "exists; occlens does not replace files",
    ));
    cases.push(case(
        "sql: INSERT even with --allow-write",
        &[
            "--snapshot",
            good,
            "sql",
            "--allow-write",
            "INSERT INTO main_occurrence (id) VALUES (1)",
        ],
        Some(1),
        "never writes into a snapshot",
    ));
}
