//! Tests of the keyed reads: by page index and by bloom filters, against the statements.

use super::{attach, KeyedFile};
use crate::engine::even_parquet::EvenWriter;
use crate::engine::lookup::rows;
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::file::properties::{
    EnabledStatistics, WriterProperties, WriterPropertiesBuilder,
};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::sync::Arc;

/// `columns` (name, values, nullable) written to `path` in row groups of 1,000 rows and
/// pages of 100, with page statistics, and `more` of the writer's settings.
fn write_columns(
    path: &std::path::Path,
    columns: Vec<(&str, datafusion::arrow::array::ArrayRef, bool)>,
    more: impl FnOnce(WriterPropertiesBuilder) -> WriterPropertiesBuilder,
) {
    let batch = RecordBatch::try_from_iter_with_nullable(columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1_000))
        .set_data_page_row_count_limit(100)
        .set_write_batch_size(100)
        .set_statistics_enabled(EnabledStatistics::Page);
    let file = std::fs::File::create(path).unwrap();
    let mut w = EvenWriter::try_new(file, batch.schema(), more(props).build()).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap();
}

/// 10,000 rows sorted by occurrence (7 per occurrence).
fn write(path: &std::path::Path) {
    let n = 10_000i64;
    let occurrence = Int64Array::from_iter_values((0..n).map(|i| i / 7));
    let position = Int64Array::from_iter((0..n).map(|i| (i % 5 != 2).then_some(i % 7)));
    let name = StringArray::from_iter_values((0..n).map(|i| format!("r{i}")));
    let columns: Vec<(&str, datafusion::arrow::array::ArrayRef, bool)> = vec![
        ("occurrence_id", Arc::new(occurrence), false),
        ("position", Arc::new(position), true),
        ("name", Arc::new(name), false),
    ];
    write_columns(path, columns, |p| p);
}

#[tokio::test]
async fn a_few_pages_and_the_rows_of_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write(&path);
    let file = KeyedFile::open(&path, "occurrence_id")
        .unwrap()
        .expect("page index");
    // Keys in three pages (one at a page boundary: 100 rows hold ids 0..14), one absent.
    let pages = file.pages(&[0, 14, 700, 5_000], None).unwrap();
    assert!(pages.num_rows() <= 400, "{} rows read", pages.num_rows());
    assert!(KeyedFile::open(&path, "name").unwrap().is_none());

    let ctx = SessionContext::new();
    let url = path.to_str().unwrap();
    ctx.register_parquet("t", url, ParquetReadOptions::default())
        .await
        .unwrap();
    attach(&ctx, &[("t", path.clone(), "occurrence_id", false)]);
    let keys = [700, 14, 0, 5_000, 14];
    let order = ["occurrence_id", "position", "name"];
    let got = rows(&ctx, "t", "occurrence_id", &keys, None, &order)
        .await
        .unwrap()
        .expect("keyed");
    let sql = "SELECT * FROM t WHERE occurrence_id IN (0, 14, 700, 5000) \
               ORDER BY occurrence_id, position, name";
    let expected = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let text = |b: &[RecordBatch]| pretty_format_batches(b).unwrap().to_string();
    assert_eq!(got.num_rows(), 21);
    assert_eq!(text(&[got]), text(&expected));
    // Another key column is left to the statement.
    assert!(rows(&ctx, "t", "position", &[1], None, &[])
        .await
        .unwrap()
        .is_none());
}

/// 10,000 rows whose ids are spread over the file (as the occurrence list's, sorted by
/// project), with bloom filters of `id` when `bloom`.
fn write_spread(path: &std::path::Path, bloom: bool) {
    let n = 10_000i64;
    let project = Int64Array::from_iter_values((0..n).map(|i| i / 2_000));
    let id = Int64Array::from_iter_values((0..n).map(|i| i * 7_919 % n));
    let name = StringArray::from_iter((0..n).map(|i| (i % 3 != 0).then(|| format!("r{i}"))));
    let columns: Vec<(&str, datafusion::arrow::array::ArrayRef, bool)> = vec![
        ("project_id", Arc::new(project), false),
        ("id", Arc::new(id), false),
        ("name", Arc::new(name), true),
    ];
    write_columns(path, columns, |p| match bloom {
        true => p
            .set_column_bloom_filter_enabled("id".into(), true)
            .set_column_bloom_filter_fpp("id".into(), 0.05),
        false => p,
    });
}

#[tokio::test]
async fn a_row_by_id_through_bloom_filters_is_the_statements() {
    use super::row_by_bloom;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_spread(&path, true);
    let plain = dir.path().join("plain.parquet");
    write_spread(&plain, false);
    assert!(KeyedFile::open_by_bloom(&plain, "id").unwrap().is_none());
    assert!(KeyedFile::open_by_bloom(&path, "name").unwrap().is_none());
    let file = KeyedFile::open_by_bloom(&path, "id")
        .unwrap()
        .expect("bloom filters");
    // The row groups chosen: those whose ids' range and bloom filter may hold the id (at
    // most a false positive or two of the 10), not every group whose range holds it.
    assert!(file.groups_by_bloom(&[4_242]).unwrap().groups.len() <= 3);

    let ctx = SessionContext::new();
    let url = path.to_str().unwrap();
    ctx.register_parquet("t", url, ParquetReadOptions::default())
        .await
        .unwrap();
    attach(&ctx, &[("t", path.clone(), "id", true)]);
    let text = |b: &[RecordBatch]| pretty_format_batches(b).unwrap().to_string();
    for id in [0, 1, 4_242, 9_999, 10_000, -1] {
        let got = row_by_bloom(&ctx, "t", "id", id, &["name"])
            .unwrap()
            .expect("keyed by bloom filters");
        let sql = format!("SELECT project_id, id, name FROM t WHERE id = {id}");
        let expected = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let rows: usize = expected.iter().map(|b| b.num_rows()).sum();
        assert_eq!(got.num_rows(), rows, "{id}");
        // The key and the columns asked for, as the statement gives them.
        let names: Vec<_> = got
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["id", "name"]);
        if rows > 0 {
            let got = got.project(&[0, 1]).unwrap();
            let sql = format!("SELECT id, name FROM t WHERE id = {id}");
            let expected = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            assert_eq!(text(&[got]), text(&expected), "{id}");
        }
    }
    // Keys in different row groups (ids i × 7,919 mod 10,000 at rows 0, 1 and 5,000): the
    // rows of every chosen group counted in order.
    let mut ids = vec![0, 7_919, 5_000 * 7_919 % 10_000];
    ids.sort_unstable();
    let got = file.pages(&ids, Some(&["project_id", "name"])).unwrap();
    let sql = format!(
        "SELECT * FROM t WHERE id IN ({}, {}, {}) ORDER BY project_id, id",
        ids[0], ids[1], ids[2]
    );
    let expected = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    assert_eq!(got.num_rows(), 3);
    assert_eq!(text(&[got]), text(&expected));
    // Keyed by bloom filters, the file serves no lookup by its page index (a page's ids).
    assert!(rows(&ctx, "t", "id", &[1], None, &[])
        .await
        .unwrap()
        .is_none());
}
