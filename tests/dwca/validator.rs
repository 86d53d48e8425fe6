//! The validator on hand-built archives: its scenarios, row errors, unreadable archives, huge
//! indexes and corrupt members.

use super::*;

/// A hand-built archive with a 2-column event core and a 2-column occurrence extension.
fn archive(dir: &Path, meta: Option<&str>, files: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join(format!("t{}.zip", files.len() + meta.map_or(0, str::len)));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    if let Some(m) = meta {
        zip.start_file("meta.xml", opts).unwrap();
        zip.write_all(m.as_bytes()).unwrap();
    }
    zip.start_file("eml.xml", opts).unwrap();
    zip.write_all(b"<eml/>").unwrap();
    for (name, text) in files {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    path
}

const META: &str = r#"<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
<core><files><location>event.txt</location></files><id index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/eventDate"/></core>
<extension><files><location>occurrence.txt</location></files><coreid index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/></extension>
<extension><files><location>multimedia.txt</location></files><coreid index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/></extension>
</archive>"#;

#[test]
fn row_errors_are_listed_up_to_a_thousand_per_file_then_counted() {
    // 2,500 rows repeating one core id: a few KB compressed, millions of rows in general.
    let dir = tempfile::tempdir().unwrap();
    let mut events = String::from("eventID\teventDate\n");
    for _ in 0..2501 {
        events.push_str("E1\t2024-01-01\n");
    }
    let files = [
        ("event.txt", events.as_str()),
        ("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\n"),
        ("multimedia.txt", "eventID\toccurrenceID\nE1\tO1\n"),
    ];
    let errors = validate(&archive(dir.path(), Some(META), &files), &[]).errors;
    assert_eq!(errors.len(), 1001);
    assert_eq!(errors[0], "event.txt:L3: duplicate core id: 'E1'");
    assert_eq!(
        errors[1000],
        "event.txt: 1500 more row errors (the first 1000 are listed)"
    );
}

#[test]
fn validator_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = [
        ("event.txt", "eventID\teventDate\nE1\t2024-01-01\n"),
        ("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\n"),
        ("multimedia.txt", "eventID\toccurrenceID\nE1\t\nE1\tO1\n"),
    ];
    let event_id = vec!["http://rs.tdwg.org/dwc/terms/eventID".to_string()];
    let with = |name: &str, text: &'static str| {
        let mut f = good.to_vec();
        f.iter_mut().find(|(n, _)| *n == name).unwrap().1 = text;
        f
    };
    let errors = |meta: Option<&str>, files: &[(&str, &str)], req: &[String]| {
        validate(&archive(d, meta, files), req).errors
    };
    assert_eq!(errors(Some(META), &good, &event_id), Vec::<String>::new());
    assert_eq!(
        errors(None, &good, &[]),
        vec!["Archive missing required file: meta.xml"]
    );
    assert_eq!(
        errors(
            Some(META),
            &with("occurrence.txt", "eventID\toccurrenceID\nE2\tO1\n"),
            &[]
        ),
        vec!["occurrence.txt: 1 coreid value(s) do not exist in core. First: ['E2']"]
    );
    assert_eq!(
        errors(
            Some(META),
            &with("event.txt", "eventID\teventDate\nE1\t2024\nE1\t2024\n"),
            &[]
        ),
        vec!["event.txt:L3: duplicate core id: 'E1'"]
    );
    let date = vec!["http://rs.tdwg.org/dwc/terms/eventDate".to_string()];
    assert_eq!(
        errors(
            Some(META),
            &with("event.txt", "eventID\teventDate\nE1\t\n"),
            &date
        ),
        vec!["event.txt:L2: required term http://rs.tdwg.org/dwc/terms/eventDate is empty"]
    );
    assert_eq!(
        errors(Some(META), &with("event.txt", "eventID\nE1\n"), &[])[0],
        "event.txt: header has 1 columns but meta.xml declares 2"
    );
    let unclosed = errors(Some("<archive><core>"), &good, &[]);
    assert_eq!(unclosed.len(), 1);
    assert!(
        unclosed[0].starts_with("meta.xml does not parse: "),
        "{unclosed:?}"
    );
    assert_eq!(
        errors(Some(META), &with("multimedia.txt", "eventID\toccurrenceID\nE1\tO_MISSING\n"), &[]),
        vec!["multimedia.txt: 1 occurrenceID value(s) do not exist in occurrence.txt. First: ['O_MISSING']"]
    );
    assert_eq!(
        errors(
            Some(META),
            &with("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\nE1\n"),
            &[]
        ),
        vec!["occurrence.txt:L3: row has 1 columns, expected 2"]
    );
    let not_zip = d.join("plain.zip");
    std::fs::write(&not_zip, "not a zip").unwrap();
    assert_eq!(
        validate(&not_zip, &[]).errors,
        vec![format!("Not a zip file: {}", not_zip.display())]
    );
}

#[test]
fn unreadable_archives_and_huge_indexes_are_named_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope.zip");
    assert_eq!(
        validate(&missing, &[]).errors,
        vec![format!("Cannot read {}: no such file", missing.display())]
    );
    assert_eq!(
        validate(d, &[]).errors,
        vec![format!("Cannot read {}: it is a directory", d.display())]
    );
    // An index of 2^64-1: one more is not a column count (it wrapped to 0 in release builds).
    let meta = META.replacen(
        r#"<id index="0"/>"#,
        r#"<id index="18446744073709551615"/>"#,
        1,
    );
    let files = [
        ("event.txt", "eventID\teventDate\nE1\t2024-01-01\n"),
        ("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\n"),
        ("multimedia.txt", "eventID\toccurrenceID\nE1\tO1\n"),
    ];
    let errors = validate(&archive(d, Some(&meta), &files), &[]).errors;
    assert_eq!(
        errors[0],
        "meta.xml core (event.txt) declares a column index too large: 18446744073709551615"
    );
    // The command line: one line on stderr naming the file, exit 1.
    for (path, why) in [
        (missing.clone(), "no such file"),
        (d.to_path_buf(), "is a directory, not a DwC-A zip file"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
            .arg("validate-dwca")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            format!("occlens: {}: {why}\n", path.display())
        );
    }
}

#[test]
fn a_corrupt_member_fails_validation_instead_of_passing() {
    let dir = tempfile::tempdir().unwrap();
    let mut occurrences = String::from("eventID\toccurrenceID\n");
    for i in 0..2000 {
        occurrences.push_str(&format!("E1\tO{}\n", i * 7919 % 10007));
    }
    let files = [
        (
            "event.txt",
            "eventID\teventDate\nE1\t2024-01-01\n".to_string(),
        ),
        ("occurrence.txt", occurrences),
        (
            "multimedia.txt",
            "eventID\toccurrenceID\nE1\tO0\n".to_string(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let path = archive(dir.path(), Some(META), &files);
    assert_eq!(validate(&path, &[]).errors, Vec::<String>::new());
    let (start, len) = {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let f = zip.by_name("occurrence.txt").unwrap();
        (
            f.data_start().unwrap() as usize,
            f.compressed_size() as usize,
        )
    };
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[start + len / 2..start + len / 2 + 8] {
        *b ^= 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    let errors = validate(&path, &[]).errors;
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("occurrence.txt: cannot be read from the archive: ")),
        "{errors:?}"
    );
}
