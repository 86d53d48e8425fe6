//! Bad exports, and `dwca` archives that do not validate.

use super::*;

pub(super) fn exports(good: &str, work: &Path, cases: &mut Vec<Case>) {
    let existing = work.join("existing.csv");
    std::fs::write(&existing, b"theirs").unwrap();
    let e = existing.to_str().unwrap().to_string();
    let no_parent = work.join("nope/out.csv");
    let np = no_parent.to_str().unwrap().to_string();
    let dir_out = format!("{}/", work.join("adir").display());
    let file_parent = format!("{}/x.csv", existing.display());
    let newline = format!("{}/no\nsuch/x.csv", work.display());
    for format in [
        "occurrences_simple_csv",
        "occurrences_api_json",
        "ndjson",
        "csv",
        "parquet",
        "dwca",
        "taxa_list_csv",
    ] {
        let base = |out: &str| -> Vec<String> {
            [
                "--snapshot",
                good,
                "export",
                "--format",
                format,
                "--project",
                "1",
                "--out",
                out,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let mk = |name: &str, out: &str, names: &str| {
            let args = base(out);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            case(&format!("export {format}: {name}"), &args, Some(1), names)
        };
        cases.push(mk("existing file", &e, "--overwrite"));
        cases.push(mk("missing parent", &np, "does not exist").absent(&no_parent));
        cases.push(mk("empty --out", "", "--out"));
        cases.push(mk("a directory", &dir_out, "directory"));
        // A parent that is a file, and a name holding a newline: one line naming them.
        cases.push(mk("a file as parent", &file_parent, "is not a directory"));
        cases.push(mk("a newline in the name", &newline, "does not exist"));
        cases.push(mk("unsupported scheme", "ftp://host/x.csv", "ftp"));
        let missing_project = work.join(format!("p999.{format}"));
        let args = [
            "--snapshot",
            good,
            "export",
            "--format",
            format,
            "--project",
            "999999",
            "--out",
            missing_project.to_str().unwrap(),
        ];
        cases.push(
            case(
                &format!("export {format}: no such project"),
                &args,
                Some(1),
                "999999",
            )
            .absent(&missing_project),
        );
    }
    // An unknown column; a column twice (DataFusion's "Projections require unique expression
    // names"); a column list given to a format that writes its own columns (ignored, exit 0).
    for (i, (name, format, columns, names)) in [
        ("an unknown column", "csv", "nope", "nope"),
        (
            "a column twice",
            "csv",
            "id,id",
            "--columns: id given twice",
        ),
        ("parquet", "parquet", "id", "--columns: only --format csv"),
        ("ndjson", "ndjson", "id", "--columns: only --format csv"),
    ]
    .into_iter()
    .enumerate()
    {
        let out = work.join(format!("cols-{i}.out"));
        cases.push(
            case(
                &format!("export {format}: --columns, {name}"),
                &[
                    "--snapshot",
                    good,
                    "export",
                    "--format",
                    format,
                    "--project",
                    "1",
                    "--columns",
                    columns,
                    "--out",
                    out.to_str().unwrap(),
                ],
                Some(1),
                names,
            )
            .absent(&out),
        );
    }
    cases.push(case(
        "export: unknown format",
        &[
            "--snapshot",
            good,
            "export",
            "--format",
            "xlsx",
            "--project",
            "1",
            "--out",
            "x",
        ],
        Some(2),
        "xlsx",
    ));
    // "noon", and a year Python's datetime cannot hold (session 60: year 0 was accepted).
    for (name, value) in [
        ("export dwca: bad --packaged-at", "noon"),
        (
            "export dwca: --packaged-at in year 0",
            "0000-01-01T00:00:00",
        ),
    ] {
        cases.push(case(
            name,
            &[
                "--snapshot",
                good,
                "export",
                "--format",
                "dwca",
                "--project",
                "1",
                "--packaged-at",
                value,
                "--out",
                "x.zip",
            ],
            Some(2),
            "packaged",
        ));
    }
    // An empty column name (`--columns ''` said "unknown column  (").
    cases.push(case(
        "export csv: --columns ''",
        &[
            "--snapshot",
            good,
            "export",
            "--format",
            "csv",
            "--project",
            "1",
            "--columns",
            "",
            "--out",
            "x.csv",
        ],
        Some(1),
        "an empty column name",
    ));
    // Options of another format were ignored with exit 0 (session 60).
    let out = work.join("other_format.csv");
    let o = out.to_str().unwrap();
    for (format, option, value, names) in [
        ("csv", "--shape", "detail", "--shape: only --format ndjson"),
        (
            "parquet",
            "--packaged-at",
            "2026-01-01T00:00:00",
            "--packaged-at: only --format dwca",
        ),
    ] {
        let args = [
            "--snapshot",
            good,
            "export",
            "--format",
            format,
            "--project",
            "1",
            option,
            value,
            "--out",
            o,
        ];
        cases.push(case(&format!("export {format}: {option}"), &args, Some(1), names).absent(&out));
    }
}

pub(super) fn dwca_archives(work: &Path, cases: &mut Vec<Case>) {
    let zip_with = |name: &str, files: &[(&str, &[u8])]| {
        let p = work.join(name);
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        for (n, bytes) in files {
            z.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
        p.to_string_lossy().to_string()
    };
    let not_zip = work.join("not.zip");
    std::fs::write(&not_zip, b"hello").unwrap();
    let empty = work.join("empty.zip");
    std::fs::write(&empty, b"").unwrap();
    let no_meta = zip_with("no_meta.zip", &[("occurrence.txt", b"id\n1\n")]);
    let bad_meta = zip_with("bad_meta.zip", &[("meta.xml", b"<archive")]);
    let huge_index = zip_with(
        "huge_index.zip",
        &[
            ("meta.xml", br#"<?xml version="1.0"?><archive xmlns="http://rs.tdwg.org/dwc/text/"><core rowType="http://rs.tdwg.org/dwc/terms/Occurrence" fieldsTerminatedBy="\t" linesTerminatedBy="\n" ignoreHeaderLines="1"><files><location>occurrence.txt</location></files><id index="18446744073709551615"/><field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/></core></archive>"#),
            ("occurrence.txt", b"occurrenceID\n1\n"),
        ],
    );
    let missing = work.join("missing.zip").to_string_lossy().to_string();
    cases.push(case(
        "dwca: missing file",
        &["validate-dwca", &missing],
        None,
        "missing.zip: no such file",
    ));
    cases.push(case(
        "dwca: a directory",
        &["validate-dwca", work.to_str().unwrap()],
        None,
        "is a directory",
    ));
    for (name, path, names) in [
        ("dwca: not a zip", not_zip.to_str().unwrap(), "not.zip"),
        ("dwca: empty file", empty.to_str().unwrap(), "empty.zip"),
    ] {
        cases.push(case(name, &["validate-dwca", path], None, names).report());
    }
    for (name, path, names) in [
        ("dwca: no meta.xml", no_meta.as_str(), "meta.xml"),
        ("dwca: meta.xml not XML", bad_meta.as_str(), "meta.xml"),
        ("dwca: id index 2^64-1", huge_index.as_str(), "index"),
    ] {
        cases.push(case(name, &["validate-dwca", path], Some(1), names).report());
    }
}
