//! Registering a cache entry's files as tables: each with the order its footer says its
//! rows are in.

use super::{file, Part};
use crate::error::{Error, Result};
use crate::snapshot::file_reads::LocalFiles;
use crate::snapshot::inference::{infer_schema, local_footer};
use datafusion::common::Column;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::Path;
use std::sync::Arc;

/// The footer key naming the order a cached file's rows are written in (its view's order
/// columns, ascending), present when one statement wrote it sorted.
pub(super) const SORTED_BY: &str = "occlens.sorted_by";

/// Register the cached views of `part`, stored in `dir`, in `ctx` as tables (their statements
/// are then skipped). Each file's footer is read once, here, without its page index, and kept
/// in the session's metadata cache: it gives the table's schema (as DataFusion infers it,
/// `snapshot::inference`; DataFusion's own inference would also decode the page index of
/// every column, for files a request may never scan) and the order its rows are in. A file
/// whose footer says it is sorted in its view's order is registered with that ordering: a
/// query in that order (an export, by project then id) streams its rows instead of sorting
/// them all before the first is written.
pub async fn register(ctx: &SessionContext, dir: &Path, part: Part) -> Result<()> {
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFiles::default());
    let format = ParquetReadOptions::default()
        .to_listing_options(&ctx.copied_config(), ctx.copied_table_options())
        .format;
    let registrations = part.views().iter().map(|(view, order, _)| {
        let (store, format) = (store.clone(), format.clone());
        async move {
            let path = file(dir, view);
            let url = path.to_string_lossy().to_string();
            let failed = |why: String| {
                Error::Query(format!(
                    "the cache's {url} cannot be read ({why}); --cache refresh rebuilds it"
                ))
            };
            let object =
                ObjectPath::from_filesystem_path(&path).map_err(|e| failed(e.to_string()))?;
            let object = store
                .head(&object)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let footer = local_footer(ctx, &store, &object)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let schema = infer_schema(ctx, &format, &store, &[object], true)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let sorted_by = footer
                .file_metadata()
                .key_value_metadata()
                .and_then(|kv| kv.iter().find(|kv| kv.key == SORTED_BY))
                .and_then(|kv| kv.value.as_deref());
            let mut options = ParquetReadOptions::default().schema(&schema);
            if sorted_by == Some(*order) {
                options = options.file_sort_order(vec![order_columns(order)
                    .map(|c| Expr::Column(Column::new_unqualified(c)).sort(true, false))
                    .collect()]);
            }
            ctx.register_parquet(*view, &url, options)
                .await
                .map_err(|e| failed(e.to_string()))
        }
    });
    futures::future::try_join_all(registrations).await?;
    Ok(())
}

/// The columns of a cached view's order (`Part::views`), each ascending, NULLs last: how the
/// build sorts the rows and how registration declares them sorted.
pub(super) fn order_columns(order: &str) -> impl Iterator<Item = &str> {
    order.split(',').map(str::trim)
}
