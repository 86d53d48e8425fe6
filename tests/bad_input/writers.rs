//! Outputs that cannot be written, or must not be replaced.

use super::*;

pub(super) fn writers(work: &Path, cases: &mut Vec<Case>) {
    let user_dir = work.join("user_documents");
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::write(user_dir.join("thesis.txt"), b"years of work").unwrap();
    let u = user_dir.to_str().unwrap();
    let a_file = work.join("a_plain_file");
    std::fs::write(&a_file, b"mine").unwrap();
    let f = a_file.to_str().unwrap();
    let no_parent = work.join("nope/gen");
    let under_file = format!("{f}/x");
    let copy_under_file = format!("COPY (SELECT 1 AS a) TO '{f}/x.csv'");
    for (name, args, code, names) in [
        // A file where --out's folder should be: named as --out's (generate said
        // "…/x: Not a directory"; COPY an internal error of DataFusion's).
        (
            "generate: under a file",
            vec![
                "generate",
                "--out",
                under_file.as_str(),
                "--occurrences",
                "5",
            ],
            Some(1),
            "a_plain_file is not a directory",
        ),
        (
            "sql: COPY under a file",
            vec!["sql", "--allow-write", copy_under_file.as_str()],
            Some(1),
            "a_plain_file is not a directory",
        ),
        (
            "generate: into a user's directory",
            vec!["generate", "--out", u, "--occurrences", "5"],
            Some(1),
            "not an occlens snapshot",
        ),
        (
            "generate: onto a file",
            vec!["generate", "--out", f, "--occurrences", "5"],
            Some(1),
            "not a directory",
        ),
        (
            "generate: empty --out",
            vec!["generate", "--out", "", "--occurrences", "5"],
            None,
            "--out",
        ),
        (
            "generate: zero occurrences",
            vec!["generate", "--out", "x", "--occurrences", "0"],
            Some(2),
            "occurrences",
        ),
        (
            "generate: huge occurrences",
            vec![
                "generate",
                "--out",
                "x",
                "--occurrences",
                "99999999999999999999",
            ],
            Some(2),
            "occurrences",
        ),
        // The edge-cases shape is built in memory: 1,000,000 was allowed and needed 15 GB.
        (
            "generate: edge-cases beyond its bound",
            vec![
                "generate",
                "--out",
                "x",
                "--shape",
                "edge-cases",
                "--occurrences",
                "200001",
            ],
            Some(1),
            "at most 200000",
        ),
        (
            "generate: negative occurrences",
            vec!["generate", "--out", "x", "--occurrences", "-1"],
            Some(2),
            "-1",
        ),
        (
            "generate: edge-cases too big",
            vec![
                "generate",
                "--out",
                "x",
                "--shape",
                "edge-cases",
                "--occurrences",
                "2000000",
            ],
            Some(1),
            "occurrences",
        ),
        (
            "generate: missing parent",
            vec![
                "generate",
                "--out",
                no_parent.to_str().unwrap(),
                "--occurrences",
                "5",
            ],
            Some(1),
            "does not exist",
        ),
        (
            "snapshot: into a user's directory",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                u,
            ],
            Some(1),
            "not an occlens snapshot",
        ),
        (
            "snapshot: onto a file",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                f,
            ],
            Some(1),
            "not a directory",
        ),
        (
            "snapshot: empty --out",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                "",
            ],
            Some(1),
            "--out",
        ),
        (
            "snapshot: unreachable server",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                work.join("snap_out").to_str().unwrap(),
            ],
            Some(1),
            "127.0.0.1",
        ),
        (
            "snapshot: not a URL",
            vec![
                "snapshot",
                "--from",
                "mysql://u@h/db",
                "--out",
                work.join("snap_out2").to_str().unwrap(),
            ],
            Some(1),
            "mysql",
        ),
        (
            "snapshot: unsupported --out scheme",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                "ftp://h/x",
            ],
            Some(1),
            "ftp",
        ),
    ] {
        cases.push(case(name, &args, code, names).absent(&no_parent));
    }
    // A server that accepts and never answers: `snapshot` waited until killed.
    let silent = format!(
        "postgres://u@127.0.0.1:{}/db?connect_timeout=1",
        silent_server()
    );
    cases.push(
        case(
            "snapshot: a server that never answers",
            &[
                "snapshot",
                "--from",
                &silent,
                "--out",
                work.join("snap_silent").to_str().unwrap(),
            ],
            Some(1),
            "no answer from the server within 1 s",
        )
        .absent(&work.join("snap_silent")),
    );
    // A missing --tokens file: the message named the path alone, not the option.
    let no_tokens = work.join("no_tokens.txt");
    cases.push(case(
        "serve: --tokens missing",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            no_tokens.to_str().unwrap(),
        ],
        None,
        "--tokens",
    ));
    // A directory as --tokens was reported as a permissions problem (its mode 0755).
    let tokens_dir = work.join("tokens_dir");
    std::fs::create_dir_all(&tokens_dir).unwrap();
    cases.push(case(
        "serve: --tokens a directory",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            tokens_dir.to_str().unwrap(),
        ],
        None,
        "tokens_dir: not a regular file",
    ));
    // Origins no browser sends were accepted (and never matched).
    for origin in [
        "not an origin",
        "https://app.example.org/",
        "https://app.example.org/x",
        "https://App.example.org",
        "https://app.example.org:443",
    ] {
        cases.push(case(
            &format!("serve: --cors-origin {origin:?}"),
            &["serve", "--listen", "127.0.0.1:0", "--cors-origin", origin],
            None,
            "--cors-origin",
        ));
    }
    let not_dir = work.join("cache_is_a_file");
    std::fs::write(&not_dir, b"x").unwrap();
    cases.push(case(
        "cache: --cache-dir is a file",
        &[
            "--cache-dir",
            not_dir.to_str().unwrap(),
            "cache",
            "build",
            "--snapshot",
            work.join("good").to_str().unwrap(),
        ],
        Some(1),
        "cache_is_a_file: not a directory",
    ));
    // Writes into the snapshot being read, onto devices and FIFOs, over lookalike snapshots.
    let good = work.join("good");
    let gs = good.to_str().unwrap();
    let inside = good.join("main_occurrence.parquet");
    cases.push(case(
        "export: over the snapshot's own file",
        &[
            "--snapshot",
            gs,
            "export",
            "--format",
            "parquet",
            "--project",
            "1",
            "--overwrite",
            "--out",
            inside.to_str().unwrap(),
        ],
        Some(1),
        "inside the snapshot",
    ));
    cases.push(
        case(
            "sql --out: into the snapshot",
            &[
                "--snapshot",
                gs,
                "sql",
                "--out",
                good.join("x.csv").to_str().unwrap(),
                "SELECT 1",
            ],
            Some(1),
            "inside the snapshot",
        )
        .absent(&good.join("x.csv")),
    );
    let fifo = work.join("a_fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        cases.push(case(
            "export: over a FIFO with --overwrite",
            &[
                "--snapshot",
                gs,
                "export",
                "--format",
                "csv",
                "--project",
                "1",
                "--overwrite",
                "--out",
                fifo.to_str().unwrap(),
            ],
            Some(1),
            "not a regular file",
        ));
    }
    let lookalike = work.join("lookalike");
    std::fs::create_dir_all(&lookalike).unwrap();
    std::fs::write(lookalike.join("_snapshot.json"), b"{}").unwrap();
    std::fs::write(lookalike.join("thesis.docx"), b"mine").unwrap();
    cases.push(case(
        "generate: over a directory with a fake manifest",
        &[
            "generate",
            "--out",
            lookalike.to_str().unwrap(),
            "--occurrences",
            "5",
        ],
        Some(1),
        "not an occlens snapshot",
    ));
    let existing = work.join("existing.csv");
    let copy = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        existing.display()
    );
    cases.push(case(
        "sql: COPY over an existing file even with --allow-write",
        &["--snapshot", gs, "sql", "--allow-write", &copy],
        Some(1),
        "exists",
    ));
    cases.push(case(
        "sql: -f /dev/zero",
        &["--snapshot", gs, "sql", "-f", "/dev/zero"],
        Some(1),
        "/dev/zero",
    ));
    cases.push(case(
        "memory: not a size",
        &["--memory-limit", "lots", "sql", "SELECT 1"],
        Some(2),
        "lots",
    ));
    cases.push(case(
        "memory: over 100%",
        &["--memory-limit", "200%", "sql", "SELECT 1"],
        Some(2),
        "percentage",
    ));
    cases.push(case(
        "memory: too small",
        &["--memory-limit", "10", "sql", "SELECT 1"],
        Some(2),
        "at least",
    ));
    // A percentage of the machine's memory under the same 1 MiB floor (was accepted).
    cases.push(case(
        "memory: a percentage too small",
        &["--memory-limit", "0.00001%", "sql", "SELECT 1"],
        Some(2),
        "at least 1M",
    ));
    cases.push(case(
        "memory: overflow",
        &["--memory-limit", "99999999999T", "sql", "SELECT 1"],
        Some(2),
        "too large",
    ));
    cases.push(case(
        "memory: a query over the limit",
        &["--memory-limit", "2M", "sql", "SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b ON a.value = b.value"],
        Some(1),
        "Resources exhausted",
    ));
    // Values the pool does not count (six 400 MB texts in one row): the process's own bound
    // ends it (session 55: it grew until the kernel stepped in), and --out stays absent.
    let huge = "SELECT length(a) + length(b) + length(c) + length(d) + length(e) + length(f) AS n FROM (SELECT repeat('x', 400000000) AS a, repeat('x', 400000000) AS b, repeat('x', 400000000) AS c, repeat('x', 400000000) AS d, repeat('x', 400000000) AS e, repeat('x', 400000000) AS f)";
    let huge_out = work.join("huge.csv");
    cases.push(
        case(
            "memory: values the query pool does not count",
            &[
                "--memory-limit",
                "64M",
                "sql",
                "--out",
                huge_out.to_str().unwrap(),
                huge,
            ],
            Some(1),
            "past its bound",
        )
        .absent(&huge_out),
    );
    // A statement that never ends (10^11 rows summed; a cluster job Ballista never finishes):
    // --time-limit ends it, exit 124, and --out stays absent.
    let endless = "SELECT sum(value) AS s FROM generate_series(1, 100000000000)";
    let endless_out = work.join("endless.csv");
    cases.push(
        case(
            "time: a statement past --time-limit",
            &[
                "--time-limit",
                "1s",
                "sql",
                "--out",
                endless_out.to_str().unwrap(),
                endless,
            ],
            Some(124),
            "ran past --time-limit 1s",
        )
        .absent(&endless_out),
    );
    // A COPY past --time-limit: its temporary and object_store's staging file of it
    // (`….tmp#1`, which once stayed behind, 250 MB) are removed, the target stays absent
    // (`temporaries` below finds both kinds).
    let copied = work.join("copied.parquet");
    let copy = format!(
        "COPY (SELECT value, value * 2 AS twice FROM generate_series(1, 100000000000)) TO '{}'",
        copied.display()
    );
    // The same to a relative name: the temporary's folder is the working directory, where its
    // staging file (`.rel.csv.occlens-copy-….tmp#1`) once stayed behind.
    let relative = work.join("relative");
    std::fs::create_dir_all(&relative).unwrap();
    cases.push(
        case(
            "time: a COPY to a relative name past --time-limit",
            &[
                "--time-limit",
                "1s",
                "sql",
                "--allow-write",
                "COPY (SELECT value, value * 2 AS twice FROM generate_series(1, 100000000000)) TO 'rel.csv'",
            ],
            Some(124),
            "ran past --time-limit 1s",
        )
        .cwd(&relative)
        .absent(&relative.join("rel.csv")),
    );
    cases.push(
        case(
            "time: a COPY past --time-limit",
            &["--time-limit", "1s", "sql", "--allow-write", &copy],
            Some(124),
            "ran past --time-limit 1s",
        )
        .absent(&copied),
    );
    cases.push(
        case(
            "time: a statement past OCCLENS_TIME_LIMIT",
            &["sql", endless],
            Some(124),
            "ran past --time-limit 1.5s",
        )
        .env("OCCLENS_TIME_LIMIT", "1.5"),
    );
    for (value, names) in [
        ("0", "at least 1 millisecond"),
        ("0.0000001", "at least 1 millisecond"),
        ("-5s", "at least 1 millisecond"),
        ("400d", "at most 365 days"),
        ("soon", "expected a duration"),
        ("5 minutes", "expected a duration"),
        ("1e300", "expected a duration"),
    ] {
        let flag = format!("--time-limit={value}");
        cases.push(case(
            &format!("time: {flag}"),
            &[&flag, "sql", "SELECT 1"],
            Some(2),
            names,
        ));
    }
    cases.push(case(
        "cache: unknown mode",
        &["--cache", "sometimes", "tables"],
        Some(2),
        "sometimes",
    ));
    cases.push(
        case(
            "env: invalid DATAFUSION_ setting",
            &["sql", "SELECT 1"],
            Some(1),
            "DATAFUSION_EXECUTION_BATCH_SIZE",
        )
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "lots"),
    );
}
