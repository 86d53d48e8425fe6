//! Registering a cache entry's files as tables: each with the order its footer says its
//! rows are in.

use super::{file, Part};
use crate::error::{Error, Result};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::Column;
use datafusion::parquet::arrow::parquet_to_arrow_schema;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext};
use std::fs::File;
use std::path::Path;

/// The footer key naming the order a cached file's rows are written in (its view's order
/// columns, ascending), present when one statement wrote it sorted.
pub(super) const SORTED_BY: &str = "occlens.sorted_by";

/// Register the cached views of `part`, stored in `dir`, in `ctx` as tables (their statements
/// are then skipped). Each file's footer is read once, here, without its page index: it
/// gives the table's schema (DataFusion's own schema inference would read the footer again,
/// with the page index of every column, for files a request may never scan) and the order
/// its rows are in. A file whose footer says it is sorted in its view's order is registered
/// with that ordering: a query in that order (an export, by project then id) streams its rows
/// instead of sorting them all before the first is written.
pub async fn register(ctx: &SessionContext, dir: &Path, part: Part) -> Result<()> {
    let registrations = part.views().iter().map(|(view, order, _)| async move {
        let path = file(dir, view);
        let url = path.to_string_lossy().to_string();
        let failed = |e: Error| {
            Error::Query(format!(
                "the cache's {url} cannot be read ({e}); --cache refresh rebuilds it"
            ))
        };
        let footer = Footer::read(&path).map_err(failed)?;
        let mut options = ParquetReadOptions::default().schema(&footer.schema);
        if footer.sorted_by.as_deref() == Some(*order) {
            options = options.file_sort_order(vec![order_columns(order)
                .map(|c| Expr::Column(Column::new_unqualified(c)).sort(true, false))
                .collect()]);
        }
        ctx.register_parquet(*view, &url, options)
            .await
            .map_err(|e| failed(Error::from(e)))
    });
    futures::future::try_join_all(registrations).await?;
    Ok(())
}

/// The columns of a cached view's order (`Part::views`), each ascending, NULLs last: how the
/// build sorts the rows and how registration declares them sorted.
pub(super) fn order_columns(order: &str) -> impl Iterator<Item = &str> {
    order.split(',').map(str::trim)
}

/// What registration reads of a cached file's footer.
struct Footer {
    /// The file's Arrow schema, as DataFusion infers a table's (the metadata left out).
    schema: Schema,
    /// The order its rows are in ([`SORTED_BY`]).
    sorted_by: Option<String>,
}

impl Footer {
    fn read(path: &Path) -> Result<Footer> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let metadata = ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .map_err(|e| Error::Query(e.to_string()))?;
        let file_metadata = metadata.file_metadata();
        let schema = parquet_to_arrow_schema(
            file_metadata.schema_descr(),
            file_metadata.key_value_metadata(),
        )
        .map_err(|e| Error::Query(e.to_string()))?;
        // DataFusion's inference drops the schema's and the fields' metadata
        // (`skip_metadata`, its default).
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(Default::default()))
            .collect();
        let sorted_by = file_metadata
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|kv| kv.key == SORTED_BY))
            .and_then(|kv| kv.value.clone());
        Ok(Footer {
            schema: Schema::new(fields),
            sorted_by,
        })
    }
}
