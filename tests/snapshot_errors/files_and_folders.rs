//! Files and folders: corrupt, empty and misnamed Parquet files, part files and their
//! folders, unreadable paths, a corrupt page, a snapshot path that is a file.

use super::*;

#[tokio::test]
async fn a_corrupt_parquet_file_is_named() {
    let dir = snapshot();
    std::fs::write(
        dir.path().join("main_taxon.parquet"),
        b"PAR1 this is not parquet",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.contains("main_taxon.parquet"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[tokio::test]
async fn a_zero_byte_parquet_file_is_not_a_missing_column() {
    let dir = snapshot();
    std::fs::write(dir.path().join("main_detection.parquet"), b"").unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_detection: main_detection.parquet: not a Parquet file (0 bytes)"),
        "{e}"
    );
    let dir = snapshot();
    std::fs::write(dir.path().join("main_taxalist_taxa.parquet"), b"PAR1").unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(
            "table main_taxalist_taxa: main_taxalist_taxa.parquet: not a Parquet file (4 bytes)"
        ),
        "{e}"
    );
}

/// A table written Hive-partitioned (`main_detection/project_id=1/part-0.parquet`, as Spark's
/// `partitionBy` writes it) is named as such, not reported missing; beside a
/// `<table>.parquet`, both are named (which one is current is not occlens's guess: the folder
/// was ignored silently until session 62).
#[tokio::test]
async fn a_hive_partitioned_table_is_named() {
    let dir = snapshot();
    let file = dir.path().join("main_detection.parquet");
    let nested = dir.path().join("main_detection/project_id=1");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::copy(&file, nested.join("part-0.parquet")).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("table main_detection: both main_detection.parquet and a folder main_detection/ with files in it exist")
            && e.ends_with("remove the one that is not current"),
        "{e}"
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        open_err(dir.path()).await,
        format!(
            "snapshot {}: table main_detection: the folder main_detection/ holds Parquet files only in subfolders (e.g. main_detection/project_id=1/part-0.parquet): a table's part files are read directly inside its folder (Hive-partitioned folders are not read)",
            dir.path().display()
        )
    );
}

/// Part files both directly in a table's folder and in a subfolder: reading the top-level
/// ones alone answered from part of the table with no message; the subfolder's file is
/// named. A subfolder hidden by its name (Spark's `_temporary/`) is skipped, as hidden files
/// are.
#[tokio::test]
async fn part_files_in_a_subfolder_beside_top_level_ones_are_named() {
    let dir = snapshot();
    let file = dir.path().join("main_detection.parquet");
    let folder = dir.path().join("main_detection");
    std::fs::create_dir_all(folder.join("_temporary/0")).unwrap();
    std::fs::copy(&file, folder.join("part-0.parquet")).unwrap();
    std::fs::copy(&file, folder.join("_temporary/0/part-9.parquet")).unwrap();
    std::fs::remove_file(&file).unwrap();
    Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .expect("the part under _temporary/ is skipped");
    std::fs::create_dir(folder.join("sub")).unwrap();
    std::fs::copy(
        folder.join("part-0.parquet"),
        folder.join("sub/part-1.parquet"),
    )
    .unwrap();
    assert_eq!(
        open_err(dir.path()).await,
        format!(
            "snapshot {}: table main_detection: the folder main_detection/ holds Parquet files both directly inside it and in subfolders (e.g. main_detection/sub/part-1.parquet): a table's part files are read directly inside its folder (Hive-partitioned folders are not read)",
            dir.path().display()
        )
    );
}

/// An optional table stored in a form occlens does not read (another extension or case) was
/// registered empty, as if absent: a project's exclude filter vanished and
/// counts changed with no message. It is named; a required one likewise, instead of
/// "missing".
#[tokio::test]
async fn a_table_stored_under_another_name_is_named_not_absent() {
    let table = "main_project_default_filters_exclude_taxa";
    for (name, folder) in [
        (format!("{table}.PARQUET"), false),
        (format!("{table}.pq"), false),
        (format!("{table}.parquet.gz"), false),
        (format!("{table}.csv"), false),
        (format!("{}.parquet", table.to_uppercase()), false),
        (table.to_uppercase(), true),
    ] {
        let dir = snapshot();
        let file = dir.path().join(format!("{table}.parquet"));
        if folder {
            std::fs::remove_file(&file).unwrap();
            std::fs::create_dir(dir.path().join(&name)).unwrap();
            std::fs::write(dir.path().join(&name).join("_SUCCESS"), b"").unwrap();
        } else {
            std::fs::rename(&file, dir.path().join(&name)).unwrap();
        }
        let e = open_err(dir.path()).await;
        let expected = format!("table {table}: found {name}, which is not read as table {table}");
        assert!(e.contains(&expected), "{name}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // Absent, with no look-alike, or its own folder holding no part (`_SUCCESS` only): an
    // empty table, as before.
    let dir = snapshot();
    std::fs::remove_file(dir.path().join(format!("{table}.parquet"))).unwrap();
    Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .expect("an absent optional table is registered empty");
    std::fs::create_dir(dir.path().join(table)).unwrap();
    std::fs::write(dir.path().join(table).join("_SUCCESS"), b"").unwrap();
    Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .expect("a folder without parts is an empty table");
    // A required table under another case is named too.
    let dir = snapshot();
    std::fs::rename(
        dir.path().join("main_detection.parquet"),
        dir.path().join("Main_Detection.parquet"),
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("found Main_Detection.parquet, which is not read as table main_detection"),
        "{e}"
    );
}

#[tokio::test]
async fn a_directory_named_like_a_table_file_is_not_missing() {
    for table in ["main_detection", "main_taxalist"] {
        let dir = snapshot();
        let file = dir.path().join(format!("{table}.parquet"));
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let e = open_err(dir.path()).await;
        assert!(
            e.ends_with(&format!(
                "table {table}: {table}.parquet is a directory, not a file"
            )),
            "{e}"
        );
        assert!(!e.contains("missing"), "{e}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_optional_table_that_cannot_be_read_is_an_error_not_absent() {
    // A file that exists but cannot be opened (a symbolic link to itself: unreadable even for
    // root, unlike a chmod 000 file) used to make the table "absent", i.e. empty.
    let dir = snapshot();
    let table = "main_project_default_filters_exclude_taxa";
    let file = dir.path().join(format!("{table}.parquet"));
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&file, &file).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains(&format!("table {table}: {table}.parquet cannot be read: ")),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    // A folder of part files that cannot be listed, likewise.
    let dir = snapshot();
    let table = "main_taxalist_projects";
    std::fs::remove_file(dir.path().join(format!("{table}.parquet"))).unwrap();
    let folder = dir.path().join(table);
    std::os::unix::fs::symlink(&folder, &folder).unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.contains(&format!("table {table}: ")), "{e}");
    assert!(!e.contains("missing"), "{e}");
    // A corrupt optional file names the table, the file and the cause.
    let dir = snapshot();
    std::fs::write(
        dir.path().join("main_taxalist.parquet"),
        b"PAR1 not parquet at all PAR1",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("table main_taxalist: main_taxalist.parquet: corrupt Parquet footer"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("main_taxalist.parquet"),
        b"not parquet at all",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_taxalist: main_taxalist.parquet: not a Parquet file (it does not end with the Parquet magic number PAR1)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_corrupt_part_file_is_named() {
    let dir = snapshot();
    let parts = dir.path().join("main_taxon");
    std::fs::create_dir(&parts).unwrap();
    std::fs::rename(
        dir.path().join("main_taxon.parquet"),
        parts.join("part-00000.parquet"),
    )
    .unwrap();
    // A plausible footer over garbage metadata: the Parquet reader's own error, with the file
    // of the folder that fails named.
    let mut bogus = b"PAR1".to_vec();
    bogus.extend_from_slice(&[0xee; 20]);
    bogus.extend_from_slice(&20u32.to_le_bytes());
    bogus.extend_from_slice(b"PAR1");
    std::fs::write(parts.join("part-00001.parquet"), &bogus).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("table main_taxon: cannot read main_taxon/part-00001.parquet: "),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    // A footer whose metadata length exceeds the file (the reader's arithmetic overflowed).
    std::fs::write(
        parts.join("part-00001.parquet"),
        b"PAR1 garbage garbage PAR1",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_taxon: main_taxon/part-00001.parquet: corrupt Parquet footer (it declares 543516513 bytes of metadata in a file of 25 bytes)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_table_with_both_a_file_and_a_folder_is_an_error() {
    let dir = snapshot();
    let parts = dir.path().join("main_occurrence");
    std::fs::create_dir(&parts).unwrap();
    std::fs::copy(
        dir.path().join("main_occurrence.parquet"),
        parts.join("part-00000.parquet"),
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_occurrence: both main_occurrence.parquet and a folder main_occurrence/ of 1 part files exist; remove the one that is not current"),
        "{e}"
    );
}

#[tokio::test]
async fn a_corrupt_page_is_found_and_named() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let mut t = Tiny::new();
    for id in 1..=300 {
        t.simple(id, 4, 0.9);
    }
    let dir = tempfile::tempdir().unwrap();
    t.b.write(dir.path()).unwrap();
    let file = dir.path().join("main_detection.parquet");
    let (start, len) = {
        let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let column = (0..group.num_columns())
            .map(|i| group.column(i))
            .find(|c| c.column_path().string() == "path")
            .unwrap();
        let (start, len) = column.byte_range();
        (start as usize, len as usize)
    };
    let mut bytes = std::fs::read(&file).unwrap();
    for b in &mut bytes[start + len / 2..start + len / 2 + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();
    // The footer is intact: the snapshot opens; a query reading the page fails.
    let engine = open(dir.path()).await;
    let failed = engine
        .ctx
        .sql("SELECT count(*) FROM main_detection WHERE path LIKE '%x%'")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(failed.is_err());
    let problems = engine.snapshot.decode_files().await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("table main_detection: main_detection.parquet: "),
        "{problems:?}"
    );
    assert!(!problems[0].contains("panicked"), "{problems:?}");
}

#[test]
fn a_snapshot_path_that_is_a_file_says_so() {
    let dir = snapshot();
    let file = dir.path().join("main_taxon.parquet");
    let (code, _, err) =
        common::occlens_with(&["--snapshot", file.to_str().unwrap(), "tables"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("occlens: snapshot {}: not a directory\n", file.display())
    );
}
