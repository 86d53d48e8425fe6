//! A table's schema from its files' footers, read without their page indexes.
//!
//! DataFusion's `ParquetFormat::infer_schema` reads each footer with its page index and keeps
//! both in the session's metadata cache. A request answered from occlens's cache never scans
//! the snapshot's big tables, yet registering them decoded their page indexes: about 1.2 MB on
//! an SF1 snapshot occlens wrote, 1.7 MB on one DuckDB wrote. On a local file system each
//! footer is read and cached here without its index: a table that is scanned has the index
//! read when its scan is planned (DataFusion's statistics collection adds it to the cached
//! footer: one more read of the file, local). Elsewhere (an object store, where each read is
//! a round trip) DataFusion's own inference reads footer and index in one ranged read. The
//! schema is the one DataFusion infers: the same steps, in the same order, with the format's
//! own settings.

use datafusion::arrow::datatypes::{Fields, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::parquet::{
    transform_binary_to_string, transform_schema_to_view, ParquetFormat,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore};
use std::sync::Arc;

/// The schema `format` infers from `files`, their footers read without page indexes when
/// `local` (the store is the local file system); otherwise, or for another format or with
/// Parquet decryption configured, DataFusion's own inference.
pub async fn infer_schema(
    ctx: &SessionContext,
    format: &Arc<dyn FileFormat>,
    store: &Arc<dyn ObjectStore>,
    files: &[ObjectMeta],
    local: bool,
) -> Result<SchemaRef> {
    let parquet = format
        .downcast_ref::<ParquetFormat>()
        .filter(|p| local && p.options().crypto.file_decryption.is_none())
        .filter(|p| p.options().crypto.factory_id.is_none());
    let Some(parquet) = parquet else {
        return format.infer_schema(&ctx.state(), store, files).await;
    };
    let coerce_int96 = parquet
        .coerce_int96()
        .as_deref()
        .map(time_unit)
        .transpose()?;
    let coerce_int96_tz = match &parquet.options().global.coerce_int96_tz {
        Some(tz) => match tz.parse::<chrono_tz::Tz>() {
            Ok(_) => Some(Arc::<str>::from(tz.as_str())),
            Err(e) => {
                return Err(DataFusionError::Configuration(format!(
                    "Invalid parquet coerce_int96_tz {tz:?}: {e}"
                )))
            }
        },
        None => None,
    };
    let concurrency = ctx
        .copied_config()
        .options()
        .execution
        .meta_fetch_concurrency
        .get();
    let mut schemas: Vec<(object_store::path::Path, Schema)> = futures::stream::iter(files)
        .map(|object| {
            let tz = coerce_int96_tz.clone();
            async move {
                let schema = footer(ctx, store, object, parquet.metadata_size_hint())
                    .with_coerce_int96(coerce_int96)
                    .with_coerce_int96_tz(tz)
                    .fetch_schema()
                    .await?;
                Ok::<_, DataFusionError>((object.location.clone(), schema))
            }
        })
        .boxed()
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    // In the files' name order, as DataFusion merges them (a deterministic field order).
    schemas.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    let schemas = schemas
        .into_iter()
        .map(|(_, schema)| match parquet.skip_metadata() {
            true => Schema::new(
                schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_metadata(Default::default()))
                    .collect::<Fields>(),
            ),
            false => schema,
        });
    let mut schema = Schema::try_merge(schemas)?;
    if parquet.binary_as_string() {
        schema = transform_binary_to_string(&schema);
    }
    if parquet.force_view_types() {
        schema = transform_schema_to_view(&schema);
    }
    Ok(Arc::new(schema))
}

/// `object`'s footer, read without its page index, through the session's metadata cache
/// (read once; kept for the scans).
fn footer<'a>(
    ctx: &SessionContext,
    store: &'a Arc<dyn ObjectStore>,
    object: &'a ObjectMeta,
    size_hint: Option<usize>,
) -> DFParquetMetadata<'a> {
    DFParquetMetadata::new(store.as_ref(), object)
        .with_metadata_size_hint(size_hint)
        .with_file_metadata_cache(Some(
            ctx.runtime_env().cache_manager.get_file_metadata_cache(),
        ))
        .with_page_index_policy(Some(PageIndexPolicy::Skip))
}

/// The footer of `object`, a local file, without its page index, through the session's
/// metadata cache (a later `infer_schema` of it reads it from there). Its length is checked
/// first: the reader's arithmetic on a bogus one panics.
pub async fn local_footer(
    ctx: &SessionContext,
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
) -> Result<Arc<ParquetMetaData>> {
    if let Err(why) = super::files::check_footer(store.as_ref(), object).await {
        return Err(DataFusionError::Execution(why));
    }
    footer(ctx, store, object, None).fetch_metadata().await
}

/// `datafusion.execution.parquet.coerce_int96` as a time unit.
fn time_unit(setting: &str) -> Result<TimeUnit> {
    match setting.to_lowercase().as_str() {
        "ns" => Ok(TimeUnit::Nanosecond),
        "us" => Ok(TimeUnit::Microsecond),
        "ms" => Ok(TimeUnit::Millisecond),
        "s" => Ok(TimeUnit::Second),
        _ => Err(DataFusionError::Configuration(format!(
            "Unknown or unsupported parquet coerce_int96: {setting}. Valid values are: ns, us, ms, and s."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, BinaryArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::datasource::file_format::options::ReadOptions;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig};
    use object_store::local::LocalFileSystem;
    use object_store::ObjectStoreExt;
    use std::collections::HashMap;

    fn write(path: &std::path::Path, columns: Vec<(Field, ArrayRef)>) {
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            HashMap::from([("origin".to_string(), "test".to_string())]),
        ));
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    /// The same schema as DataFusion's inference, under its settings and occlens's, for single
    /// files (INT96 times, binary strings, field metadata) and files merged into one table;
    /// and the footer is cached without its page index.
    #[tokio::test]
    async fn the_schema_is_datafusions_and_the_page_index_is_left_unread() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.parquet");
        let b = dir.path().join("b.parquet");
        let id = Field::new("id", DataType::Int64, false)
            .with_metadata(HashMap::from([("k".to_string(), "v".to_string())]));
        write(
            &a,
            vec![
                (id.clone(), Arc::new(Int64Array::from(vec![1, 2]))),
                (
                    Field::new("name", DataType::Binary, true),
                    Arc::new(BinaryArray::from(vec![Some(b"x".as_ref()), None])),
                ),
            ],
        );
        write(
            &b,
            vec![
                (
                    Field::new("extra", DataType::Utf8, true),
                    Arc::new(StringArray::from(vec!["y"])),
                ),
                (id, Arc::new(Int64Array::from(vec![3]))),
            ],
        );
        let int96 = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/int96_timestamps.parquet");
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
        let meta = |p: &std::path::Path| {
            let store = store.clone();
            let path = object_store::path::Path::from_filesystem_path(p).unwrap();
            async move { store.head(&path).await.unwrap() }
        };
        let (a, b, int96) = (meta(&a).await, meta(&b).await, meta(&int96).await);
        let settings: [&[(&str, &str)]; 3] = [
            &[],
            &[
                ("datafusion.execution.parquet.coerce_int96", "us"),
                ("datafusion.execution.parquet.coerce_int96_tz", "UTC"),
                (
                    "datafusion.execution.parquet.schema_force_view_types",
                    "false",
                ),
            ],
            &[
                ("datafusion.execution.parquet.binary_as_string", "true"),
                ("datafusion.execution.parquet.skip_metadata", "false"),
                ("datafusion.execution.parquet.coerce_int96", "ms"),
            ],
        ];
        for set in settings {
            let mut config = SessionConfig::new();
            for (k, v) in set {
                config.options_mut().set(k, v).unwrap();
            }
            let ctx = SessionContext::new_with_config(config);
            let format = ParquetReadOptions::default()
                .to_listing_options(&ctx.copied_config(), ctx.copied_table_options())
                .format;
            for files in [
                vec![a.clone()],
                vec![b.clone(), a.clone()],
                vec![int96.clone()],
            ] {
                let ours = infer_schema(&ctx, &format, &store, &files, true)
                    .await
                    .unwrap();
                let theirs = format
                    .infer_schema(&ctx.state(), &store, &files)
                    .await
                    .unwrap();
                assert_eq!(ours, theirs, "{set:?}");
            }
        }
        // The footer is cached without its page index (the file has one); a scan of the table
        // adds the index.
        let ctx = SessionContext::new();
        let format = ParquetReadOptions::default()
            .to_listing_options(&ctx.copied_config(), ctx.copied_table_options())
            .format;
        let indexed = |ctx: &SessionContext| {
            use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
            let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
            let cached = cache.get(&a.location).expect("the footer is cached");
            let parquet = cached
                .file_metadata
                .as_any()
                .downcast_ref::<CachedParquetMetaData>()
                .map(|p| p.parquet_metadata().offset_index().is_some());
            parquet.expect("a Parquet footer")
        };
        let schema = infer_schema(&ctx, &format, &store, std::slice::from_ref(&a), true)
            .await
            .unwrap();
        assert!(!indexed(&ctx));
        let path = dir.path().join("a.parquet");
        let options = ParquetReadOptions::default().schema(&schema);
        ctx.register_parquet("a", path.to_str().unwrap(), options)
            .await
            .unwrap();
        let batches = ctx.sql("SELECT name FROM a WHERE id = 2").await.unwrap();
        assert_eq!(batches.collect().await.unwrap()[0].num_rows(), 1);
        assert!(indexed(&ctx));
    }
}
