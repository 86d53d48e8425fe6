//! `occlens sql` as a shell: scripts (-c, -f, stdin) with exact outputs on the built-in demo
//! snapshot, the read-only rule, `--out`, completions, and the interactive shell under a
//! pseudo-terminal (multi-line statements, `\d`, Ctrl-C cancelling a running query, Ctrl-D).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// A command for the binary on the demo snapshot, its cache and data directories in `home`.
fn command(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_occlens"));
    c.env_remove("OCCLENS_SNAPSHOT")
        .env_remove("OCCLENS_CACHE")
        .env("OCCLENS_CACHE_DIR", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("HOME", home);
    c
}

/// Run `occlens ARGS` with `stdin`: (exit status, stdout, stderr).
fn occlens(home: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = command(home)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("occlens runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const TAXA: &str = "SELECT id, name, rank FROM main_taxon ORDER BY id LIMIT 2";

const TAXA_TABLE: &str = "\
+----+-------------+-------+
| id | name        | rank  |
+----+-------------+-------+
| 1  | Lepidoptera | ORDER |
| 2  | Diptera     | ORDER |
+----+-------------+-------+
2 rows
";

#[test]
fn commands_run_in_order_with_backslash_commands() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = occlens(
        home.path(),
        &[
            "sql",
            "-c",
            &format!("{TAXA}; SELECT 1 AS one"),
            "-c",
            "\\format csv",
            "-c",
            TAXA,
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let expected = format!(
        "{TAXA_TABLE}+-----+\n| one |\n+-----+\n| 1   |\n+-----+\n1 row\nid,name,rank\n1,Lepidoptera,ORDER\n2,Diptera,ORDER\n"
    );
    assert_eq!(out, expected);
}

#[test]
fn files_and_stdin_are_scripts() {
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("report.sql");
    std::fs::write(
        &script,
        "-- the first two taxa; a comment with a ';'\nSELECT id, name, rank\nFROM main_taxon\n\
         ORDER BY id /* ; */ LIMIT 2;\n\\format ndjson\nSELECT ';' AS semi\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let ndjson = "{\"semi\":\";\"}\n";
    // -f FILE, then -f - (stdin).
    let (code, out, err) = occlens(
        home.path(),
        &["sql", "-f", s, "-f", "-"],
        "SELECT 2 AS two;",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{TAXA_TABLE}{ndjson}{{\"two\":2}}\n"));
    // No statement and stdin not a terminal: stdin is the script.
    let text = std::fs::read_to_string(&script).unwrap();
    let (code, out, err) = occlens(home.path(), &["sql"], &text);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{TAXA_TABLE}{ndjson}"));
}

#[test]
fn formats_and_maxrows() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let (code, out, err) = occlens(home.path(), args, "");
        assert_eq!(code, 0, "{err}");
        out
    };
    // JSON ends with a newline; an empty result is [].
    assert_eq!(
        run(&["sql", "--format", "json", "-c", &format!("{TAXA}; SELECT 1 AS x WHERE false")]),
        "[{\"id\":1,\"name\":\"Lepidoptera\",\"rank\":\"ORDER\"},{\"id\":2,\"name\":\"Diptera\",\"rank\":\"ORDER\"}]\n[]\n"
    );
    assert_eq!(
        run(&[
            "sql",
            "--format",
            "markdown",
            "SELECT 'a|b' AS \"x\", NULL AS y"
        ]),
        "| x | y |\n| --- | --- |\n| a\\|b |  |\n"
    );
    assert_eq!(
        run(&[
            "sql",
            "--maxrows",
            "2",
            "SELECT id FROM main_taxon ORDER BY id"
        ]),
        "+----+\n| id |\n+----+\n| 1  |\n| 2  |\n+----+\n23 rows (2 shown)\n"
    );
    assert_eq!(
        run(&[
            "sql",
            "-c",
            "\\maxrows 1",
            "-c",
            "SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a"
        ]),
        "+---+\n| a |\n+---+\n| 1 |\n+---+\n2 rows (1 shown)\n"
    );
    // An empty result keeps its header.
    assert_eq!(
        run(&["sql", "SELECT 1 AS x WHERE false"]),
        "+---+\n| x |\n+---+\n+---+\n0 rows\n"
    );
    // EXPLAIN prints DataFusion's plan rows.
    let explain = run(&["sql", "-c", "EXPLAIN SELECT count(*) FROM occurrence_list"]);
    assert!(explain.starts_with("+---------------+"), "{explain}");
    assert!(explain.contains("| plan_type     | plan"), "{explain}");
    assert!(
        explain.contains("| logical_plan  |") && explain.contains("| physical_plan |"),
        "{explain}"
    );
    let analyze = run(&[
        "sql",
        "EXPLAIN ANALYZE SELECT count(*) FROM main_detection WHERE id > 0",
    ]);
    assert!(
        analyze.contains("Plan with Metrics") && analyze.contains("output_rows="),
        "{analyze}"
    );
}

#[test]
fn backslash_d_lists_and_describes() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = occlens(home.path(), &["sql", "--format", "csv", "-c", "\\d"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("table_name,table_type,rows\nmain_occurrence,table,1000\n"),
        "{out}"
    );
    assert!(out.contains("\nmain_classification,table,3750\n"), "{out}");
    assert!(out.contains("\noccurrence_list,view,\n"), "{out}");
    let (code, out, err) = occlens(
        home.path(),
        &["sql", "-c", "\\d main_taxalist_projects"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "\
+-------------+-----------+-------------+
| column_name | data_type | is_nullable |
+-------------+-----------+-------------+
| id          | Int64     | NO          |
| taxalist_id | Int64     | NO          |
| project_id  | Int64     | NO          |
+-------------+-----------+-------------+
3 rows
"
    );
    let (code, out, err) = occlens(home.path(), &["sql", "-c", "\\d occurrence_list"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| determination_score "), "{out}");
    assert!(
        out.contains("\nView occurrence_list, defined in queries/05_occurrences.sql:\n"),
        "{out}"
    );
    assert!(out.contains("\nCREATE VIEW occurrence_list AS\n"), "{out}");
    let (code, _, err) = occlens(home.path(), &["sql", "-c", "\\d nope"], "");
    assert_eq!(code, 1);
    assert!(err.contains("nope"), "{err}");
    let (code, _, err) = occlens(home.path(), &["sql", "-c", "\\bogus"], "");
    assert_eq!(code, 1);
    assert!(err.contains("unknown command"), "{err}");
}

#[test]
fn scripts_stop_at_the_first_error() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = occlens(
        home.path(),
        &[
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT 1 AS a; SELEC 2; SELECT 3 AS c",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert_eq!(out, "a\n1\n");
    assert!(err.contains("SELEC"), "{err}");
}

#[test]
fn scripts_are_read_only_unless_allow_write() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("copied.csv");
    let copy = format!("COPY (SELECT 1 AS a) TO '{}'", target.display());
    for statement in [
        copy.as_str(),
        "CREATE VIEW v AS SELECT 1 AS a",
        "DROP TABLE main_taxon",
    ] {
        let (code, _, err) = occlens(home.path(), &["sql", "-c", statement], "");
        assert_eq!(code, 1, "{statement}");
        assert!(
            err.contains("read-only unless --allow-write"),
            "{statement}: {err}"
        );
    }
    let (code, _, err) = occlens(home.path(), &["sql"], &format!("SELECT 1;\n{copy};\n"));
    assert_eq!(code, 1);
    assert!(err.contains("read-only"), "{err}");
    assert!(!target.exists());
    let (code, out, err) = occlens(
        home.path(),
        &[
            "sql",
            "--allow-write",
            "--format",
            "csv",
            "-c",
            "CREATE VIEW v AS SELECT 1 AS a; SELECT a FROM v",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("a\n1\n"), "{out}");
}

#[test]
fn out_is_atomic_and_refuses_an_existing_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (code, out, err) = occlens(home.path(), &["sql", TAXA, "--out", &path("t.csv")], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("wrote 2 rows to"), "{err}");
    assert_eq!(
        std::fs::read_to_string(path("t.csv")).unwrap(),
        "id,name,rank\n1,Lepidoptera,ORDER\n2,Diptera,ORDER\n"
    );
    // Refused, untouched; replaced with --overwrite.
    let (code, _, err) = occlens(
        home.path(),
        &["sql", "-c", "SELECT 1 AS z", "--out", &path("t.csv")],
        "",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("exists") && err.contains("--overwrite"),
        "{err}"
    );
    assert!(std::fs::read_to_string(path("t.csv"))
        .unwrap()
        .starts_with("id,name,rank\n"));
    let (code, _, err) = occlens(
        home.path(),
        &[
            "sql",
            "SELECT 1 AS z",
            "--out",
            &path("t.csv"),
            "--overwrite",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(path("t.csv")).unwrap(), "z\n1\n");
    // A failing statement leaves nothing; neither does anything but one statement.
    let (code, _, _) = occlens(
        home.path(),
        &["sql", "SELECT nope", "--out", &path("bad.json")],
        "",
    );
    assert_eq!(code, 1);
    let (code, _, err) = occlens(
        home.path(),
        &[
            "sql",
            "-c",
            "SELECT 1; SELECT 2",
            "--out",
            &path("two.json"),
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("one statement"), "{err}");
    let (code, _, err) = occlens(
        home.path(),
        &["sql", "SELECT 1", "--out", &path("t.txt")],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains(".parquet, .csv, .json or .ndjson"), "{err}");
    // JSON, JSON lines and Parquet (read back).
    for (name, expected) in [
        ("t.json", "[{\"id\":1,\"name\":\"Lepidoptera\",\"rank\":\"ORDER\"},{\"id\":2,\"name\":\"Diptera\",\"rank\":\"ORDER\"}]\n"),
        ("t.ndjson", "{\"id\":1,\"name\":\"Lepidoptera\",\"rank\":\"ORDER\"}\n{\"id\":2,\"name\":\"Diptera\",\"rank\":\"ORDER\"}\n"),
    ] {
        let (code, _, err) = occlens(home.path(), &["sql", TAXA, "--out", &path(name)], "");
        assert_eq!(code, 0, "{err}");
        assert_eq!(std::fs::read_to_string(path(name)).unwrap(), expected);
    }
    let (code, _, err) = occlens(home.path(), &["sql", TAXA, "--out", &path("t.parquet")], "");
    assert_eq!(code, 0, "{err}");
    let read = format!(
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}'; SELECT * FROM t ORDER BY id",
        path("t.parquet")
    );
    let (code, out, err) = occlens(home.path(), &["sql", "--allow-write", "-c", &read], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with(TAXA_TABLE), "{out}");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["t.csv", "t.json", "t.ndjson", "t.parquet"],
        "no temporaries left"
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = occlens(home.path(), &["completions", shell], "");
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("occlens") && out.contains("maxrows"),
            "{shell}: {out}"
        );
    }
}

/// The interactive shell under a pseudo-terminal, typed as a person would.
#[cfg(unix)]
#[test]
fn interactive_shell_under_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut p = terminal(home.path(), &["sql"]);
    p.exp_string("\\? for help").unwrap();
    p.exp_string("occlens> ").unwrap();

    // A statement over two lines: the continuation prompt, then the result and the time.
    p.send_line("SELECT id, name").unwrap();
    p.exp_string("     -> ").unwrap();
    p.send_line("FROM main_taxon WHERE id = 1;").unwrap();
    p.exp_regex(r"\| 1 +\| Lepidoptera \|").unwrap();
    p.exp_string("1 row").unwrap();
    p.exp_string("Elapsed ").unwrap();
    p.exp_string("occlens> ").unwrap();

    // \d NAME: the columns, and the view's SQL from queries/.
    p.send_line("\\d occurrence_list").unwrap();
    p.exp_string("determination_name").unwrap();
    p.exp_string("View occurrence_list, defined in queries/05_occurrences.sql:")
        .unwrap();
    p.exp_string("CREATE VIEW occurrence_list AS").unwrap();
    p.exp_string("occlens> ").unwrap();

    // Ctrl-C at the continuation prompt forgets the statement begun.
    p.send_line("SELECT 'forgotten'").unwrap();
    p.exp_string("     -> ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("occlens> ").unwrap();

    // A long query: the progress line appears after a second; Ctrl-C cancels it.
    p.send_line(
        "SELECT count(*) FROM main_classification a, main_classification b, main_classification c WHERE a.id + b.id + c.id > 0;",
    )
    .unwrap();
    p.exp_string("(Ctrl-C cancels)").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("Query cancelled.").unwrap();
    p.exp_string("occlens> ").unwrap();

    // The shell is alive: another query runs.
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    let (before, _) = p.exp_regex(r"\| 42 +\|").unwrap();
    assert!(!before.contains("forgotten"), "{before}");
    p.exp_string("occlens> ").unwrap();

    // Ctrl-D exits with status 0; the statements are in the history file.
    quit(p);
    let history = std::fs::read_to_string(home.path().join("data/occlens/history")).unwrap();
    assert!(history.contains("SELECT 40 + 2 AS answer;"), "{history}");
    assert!(!history.contains("forgotten"), "{history}");
    // A file under the history's name that occlens did not write is left as it is (it was
    // rewritten with rustyline's `#V2` header in front).
    let theirs = home.path().join("data/occlens/history");
    std::fs::write(&theirs, "my notes\n").unwrap();
    let mut p = terminal(home.path(), &["sql"]);
    p.exp_string("occlens> ").unwrap();
    p.send_line("SELECT 1 AS one;").unwrap();
    p.exp_regex(r"\| 1 +\|").unwrap();
    p.exp_string("occlens> ").unwrap();
    quit(p);
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "my notes\n");
}

/// `occlens ARGS` under a pseudo-terminal.
#[cfg(unix)]
fn terminal(home: &Path, args: &[&str]) -> rexpect::session::PtySession {
    let mut c = command(home);
    c.args(args).env("TERM", "xterm-256color");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(60_000))
        .strip_ansi_escape_codes(true);
    rexpect::spawn_with_options(c, options).expect("spawn occlens sql")
}

/// Ctrl-D: the shell exits with status 0.
#[cfg(unix)]
fn quit(mut p: rexpect::session::PtySession) {
    use rexpect::process::WaitStatus;
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("occlens sql ended with {other:?}"),
    }
}

/// `--time-limit` in the interactive shell cancels the statement that ran past it, not the
/// shell: the next statement runs, Ctrl-D exits 0.
#[cfg(unix)]
#[test]
fn the_time_limit_cancels_a_statement_in_the_shell() {
    let home = tempfile::tempdir().unwrap();
    let mut p = terminal(home.path(), &["--time-limit", "2s", "sql"]);
    p.exp_string("occlens> ").unwrap();
    p.send_line("SELECT sum(value) FROM generate_series(1, 100000000000);")
        .unwrap();
    p.exp_string("Query cancelled: time: ran past --time-limit 2s")
        .unwrap();
    p.exp_string("occlens> ").unwrap();
    // Longer than the limit in all: the shell itself is not bounded.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    p.exp_regex(r"\| 42 +\|").unwrap();
    p.exp_string("occlens> ").unwrap();
    quit(p);
}
