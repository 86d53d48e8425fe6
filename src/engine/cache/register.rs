//! Registering a cache entry's files as tables: each with the order its footer says its
//! rows are in.

use super::{file, Part};
use crate::error::{Error, Result};
use datafusion::common::Column;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext};
use std::fs::File;
use std::path::Path;

/// The footer key naming the order a cached file's rows are written in (its view's order
/// columns, ascending), present when one statement wrote it sorted.
pub(super) const SORTED_BY: &str = "occlens.sorted_by";

/// Register the cached views of `part`, stored in `dir`, in `ctx` as tables (their statements
/// are then skipped). The files' footers are read together (each registration reads its
/// file's schema). A file whose footer says it is sorted in its view's order is registered
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
        let mut options = ParquetReadOptions::default();
        if sorted_by(&path).map_err(failed)?.as_deref() == Some(*order) {
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

/// The order a cached file's footer says its rows are in ([`SORTED_BY`]).
fn sorted_by(path: &Path) -> Result<Option<String>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| Error::Query(e.to_string()))?;
    Ok(metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == SORTED_BY))
        .and_then(|kv| kv.value.clone()))
}
