//! The cache's files as their readers need them: registered with the schema DataFusion would
//! infer, and indexed (Parquet's column index) on the columns their lookups read.

mod common;

use common::cache_entries as entries;
use common::occlens_with;
use occlens::Engine;

/// Registration reads each cached file's footer once, without the page index, and gives the
/// table the schema DataFusion would infer from the file. A view read by key has a column
/// index on its order columns only (a lookup decodes the page index first); the others on
/// every column. The occurrence list, read by id alone for a detail, has a bloom filter of its
/// ids in every row group (and no other file any).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_files_are_registered_as_inferred_and_indexed_for_their_readers() {
    use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use datafusion::parquet::file::metadata::PageIndexPolicy;
    use datafusion::parquet::file::page_index::column_index::ColumnIndexMetaData;
    use occlens::engine::cache::{lookup_key, Part, Settings};
    let dir = tempfile::tempdir().unwrap();
    occlens::generate::realistic(dir.path(), 600, 7, &|_| {}).unwrap();
    let root = tempfile::tempdir().unwrap();
    let settings = Settings {
        dir: Some(root.path().to_path_buf()),
        ..Default::default()
    };
    let config = occlens::Config {
        api_base: "http://testserver".into(),
        ..occlens::Config::default()
    };
    let snapshot = dir.path().to_str();
    let engine = Engine::open_cached(snapshot, config, &settings, &Part::ALL, &|_| {})
        .await
        .unwrap();
    let mut checked = 0;
    for part in Part::ALL {
        for (view, order, _) in part.views() {
            let path = entries(root.path())
                .iter()
                .map(|e| root.path().join(e).join(format!("{view}.parquet")))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{view}: no cached file"));
            let registered = engine.ctx.table(*view).await.unwrap();
            let inferred = engine
                .ctx
                .read_parquet(path.to_str().unwrap(), Default::default())
                .await
                .unwrap();
            assert_eq!(
                registered.schema().as_arrow(),
                inferred.schema().as_arrow(),
                "{view}"
            );
            let options =
                ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
            let file = std::fs::File::open(&path).unwrap();
            let meta = ArrowReaderMetadata::load(&file, options).unwrap();
            let md = meta.metadata();
            let columns: Vec<String> = md
                .file_metadata()
                .schema_descr()
                .columns()
                .iter()
                .map(|c| c.path().string())
                .collect();
            let indexed: Vec<&str> = columns
                .iter()
                .enumerate()
                .filter(|(c, _)| {
                    !matches!(md.column_index().unwrap()[0][*c], ColumnIndexMetaData::NONE)
                })
                .map(|(_, name)| name.as_str())
                .collect();
            match lookup_key(order) {
                Some(_) => {
                    let order: Vec<&str> = order.split(", ").collect();
                    assert_eq!(indexed, order, "{view}");
                }
                None => assert_eq!(indexed.len(), columns.len(), "{view}: {indexed:?}"),
            }
            let bloomed: Vec<&str> = columns
                .iter()
                .enumerate()
                .filter(|(c, _)| {
                    md.row_groups()
                        .iter()
                        .all(|g| g.column(*c).bloom_filter_offset().is_some())
                })
                .map(|(_, name)| name.as_str())
                .collect();
            match *view == occlens::engine::cache::LIST_VIEW {
                true => assert_eq!(bloomed, ["id"], "{view}"),
                false => assert!(bloomed.is_empty(), "{view}: {bloomed:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

/// A cached file whose footer is damaged (a metadata length past the file's start, in a file
/// of the size its entry records) is a one-line error naming it and `--cache refresh`: never a
/// panic (the Parquet reader's arithmetic on the length panicked), never an answer without it.
#[test]
fn a_damaged_cached_footer_is_one_line_naming_the_file() {
    let snap = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    occlens::generate::realistic(snap.path(), 300, 3, &|_| {}).unwrap();
    let (s, c) = (snap.path().to_str().unwrap(), root.path().to_str().unwrap());
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 0, "{err}");
    let file = |name: &str| {
        entries(root.path())
            .into_iter()
            .map(|e| root.path().join(e).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name}"))
    };
    let images = file("detail_images.parquet");
    let mut bogus = std::fs::read(&images).unwrap();
    let n = bogus.len();
    bogus[n - 8..n - 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    std::fs::write(&images, &bogus).unwrap();
    for args in [
        vec!["detail", "1"],
        vec!["list", "--project", "1", "--limit", "1"],
    ] {
        let mut all = vec!["--snapshot", s, "--cache-dir", c];
        all.extend(args.iter().copied());
        let (code, out, err) = occlens_with(&all, &[]);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("internal error"), "{err}");
        assert!(err.contains(images.to_str().unwrap()), "{err}");
        assert!(err.contains("--cache refresh"), "{err}");
    }
    // A file of another size than its entry's marker records is a damaged part: a warning,
    // and the answer from the snapshot's tables.
    std::fs::write(&images, b"").unwrap();
    let (code, out, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "detail", "1"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"id\":1"), "{out}");
    assert!(
        err.contains("damaged") && err.contains("--cache refresh"),
        "{err}"
    );
}
