//! Snapshots whose files are broken: missing, truncated, mislabelled, misplaced, or listed wrongly by a manifest.

use super::*;

pub(super) fn snapshot_files(work: &Path, good: &Path, cases: &mut Vec<Case>) {
    let s = |n: &str, f: &dyn Fn(&Path)| variant(work, good, n, f);
    let missing = s("missing_table", &|d| {
        std::fs::remove_file(d.join("main_detection.parquet")).unwrap()
    });
    let zero = s("zero_byte", &|d| {
        std::fs::write(d.join("main_detection.parquet"), b"").unwrap()
    });
    let truncated = s("truncated", &|d| {
        let p = d.join("main_occurrence.parquet");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap()
    });
    let garbage = s("garbage", &|d| {
        std::fs::write(
            d.join("main_taxon.parquet"),
            b"this is not parquet at all, not even close",
        )
        .unwrap()
    });
    let dir_named = s("dir_named_parquet", &|d| {
        std::fs::remove_file(d.join("main_project.parquet")).unwrap();
        std::fs::create_dir(d.join("main_project.parquet")).unwrap();
    });
    let both = s("file_and_folder", &|d| {
        std::fs::create_dir(d.join("main_event")).unwrap();
        std::fs::copy(
            d.join("main_event.parquet"),
            d.join("main_event/part-00000.parquet"),
        )
        .unwrap();
    });
    // Its footer and page indexes intact (the snapshot opens), the first pages zeroed.
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/antenna-oracle/snapshot");
    let pages_damaged = variant(work, &fixture, "pages_damaged", |d: &Path| {
        let p = d.join("main_sourceimage.parquet");
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
        let pages = n - 8 - footer;
        // A page header of zeros ends before its required fields.
        bytes[4..4 + pages / 3].fill(0);
        std::fs::write(&p, &bytes).unwrap()
    });
    cases.push(case(
        "snapshot: a table's pages damaged, its footer intact (sql)",
        &[
            "--snapshot",
            pages_damaged.as_str(),
            "--cache",
            "off",
            "sql",
            "SELECT * FROM main_sourceimage",
        ],
        Some(1),
        "occlens check",
    ));
    // `occlens check` names the file (its row rules, which would fail on the page, not run).
    cases.push(
        case(
            "snapshot: a table's pages damaged, its footer intact (check)",
            &["--snapshot", pages_damaged.as_str(), "check"],
            Some(1),
            "main_sourceimage.parquet",
        )
        .report(),
    );
    // Instants stored as milliseconds that overflow microseconds (nanoseconds labelled
    // milliseconds): every query failed with a cast error naming no table or column, and
    // `check` said every rule held.
    let instants = s("instants_overflow", &|d| {
        use datafusion::arrow::array::{ArrayRef, TimestampMillisecondArray};
        common::replace_column(
            d,
            "main_detection",
            "timestamp",
            |c: &ArrayRef| -> ArrayRef {
                let huge = (0..c.len()).map(|i| Some(1_000_000_000_000_000_000 + i as i64));
                std::sync::Arc::new(TimestampMillisecondArray::from_iter(huge).with_timezone("UTC"))
            },
        )
    });
    cases.push(case(
        "snapshot: instants that overflow microseconds (api)",
        &[
            "--snapshot",
            instants.as_str(),
            "--cache",
            "off",
            "api",
            "/api/v2/occurrences/?project_id=1",
        ],
        Some(1),
        "`occlens check` names it",
    ));
    cases.push(
        case(
            "snapshot: instants that overflow microseconds (check)",
            &["--snapshot", instants.as_str(), "check"],
            Some(1),
            "main_detection.timestamp",
        )
        .report(),
    );
    // An int4 column stored as int8 with a value the contract's type cannot hold: every query
    // that read it failed (naming it), and `check` said every rule held.
    let int4_overflow = s("int4_overflow", &|d| {
        use datafusion::arrow::array::{ArrayRef, Int64Array};
        common::replace_column(d, "main_sourceimage", "width", |c: &ArrayRef| -> ArrayRef {
            let widths = (0..c.len()).map(|i| Some(if i == 0 { 5_000_000_000 } else { 640 }));
            std::sync::Arc::new(Int64Array::from_iter(widths))
        })
    });
    cases.push(
        case(
            "snapshot: an int4 column stored as int8 holding 2^32 (check)",
            &["--snapshot", int4_overflow.as_str(), "check"],
            Some(1),
            "main_sourceimage.width holds 5000000000",
        )
        .report(),
    );
    // An instant past the year 9999, where Antenna's Python datetimes end (occlens's text of
    // one past ±262,142 years was chrono's last time): `check` said every rule held.
    let far_instant = s("far_instant", &|d| {
        use datafusion::arrow::array::{ArrayRef, TimestampMicrosecondArray};
        common::replace_column(
            d,
            "main_detection",
            "timestamp",
            |c: &ArrayRef| -> ArrayRef {
                let far = 9_000_000_000_000_000_000;
                let us =
                    (0..c.len()).map(|i| Some(if i == 0 { far } else { 1_686_445_200_000_000 }));
                std::sync::Arc::new(TimestampMicrosecondArray::from_iter(us).with_timezone("UTC"))
            },
        )
    });
    cases.push(
        case(
            "snapshot: an instant past the year 9999 (check)",
            &["--snapshot", far_instant.as_str(), "check"],
            Some(1),
            "9000000000000000000",
        )
        .report(),
    );
    // A table's parts storing a column as different types (int8, and unsigned holding 2^63):
    // read as int8, cast part by part, every query reading the column failed, and `check`
    // stopped at its first row rule with an error naming no column.
    let mixed_parts = s("mixed_part_types", &|d| {
        use datafusion::arrow::array::{ArrayRef, UInt64Array};
        let parts = d.join("main_detection");
        std::fs::create_dir(&parts).unwrap();
        let whole = d.join("main_detection.parquet");
        std::fs::copy(&whole, parts.join("part-00000.parquet")).unwrap();
        common::replace_column(d, "main_detection", "occurrence_id", |c: &ArrayRef| {
            let far = (0..c.len()).map(|_| 1u64 << 63);
            std::sync::Arc::new(UInt64Array::from_iter_values(far)) as ArrayRef
        });
        std::fs::rename(&whole, parts.join("part-00001.parquet")).unwrap();
    });
    cases.push(
        case(
            "snapshot: a table's parts storing an id column as int8 and as uint64 holding 2^63 (check)",
            &["--snapshot", mixed_parts.as_str(), "check"],
            Some(1),
            "9223372036854775808 to type Int64",
        )
        .report(),
    );
    let optional_corrupt = s("optional_corrupt", &|d| {
        std::fs::write(d.join("main_taxalist.parquet"), b"PAR1 garbage PAR1").unwrap()
    });
    let optional_zero = s("optional_zero", &|d| {
        std::fs::write(
            d.join("main_project_default_filters_include_taxa.parquet"),
            b"",
        )
        .unwrap()
    });
    let dangling = s("dangling_symlink", &|d| {
        let _ = std::fs::remove_file(d.join("main_project_default_filters_exclude_taxa.parquet"));
        std::os::unix::fs::symlink(
            d.join("nowhere.parquet"),
            d.join("main_project_default_filters_exclude_taxa.parquet"),
        )
        .unwrap()
    });
    let dangling_required = s("dangling_required", &|d| {
        std::fs::remove_file(d.join("main_taxon.parquet")).unwrap();
        std::os::unix::fs::symlink(d.join("nowhere.parquet"), d.join("main_taxon.parquet")).unwrap()
    });
    // A part file that lacks a column: its rows read NULL there, silently.
    let part_lacks = s("part_lacks_column", &|d| {
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file = std::fs::File::open(d.join("main_occurrence.parquet")).unwrap();
        let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        std::fs::remove_file(d.join("main_occurrence.parquet")).unwrap();
        std::fs::create_dir(d.join("main_occurrence")).unwrap();
        let write = occlens::generate::builder::write_parquet;
        write(&d.join("main_occurrence/part-0.parquet"), &batches).unwrap();
        let lacking: Vec<_> = batches
            .iter()
            .map(|b| {
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| b.schema().field(i).name() != "determination_score")
                    .collect();
                b.project(&keep).unwrap()
            })
            .collect();
        write(&d.join("main_occurrence/part-1.parquet"), &lacking).unwrap();
    });
    // A file without the .parquet extension among part files (Hive's `000000_0`): it was
    // skipped, silently. Hidden ones (`_SUCCESS`, `.crc`) are skipped by convention.
    let not_parquet = s("part_not_parquet", &|d| {
        std::fs::create_dir(d.join("main_event")).unwrap();
        std::fs::rename(
            d.join("main_event.parquet"),
            d.join("main_event/part-00000.parquet"),
        )
        .unwrap();
        std::fs::write(d.join("main_event/_SUCCESS"), b"").unwrap();
        std::fs::write(d.join("main_event/000001_0"), b"PAR1").unwrap();
    });
    // A part file that is a symbolic link to nothing (an unmounted disk): the listing skipped
    // it and the table was read without its rows, silently.
    let dangling_part = s("part_dangling_symlink", &|d| {
        std::fs::create_dir(d.join("main_classification")).unwrap();
        std::fs::rename(
            d.join("main_classification.parquet"),
            d.join("main_classification/part-0.parquet"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            d.join("unmounted/part-1.parquet"),
            d.join("main_classification/part-1.parquet"),
        )
        .unwrap();
    });
    // Part files at the top of a table's folder and in a subfolder: the top-level ones alone
    // were read, silently.
    let mixed_parts = s("parts_top_and_subfolder", &|d| {
        let folder = d.join("main_detection");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::copy(
            d.join("main_detection.parquet"),
            folder.join("sub/part-1.parquet"),
        )
        .unwrap();
        std::fs::rename(
            d.join("main_detection.parquet"),
            folder.join("part-0.parquet"),
        )
        .unwrap();
    });
    // A table's file and a folder of its name holding files that are not parts (a Hive
    // folder `000000_0`, parts only in subfolders): the file was read, the folder ignored,
    // silently (session 62).
    let file_and_folder = s("file_and_non_part_folder", &|d| {
        let folder = d.join("main_detection/dt=2024");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(
            d.join("main_detection.parquet"),
            folder.join("part-0.parquet"),
        )
        .unwrap();
    });
    // An optional table stored as CSV (or another extension, or case): registered empty as if
    // absent, changing counts silently.
    let optional_csv = s("optional_as_csv", &|d| {
        let name = "main_project_default_filters_exclude_taxa";
        let _ = std::fs::remove_file(d.join(format!("{name}.parquet")));
        std::fs::write(d.join(format!("{name}.csv")), b"id,project_id,taxon_id\n").unwrap();
    });
    // An optional table saved as a downloaded copy or as a part: read as absent before.
    let [optional_copy, optional_part] = [("optional_as_copy", " (1)"), ("optional_as_part", "-0")]
        .map(|(variant, suffix)| {
            s(variant, &|d| {
                let name = "main_project_default_filters_exclude_taxa";
                let to = d.join(format!("{name}{suffix}.parquet"));
                std::fs::rename(d.join(format!("{name}.parquet")), to).unwrap();
            })
        });
    // A FIFO named like a table: reading it blocked forever.
    let fifo = s("fifo_table", &|d| {
        std::fs::remove_file(d.join("main_taxalist.parquet")).unwrap();
        let made = Command::new("mkfifo")
            .arg(d.join("main_taxalist.parquet"))
            .status()
            .unwrap();
        assert!(made.success());
    });
    let bad_manifest = s("bad_manifest", &|d| {
        std::fs::write(d.join("_snapshot.json"), b"{not json").unwrap()
    });
    // A listed path a URL join reads otherwise (`#…` a fragment): it was reported as "a
    // symbolic link to nothing", the file the join found being there.
    let manifest_fragment = s("manifest_fragment", &|d| {
        let manifest = serde_json::json!({"format": "occlens-snapshot/1", "tables": [
            {"name": "main_occurrence", "files": [{"path": "main_occurrence.parquet#x", "bytes": 1}]}
        ]});
        std::fs::write(d.join("_snapshot.json"), manifest.to_string()).unwrap()
    });
    // Manifests that list a file twice (its rows read twice, silently), name an absolute path
    // (read as a path inside the snapshot, reported missing there), or come from another
    // format (session 60).
    let manifest_with = |name: &str, format: &str, files: serde_json::Value| {
        s(name, &|d| {
            let manifest = serde_json::json!({"format": format, "tables": files});
            std::fs::write(d.join("_snapshot.json"), manifest.to_string()).unwrap()
        })
    };
    let occ = |path: &str| serde_json::json!({"path": path, "bytes": 1});
    let listed_twice = manifest_with(
        "manifest_twice",
        "occlens-snapshot/1",
        serde_json::json!([{"name": "main_occurrence", "files": [occ("main_occurrence.parquet"), occ("main_occurrence.parquet")]}]),
    );
    let listed_by_two = manifest_with(
        "manifest_two_tables",
        "occlens-snapshot/1",
        serde_json::json!([{"name": "main_occurrence", "files": [occ("main_occurrence.parquet")]},
                           {"name": "main_detection", "files": [occ("main_occurrence.parquet")]}]),
    );
    let absolute = manifest_with(
        "manifest_absolute",
        "occlens-snapshot/1",
        serde_json::json!([{"name": "main_occurrence", "files": [occ("/etc/main_occurrence.parquet")]}]),
    );
    let newer = manifest_with(
        "manifest_newer",
        "occlens-snapshot/2",
        serde_json::json!([]),
    );
    let foreign = manifest_with("manifest_foreign", "delta", serde_json::json!([]));
    let file_snapshot = work.join("a_file");
    std::fs::write(&file_snapshot, b"x").unwrap();
    let empty = work.join("empty_snapshot");
    std::fs::create_dir_all(&empty).unwrap();
    let nowhere = work.join("does/not/exist");
    let list = "/api/v2/occurrences/?project_id=1";
    for (name, snap, names) in [
        (
            "snapshot: missing directory",
            nowhere.to_str().unwrap(),
            "no such directory",
        ),
        (
            "snapshot: a file",
            file_snapshot.to_str().unwrap(),
            "not a directory",
        ),
        // A URL that does not parse is named as one, not as a missing directory.
        (
            "snapshot: an http URL whose port is out of range",
            "http://user:s3cretpw@127.0.0.1:99999/x",
            "not a valid URL (invalid port number)",
        ),
        (
            "snapshot: an https URL whose host is broken",
            "https://[::1/x",
            "not a valid URL (invalid IPv6 address)",
        ),
        (
            "snapshot: empty directory",
            empty.to_str().unwrap(),
            "is missing",
        ),
        (
            "snapshot: missing required table",
            missing.as_str(),
            "main_detection",
        ),
        ("snapshot: zero-byte table", zero.as_str(), "main_detection"),
        (
            "snapshot: truncated table",
            truncated.as_str(),
            "main_occurrence",
        ),
        ("snapshot: garbage table", garbage.as_str(), "main_taxon"),
        (
            "snapshot: directory named .parquet",
            dir_named.as_str(),
            "main_project",
        ),
        ("snapshot: file and folder", both.as_str(), "main_event"),
        (
            "snapshot: optional table corrupt",
            optional_corrupt.as_str(),
            "main_taxalist",
        ),
        (
            "snapshot: optional table zero bytes",
            optional_zero.as_str(),
            "main_project_default_filters_include_taxa",
        ),
        (
            "snapshot: a part file lacks a column",
            part_lacks.as_str(),
            "column determination_score is in main_occurrence/part-0.parquet but not in main_occurrence/part-1.parquet",
        ),
        (
            "snapshot: a file among part files that is not .parquet",
            not_parquet.as_str(),
            "holds 000001_0, which is not a .parquet file",
        ),
        (
            "snapshot: a part file is a dangling symbolic link",
            dangling_part.as_str(),
            "main_classification/part-1.parquet is a symbolic link to nothing",
        ),
        (
            "snapshot: part files at the top of a folder and in a subfolder",
            mixed_parts.as_str(),
            "both directly inside it and in subfolders (e.g. main_detection/sub/part-1.parquet)",
        ),
        (
            "snapshot: a table's file beside a folder of its name holding no parts",
            file_and_folder.as_str(),
            "both main_detection.parquet and a folder main_detection/ with files in it exist",
        ),
        (
            "snapshot: an optional table stored as CSV",
            optional_csv.as_str(),
            "found main_project_default_filters_exclude_taxa.csv",
        ),
        (
            "snapshot: an optional table saved as a downloaded copy",
            optional_copy.as_str(),
            "found main_project_default_filters_exclude_taxa (1).parquet",
        ),
        (
            "snapshot: an optional table saved as a part",
            optional_part.as_str(),
            "found main_project_default_filters_exclude_taxa-0.parquet",
        ),
        (
            "snapshot: a FIFO named like a table",
            fifo.as_str(),
            "main_taxalist.parquet is not a regular file",
        ),
        (
            "snapshot: a manifest's path with a URL fragment",
            manifest_fragment.as_str(),
            "main_occurrence.parquet#x, listed in _snapshot.json, does not exist",
        ),
        (
            "snapshot: manifest not JSON",
            bad_manifest.as_str(),
            "_snapshot.json",
        ),
        (
            "snapshot: a manifest listing a file twice",
            listed_twice.as_str(),
            "lists \"main_occurrence.parquet\" twice by table main_occurrence",
        ),
        (
            "snapshot: a manifest listing a file for two tables",
            listed_by_two.as_str(),
            "by tables main_occurrence and main_detection",
        ),
        (
            "snapshot: a manifest with an absolute path",
            absolute.as_str(),
            "is an absolute path",
        ),
        (
            "snapshot: a manifest of a newer format",
            newer.as_str(),
            "format \"occlens-snapshot/2\"",
        ),
        (
            "snapshot: a manifest of another tool",
            foreign.as_str(),
            "not an occlens snapshot manifest",
        ),
        (
            "snapshot: optional table a dangling symlink",
            dangling.as_str(),
            "main_project_default_filters_exclude_taxa",
        ),
        (
            "snapshot: required table a dangling symlink",
            dangling_required.as_str(),
            "cannot be read",
        ),
        ("snapshot: unsupported scheme", "ftp://host/snap", "ftp"),
        ("snapshot: s3 without bucket", "s3:///snap", "bucket"),
        (
            "snapshot: unreachable http",
            "http://127.0.0.1:1/snap",
            "127.0.0.1",
        ),
    ] {
        for (cmd, extra) in [
            ("tables", None),
            ("api", Some(list)),
            ("sql", Some("SELECT 1")),
        ] {
            let mut args = vec!["--snapshot", snap, "--cache", "off", cmd];
            args.extend(extra);
            cases.push(case(&format!("{name} ({cmd})"), &args, Some(1), names));
        }
    }
}
