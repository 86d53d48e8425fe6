//! Reading a whole snapshot back (for `occlens check`): every file the manifest lists against
//! its SHA-256, the files of its tables it does not list, and every page of every file
//! decoded, each failure naming the table and file.

use super::{cause, manifest_tables, relative, under, Listed, Snapshot};
use crate::error::{Error, Result};
use object_store::path::Path;
use object_store::ObjectStoreExt;

impl Snapshot {
    /// The tables `_snapshot.json` describes; `None` without a manifest.
    fn listed_tables(&self) -> Result<Option<std::collections::HashMap<String, Listed>>> {
        let Some(manifest) = &self.manifest else {
            return Ok(None);
        };
        let tables = manifest_tables(manifest).map_err(|message| Error::Snapshot {
            location: self.location.clone(),
            message,
        })?;
        Ok(Some(tables))
    }

    /// Read every file `_snapshot.json` lists and compare its SHA-256 with the manifest's (for
    /// `occlens check`: this reads every byte of the snapshot). One line per file that differs
    /// or cannot be read; empty when all agree, or when the snapshot has no manifest.
    pub async fn verify_checksums(&self) -> Result<Vec<String>> {
        use futures::StreamExt;
        use sha2::{Digest, Sha256};
        let Some(tables) = self.listed_tables()? else {
            return Ok(Vec::new());
        };
        let mut names: Vec<_> = tables.keys().cloned().collect();
        names.sort();
        let root = Path::from_url_path(self.base.path()).unwrap_or_default();
        let mut problems = Vec::new();
        for name in names {
            let Some(Listed::Files(files)) = tables.get(&name) else {
                continue;
            };
            for f in files {
                let Some(expected) = &f.sha256 else { continue };
                let read = async {
                    let mut stream = self.store.get(&under(&root, &f.path)).await?.into_stream();
                    let mut hasher = Sha256::new();
                    while let Some(chunk) = stream.next().await {
                        hasher.update(&chunk?);
                    }
                    Ok::<_, object_store::Error>(format!("{:x}", hasher.finalize()))
                };
                match read.await {
                    Ok(found) if found == *expected => {}
                    Ok(found) => problems.push(format!(
                        "table {name}: {}: sha256 is {found}, _snapshot.json lists {expected}",
                        f.path
                    )),
                    Err(e) => problems.push(format!("table {name}: {}: {}", f.path, cause(&e))),
                }
            }
        }
        Ok(problems)
    }
}

impl Snapshot {
    /// Each file `_snapshot.json` lists with a row count, and each table with one, against
    /// the rows the files' footers declare (for `occlens check`: a file rewritten to the same
    /// size, or a manifest edited by hand). One line per file or table that differs, whose
    /// count is not a count, or whose footer cannot be read; empty without a manifest.
    pub async fn verify_row_counts(&self) -> Result<Vec<String>> {
        // Deprecated in parquet 59 in favour of hand-written readers; it still reads right.
        #[allow(deprecated)]
        use datafusion::parquet::arrow::async_reader::ParquetObjectReader;
        use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
        use futures::StreamExt;
        let Some(tables) = self.listed_tables()? else {
            return Ok(Vec::new());
        };
        let mut names: Vec<_> = tables.keys().cloned().collect();
        names.sort();
        let root = Path::from_url_path(self.base.path()).unwrap_or_default();
        let files = names.iter().flat_map(|name| {
            let files = match tables.get(name) {
                Some(Listed::Files(files)) => files.clone(),
                _ => Vec::new(),
            };
            files.into_iter().map(move |f| (name.clone(), f))
        });
        let reads = files.map(|(name, f)| {
            let store = self.store.clone();
            let location = under(&root, &f.path);
            async move {
                #[allow(deprecated)]
                let reader = ParquetObjectReader::new(store, location).with_file_size(f.bytes);
                let found = ParquetRecordBatchStreamBuilder::new(reader)
                    .await
                    .map(|b| b.metadata().file_metadata().num_rows().max(0) as u64)
                    .map_err(|e| cause(&e));
                (name, f, found)
            }
        });
        let read: Vec<_> = futures::stream::iter(reads).buffered(8).collect().await;
        let mut problems = Vec::new();
        let mut sums: std::collections::HashMap<String, Option<u64>> = Default::default();
        for (name, f, found) in read {
            let sum = sums.entry(name.clone()).or_insert(Some(0));
            match (&found, &f.rows) {
                (Err(why), _) => problems.push(format!("table {name}: {}: {why}", f.path)),
                (Ok(n), Some(Ok(listed))) if n != listed => problems.push(format!(
                    "table {name}: {}: the file holds {n} rows, _snapshot.json lists {listed}",
                    f.path
                )),
                (Ok(_), Some(Err(text))) => problems.push(format!(
                    "table {name}: {}: _snapshot.json lists rows {text}, not a count",
                    f.path
                )),
                _ => {}
            }
            *sum = match (*sum, found) {
                (Some(s), Ok(n)) => Some(s + n),
                _ => None,
            };
        }
        // The tables' own counts (`tables[].rows`), against their files' sum.
        let listed = self.manifest.as_ref().and_then(|m| m["tables"].as_array());
        for t in listed.into_iter().flatten() {
            let (Some(name), rows) = (t["name"].as_str(), &t["rows"]) else {
                continue;
            };
            if rows.is_null() {
                continue;
            }
            match (
                super::manifest::count(rows),
                sums.get(name).copied().flatten(),
            ) {
                (None, _) => problems.push(format!(
                    "table {name}: _snapshot.json lists rows {rows}, not a count"
                )),
                (Some(listed), Some(n)) if n != listed => problems.push(format!(
                    "table {name}: its files hold {n} rows, _snapshot.json lists {listed}"
                )),
                _ => {}
            }
        }
        Ok(problems)
    }
}

impl Snapshot {
    /// With `_snapshot.json`, the files of a table it describes that it does not list (a part
    /// added to a table's folder, a table written again as a file or folder beside the
    /// listed one): occlens does not read them, so answers differ from a reader that lists
    /// the folder; and the files of a required table it does not describe at all (read as
    /// found, unchecked). One line per file; empty without a manifest. Names starting with `.`
    /// or `_` are skipped, as when reading.
    pub async fn unlisted_files(&self) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let Some(tables) = self.listed_tables()? else {
            return Ok(Vec::new());
        };
        let root = Path::from_url_path(self.base.path()).unwrap_or_default();
        // Spelled as the listing spells them.
        let listed: std::collections::HashSet<String> = tables
            .values()
            .filter_map(|t| match t {
                Listed::Files(files) => Some(files.iter()),
                Listed::Absent => None,
            })
            .flatten()
            .map(|f| relative(&root, &under(&root, &f.path)))
            .collect();
        let mut found: Vec<String> = self
            .store
            .list(Some(&root))
            .map_ok(|m| relative(&root, &m.location))
            .try_collect()
            .await
            .map_err(|e| Error::Snapshot {
                location: self.location.clone(),
                message: format!("listing the snapshot's files: {}", cause(&e)),
            })?;
        found.sort();
        Ok(found
            .into_iter()
            .filter_map(|rel| {
                let mut parts = rel.split('/');
                let first = parts.next()?;
                let table = match parts.next() {
                    Some(_) => first,
                    None => first.strip_suffix(".parquet")?,
                };
                let hidden = rel
                    .split('/')
                    .any(|p| p.starts_with('.') || p.starts_with('_'));
                if hidden {
                    return None;
                }
                if tables.contains_key(table) {
                    return (!listed.contains(&rel)).then(|| {
                        format!(
                            "table {table}: {rel} is not listed in _snapshot.json, so it is not read"
                        )
                    });
                }
                // A required table the manifest leaves out is read as found: nothing then
                // checks its files (a manifest older than the contract leaves out only
                // tables added later, which are optional).
                let required = crate::snapshot::contract::table(table).is_some_and(|t| t.required);
                required.then(|| {
                    format!(
                        "table {table}: _snapshot.json does not list this required table; {rel} is read as found, its size and checksum unchecked"
                    )
                })
            })
            .collect())
    }

    /// Decode every page of every file of the snapshot's tables (all columns): one line per file
    /// that fails, naming the table, the file and the cause. The Parquet reader's errors during
    /// a query name no file; this does (for `occlens check`). Reads the whole snapshot.
    pub async fn decode_files(&self) -> Vec<String> {
        // Deprecated in parquet 59 in favour of hand-written readers; it still reads right.
        #[allow(deprecated)]
        use datafusion::parquet::arrow::async_reader::ParquetObjectReader;
        use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
        use futures::StreamExt;
        let root = Path::from_url_path(self.base.path()).unwrap_or_default();
        let files = self
            .tables
            .iter()
            .flat_map(|t| t.files.iter().map(move |f| (t.name, f.clone())));
        let checks = files.map(|(table, file)| {
            let store = self.store.clone();
            let rel = relative(&root, &file.location);
            async move {
                // Its own task: a decoder that panics on corrupt bytes is a finding too.
                let decode = tokio::spawn(async move {
                    #[allow(deprecated)]
                    let reader =
                        ParquetObjectReader::new(store, file.location).with_file_size(file.size);
                    let mut stream = ParquetRecordBatchStreamBuilder::new(reader)
                        .await?
                        .build()?;
                    while let Some(batch) = stream.next().await {
                        batch?;
                    }
                    Ok::<_, datafusion::parquet::errors::ParquetError>(())
                });
                let why = match decode.await {
                    Ok(Ok(())) => return None,
                    Ok(Err(e)) => cause(&e),
                    Err(e) => {
                        let payload = e.try_into_panic().ok();
                        let text = payload.as_ref().and_then(|p| {
                            p.downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| p.downcast_ref::<String>().cloned())
                        });
                        format!(
                            "the Parquet decoder failed on it ({})",
                            cause(&text.unwrap_or_else(|| "cancelled".into()))
                        )
                    }
                };
                Some(format!("table {table}: {rel}: {why}"))
            }
        });
        futures::stream::iter(checks)
            .buffered(4)
            .filter_map(|found| async move { found })
            .collect()
            .await
    }
}
