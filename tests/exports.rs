//! Exports reproduce Antenna's files byte for byte.

mod common;

use occlens::exports::csv_export;
use occlens::{Config, Engine};
use std::path::PathBuf;

fn oracle() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/antenna-oracle")
}

async fn oracle_engine() -> Engine {
    engine_on(&oracle().join("snapshot")).await
}

async fn engine_on(snapshot: &std::path::Path) -> Engine {
    Engine::open(Some(snapshot.to_str().unwrap()), Config::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_csv_matches_antennas_file() {
    simple_csv_matches_on(oracle_engine().await).await;
}

/// The same files when the snapshot holds the same values in other tools' types (jsonb
/// decoded into nested types, wall-clock timestamps without a zone, …: tests/common/retype.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_files_on_other_tools_types() {
    let dir = tempfile::tempdir().unwrap();
    common::retype::retyped_oracle(dir.path());
    simple_csv_matches_on(engine_on(dir.path()).await).await;
    api_json_matches_on(engine_on(dir.path()).await).await;
}

async fn simple_csv_matches_on(engine: Engine) {
    let (rows, ours) = common::simple_csv(&engine, 3).await;
    let expected =
        std::fs::read(oracle().join("exports/project3_occurrences_simple_csv.csv")).unwrap();
    assert_eq!(rows, 150);
    let theirs = String::from_utf8(expected).unwrap();
    for (i, (a, b)) in ours.split("\r\n").zip(theirs.split("\r\n")).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(ours, theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_csv_edge_cases_of_project_1() {
    let engine = oracle_engine().await;
    let (rows, text) = common::simple_csv(&engine, 1).await;
    assert_eq!(rows, 1592); // exports ignore the default filters
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let row = |id: &str| records.iter().find(|r| &r[0] == id).unwrap().clone();
    // Ascending id order.
    let ids: Vec<i64> = records.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    // 2571: the null marker wins the best detection (no classification = NULL score first).
    let r = row("2571");
    assert_eq!(
        (
            &r[col("best_detection_url")],
            &r[col("best_detection_bbox")]
        ),
        ("", "")
    );
    assert_eq!(&r[col("detections_count")], "2");
    // 2586: a user-less identification: not a participant.
    let r = row("2586");
    assert_eq!(
        (&r[col("verification_status")], &r[col("participant_count")]),
        ("False", "0")
    );
    // 2583: the identification agreed with a Species Classifier A prediction.
    assert_eq!(
        &row("2583")[col("agreed_with_algorithm")],
        "Species Classifier A"
    );
    // 2565: the variant-S winner has a NULL taxon: empty name, empty match column.
    let r = row("2565");
    assert_eq!(
        (
            &r[col("best_machine_prediction_name")],
            &r[col("determination_matches_machine_prediction")]
        ),
        ("", "")
    );
    // 2577: DST fall-back span, real elapsed time.
    assert_eq!(&row("2577")[col("duration")], "3:05:00");
    // Collection filter: only occurrences with a detection in capture set 1.
    let stream = engine
        .export_stream("export_simple_csv", 1, Some(1))
        .await
        .unwrap();
    let n = csv_export::write(
        stream,
        &mut Vec::new(),
        engine.config.time_zone,
        "/media/",
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(n, 713);
    assert!(engine
        .export_stream("export_simple_csv", 99, None)
        .await
        .is_err());
    assert!(engine
        .export_stream("export_simple_csv", 1, Some(99))
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_json_matches_antennas_file() {
    api_json_matches_on(oracle_engine().await).await;
}

/// The related rows read in many ranges of occurrence ids (ranges of 45 rows: 7 of the
/// fixture's occurrences, the export's 16 ranges at most) give Antenna's file byte for byte, as
/// in one range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_json_matches_antennas_file_read_in_ranges() {
    let mut engine = oracle_engine().await;
    engine.export_range_rows = 45;
    api_json_matches_on(engine).await;
}

/// Every project's detail lines, as the superuser sees them, are the same whatever the
/// ranges their related rows are read in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_lines_do_not_depend_on_the_ranges() {
    use occlens::api::request::Requester;
    use occlens::engine::related::RelatedFor;
    use occlens::exports::json_export::{write, Framing};
    async fn lines(engine: &Engine, project: i64) -> (u64, String) {
        let framing = Framing::Lines(RelatedFor::Detail, Requester::Superuser(None));
        let (rows, out) = write(engine, project, None, Vec::new(), &framing, &|_| {})
            .await
            .unwrap();
        (rows, String::from_utf8(out).unwrap())
    }
    let whole = oracle_engine().await;
    let mut ranged = oracle_engine().await;
    ranged.export_range_rows = 1;
    let mut objects = 0;
    let dims = whole.dims().await.unwrap();
    for project in (0..50).filter(|p| dims.projects.contains_key(p)) {
        let (rows, text) = lines(&whole, project).await;
        assert_eq!(lines(&ranged, project).await, (rows, text.clone()));
        assert_eq!(text.lines().count() as u64, rows);
        objects += rows;
    }
    assert!(objects > 150, "{objects} objects");
}

async fn api_json_matches_on(engine: Engine) {
    use std::io::Read;
    let (rows, out) = occlens::exports::json_export::write(
        &engine,
        3,
        None,
        Vec::new(),
        &occlens::exports::json_export::Framing::Antenna,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(rows, 150);
    let mut expected = String::new();
    let gz = std::fs::File::open(oracle().join("exports/project3_occurrences_api_json.json.gz"))
        .unwrap();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut expected)
        .unwrap();
    let ours = String::from_utf8(out).unwrap();
    let first_diff = ours.bytes().zip(expected.bytes()).position(|(a, b)| a != b);
    if let Some(i) = first_diff {
        let lo = i.saturating_sub(200);
        panic!(
            "first difference at byte {i}:\nours:   {}\ntheirs: {}",
            &ours[lo..(i + 200).min(ours.len())],
            &expected[lo..(i + 200).min(expected.len())]
        );
    }
    assert_eq!(ours.len(), expected.len());
}

/// A destination that fails once `room` bytes are written (a full disk).
struct Full {
    room: usize,
}

impl std::io::Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.room {
            return Err(std::io::Error::other("no space left on device"));
        }
        self.room -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON exports write on a thread of their own: a destination that fails is the export's
/// error (never a hang, never success), also on a current-thread runtime (where a blocked
/// send would stall the only thread).
#[tokio::test]
async fn a_failing_destination_fails_the_json_export() {
    use occlens::exports::json_export::{write, Framing};
    let engine = oracle_engine().await;
    for framing in [
        Framing::Antenna,
        Framing::Lines(
            occlens::engine::related::RelatedFor::Detail,
            occlens::api::request::Requester::Anonymous,
        ),
    ] {
        let result = write(&engine, 3, None, Full { room: 1000 }, &framing, &|_| {}).await;
        let message = result.err().expect("the export fails").to_string();
        assert!(message.contains("no space left"), "{message}");
    }
}

/// An export's file holds exactly the bytes written, whatever the sizes of the writes and
/// flushes: on a disk (the test's target directory; around the page cache on ext4 and xfs),
/// on tmpfs (`/dev/shm`: `O_DIRECT` refused before Linux 6.6) and in the temporary directory;
/// and when a direct write is refused as unaligned (a skewed buffer), so that the file goes on
/// through the page cache.
#[test]
fn direct_file_holds_exactly_the_bytes_written() {
    use occlens::exports::direct::DirectFile;
    use std::io::Write;
    const MB: usize = 1 << 20;
    let mut dirs = vec![
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::env::temp_dir(),
    ];
    if std::path::Path::new("/dev/shm").is_dir() {
        dirs.push(PathBuf::from("/dev/shm"));
    }
    // Lengths around the 4,096-byte blocks and the 8 MB buffer; pieces of several sizes.
    let lengths = [
        0,
        1,
        4095,
        4096,
        4097,
        8 * MB - 1,
        8 * MB,
        8 * MB + 1,
        17 * MB + 4097,
    ];
    let pieces = [1usize, 7, 4096, 3 * MB + 5, 9 * MB];
    let skewed = (PathBuf::from(env!("CARGO_TARGET_TMPDIR")), 1);
    for (dir, skew) in dirs.into_iter().map(|d| (d, 0)).chain([skewed]) {
        let tmp = tempfile::tempdir_in(&dir).unwrap();
        for (i, len) in lengths.into_iter().enumerate() {
            let piece = pieces[i % pieces.len()].min(len.max(1));
            let bytes: Vec<u8> = (0..len).map(|k| (k % 251) as u8 + 1).collect();
            let path = tmp.path().join(format!("{len}.out"));
            let mut file = DirectFile::create_skewed(&path, skew).unwrap();
            let direct = file.is_direct();
            eprintln!(
                "{}, skew {skew}, {len} bytes: direct {direct}",
                dir.display()
            );
            for (n, part) in bytes.chunks(piece).enumerate() {
                file.write_all(part).unwrap();
                if n % 3 == 1 {
                    file.flush().unwrap();
                }
            }
            // On the disk, a skewed buffer's first direct write (here, of the full buffer) is
            // refused (tmpfs takes unaligned direct writes, as buffered ones).
            let on_disk = dir == std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
            if on_disk && skew > 0 && len > 8 * MB && direct {
                assert!(!file.is_direct(), "{}: {len} bytes", dir.display());
            }
            drop(file.finish().unwrap());
            let read = std::fs::read(&path).unwrap();
            assert!(
                read == bytes,
                "{}: {len} bytes in pieces of {piece} (direct: {direct}) read back as {} bytes",
                dir.display(),
                read.len()
            );
        }
    }
}

/// A JSON export computes each range's related rows from that range's own occurrences,
/// detections and classifications (`engine::cut`): the objects are the same as from the
/// relations over the whole tables (here the cache's, which the export then reads instead),
/// for every project of the oracle and of the edge-case demo snapshot, alone and with each of
/// its collections (the occurrences then come range by range too), in both framings; also
/// with only the lists part cached (the identifications then read from the cache, the rest
/// cut), with ranges too big to cut (computed from the tables) and in the window formulation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_rows_from_each_ranges_own_rows_are_the_whole_tables() {
    use occlens::api::request::Requester;
    use occlens::engine::cache::{Mode, Part, Settings};
    use occlens::engine::catalog::Semantics;
    use occlens::engine::cut::Cut;
    use occlens::engine::related::RelatedFor;
    use occlens::exports::json_export::{write, Framing};
    let views = [
        "occurrence_identifications",
        "detail_images",
        "detail_detections",
        "prediction_candidates",
        "detection_classifications",
    ];
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let (mut objects, mut in_collections) = (0, 0);
    for dir in [oracle().join("snapshot"), demo] {
        let root = tempfile::tempdir().unwrap();
        let off = Mode::Off;
        let mut cut = common::cached_engine(&dir, root.path(), off, None).await;
        cut.export_range_rows = 30;
        assert!(Cut::new(&cut, &views).await.unwrap().is_some());
        let lists_root = tempfile::tempdir().unwrap();
        let settings = Settings {
            mode: Mode::Auto,
            dir: Some(lists_root.path().to_path_buf()),
            ..Default::default()
        };
        let config = occlens::Config {
            api_base: "http://testserver".into(),
            ..occlens::Config::default()
        };
        let path = Some(dir.to_str().unwrap());
        let mut lists = Engine::open_cached(path, config, &settings, &[Part::Lists], &|_| {})
            .await
            .unwrap();
        lists.export_range_rows = 50;
        assert!(lists.cached(Part::Lists).is_some() && lists.cached(Part::Details).is_none());
        assert!(Cut::new(&lists, &views).await.unwrap().is_some());
        let mut uncut = common::cached_engine(&dir, root.path(), off, None).await;
        uncut.export_range_rows = 30;
        uncut.export_cut_max = 1;
        let window = common::cached_engine_with(&dir, root.path(), off, None, Semantics::Window);
        let mut window = window.await;
        window.export_range_rows = 40;
        let whole = common::cached_engine(&dir, root.path(), Mode::Auto, None).await;
        assert!(Cut::new(&whole, &views).await.unwrap().is_none());
        let dims = whole.dims().await.unwrap();
        let collections = whole
            .ctx
            .sql("SELECT id, project_id FROM main_sourceimagecollection ORDER BY id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let collections: Vec<(i64, i64)> = occlens::engine::rows::to_rows(&collections)
            .unwrap()
            .iter()
            .filter_map(|r| Some((r.get("id")?.as_i64()?, r.get("project_id")?.as_i64()?)))
            .collect();
        for project in (0..50).filter(|p| dims.projects.contains_key(p)) {
            let scopes = std::iter::once(None).chain(
                collections
                    .iter()
                    .filter(|(_, p)| *p == project)
                    .map(|(c, _)| Some(*c)),
            );
            for collection in scopes {
                for framing in [
                    Framing::Antenna,
                    Framing::Lines(RelatedFor::Detail, Requester::Superuser(None)),
                ] {
                    let text =
                        |engine| write(engine, project, collection, Vec::new(), &framing, &|_| {});
                    let expected = text(&whole).await.unwrap();
                    for engine in [&cut, &lists, &uncut, &window] {
                        let got = text(engine).await.unwrap();
                        assert_eq!(
                            got, expected,
                            "project {project}, collection {collection:?}"
                        );
                    }
                    match collection {
                        None => objects += expected.0,
                        Some(_) => in_collections += expected.0,
                    }
                }
            }
        }
    }
    assert!(objects > 1000, "{objects} objects");
    // The collections' exports are a part of their projects', not nothing.
    assert!(
        in_collections > 0 && in_collections < objects,
        "{in_collections} objects in collections"
    );
}
