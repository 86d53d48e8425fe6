//! Export queries (spec §6, antenna-exports-dwca.md): the project and collection scope, then the
//! SQL of each export as a stream of record batches, so that memory stays bounded by the batch
//! size, not the export size.

use crate::engine::catalog::{self, Arg};
use crate::engine::Engine;
use crate::error::{Error, Result};
use datafusion::datasource::MemTable;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// The files of a Darwin Core Archive, in zip member order, with the query of each.
pub struct DwcaQueries {
    pub files: Vec<(&'static str, String)>,
    /// One row: the values `eml.xml` is built from.
    pub eml: String,
    /// The session the statements run in (see `catalog::one_stage_session`).
    pub session: SessionContext,
    /// Locally, the in-memory table holding the archive's occurrences (`dwca.selected`),
    /// computed once and read by every statement; dropped with the queries.
    selected: Option<String>,
}

impl DwcaQueries {
    /// Run one of the archive's statements.
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        Ok(self.session.sql(sql).await?.execute_stream().await?)
    }
}

impl Drop for DwcaQueries {
    fn drop(&mut self) {
        if let Some(name) = &self.selected {
            let _ = self.session.deregister_table(name.as_str());
        }
    }
}

impl Engine {
    /// `Ok` when `project` exists in the snapshot; else `"{command}: project P does not exist"`.
    /// One lookup (`exists.project`): an export or audit does not wait for the dimension tables.
    pub async fn require_project(&self, command: &str, project: i64) -> Result<()> {
        let sql = self
            .fragments()
            .bind("exists.project", &[("value", Arg::Int(project))]);
        if !crate::engine::statements::rows(&self.ctx, &sql)
            .await?
            .is_empty()
        {
            Ok(())
        } else {
            Err(Error::Usage(format!(
                "{command}: project {project} does not exist in the snapshot"
            )))
        }
    }

    /// Check that `project` (and `collection`) exist; the collection condition over `o.id`.
    pub async fn export_scope(&self, project: i64, collection: Option<i64>) -> Result<String> {
        self.require_project("export", project).await?;
        let Some(c) = collection else {
            return Ok("TRUE".to_string());
        };
        let sql = self
            .fragments()
            .bind("exists.collection", &[("value", Arg::Int(c))]);
        if crate::engine::statements::rows(&self.ctx, &sql)
            .await?
            .is_empty()
        {
            return Err(Error::Usage(format!(
                "export: collection {c} does not exist in the snapshot"
            )));
        }
        Ok(self
            .fragments()
            .bind("collection", &[("value", Arg::Int(c))]))
    }

    /// The export base set (`export.base`) of `view` for `project` and `collection`.
    async fn base_sql(&self, view: &str, project: i64, collection: Option<i64>) -> Result<String> {
        let collection = self.export_scope(project, collection).await?;
        Ok(self.scoped_base_sql(view, project, &collection))
    }

    /// `export.base` of `view` for `project` and a collection condition of [`export_scope`].
    ///
    /// [`export_scope`]: Engine::export_scope
    pub fn scoped_base_sql(&self, view: &str, project: i64, collection: &str) -> String {
        self.fragments().bind(
            "export.base",
            &[
                ("view", Arg::Name(view)),
                ("project", Arg::Int(project)),
                ("collection", Arg::Sql(collection)),
            ],
        )
    }

    /// Stream `view` (an export view of `queries/08_exports.sql`) for `project`, optionally
    /// restricted to occurrences with a detection in `collection`, in ascending id order.
    pub async fn export_stream(
        &self,
        view: &str,
        project: i64,
        collection: Option<i64>,
    ) -> Result<SendableRecordBatchStream> {
        let sql = self.base_sql(view, project, collection).await?;
        self.occurrences_stream(&sql, project).await
    }

    /// The queries of a Darwin Core Archive of `project` (`queries/dwca.sql`).
    pub async fn dwca_queries(&self, project: i64, collection: Option<i64>) -> Result<DwcaQueries> {
        let collection = self.export_scope(project, collection).await?;
        let params = [
            ("project", Arg::Int(project)),
            ("collection", Arg::Sql(&collection)),
            ("media_url", Arg::Str(&self.config.media_url)),
        ];
        let f = self.fragments();
        let session = catalog::one_stage_session(&self.ctx)?;
        let selected_sql = f.bind("dwca.selected", &params);
        // Every file reads the selection several times: locally it is computed once (a few
        // columns per occurrence of the project) into memory. A cluster's executors cannot read
        // this process's memory: there each statement computes it.
        let (selected, registered) = if catalog::is_remote() {
            (selected_sql, None)
        } else {
            let selected = self.ctx.sql(&selected_sql).await?;
            let schema = Arc::new(selected.schema().as_arrow().clone());
            let table = MemTable::try_new(schema, vec![selected.collect().await?])?;
            static ARCHIVES: std::sync::atomic::AtomicUsize =
                std::sync::atomic::AtomicUsize::new(0);
            let n = ARCHIVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("dwca_selected_{project}_{n}");
            self.ctx.register_table(name.as_str(), Arc::new(table))?;
            (format!("SELECT * FROM {name}"), Some(name))
        };
        let with = format!(
            "WITH selected AS ({selected}), events AS ({}), detections AS ({})",
            f.bind("dwca.events", &params),
            f.bind("dwca.detections", &params)
        );
        // A file query may open with its own WITH: its CTEs follow the shared ones.
        let file = |name: &str| {
            let body = f.bind(name, &params);
            match body.strip_prefix("WITH ") {
                Some(ctes) => format!("{with},\n{ctes}"),
                None => format!("{with}\n{body}"),
            }
        };
        Ok(DwcaQueries {
            files: vec![
                ("event.txt", file("dwca.event")),
                ("occurrence.txt", file("dwca.occurrence")),
                ("multimedia.txt", file("dwca.multimedia")),
                ("measurementorfact.txt", file("dwca.measurementorfact")),
            ],
            eml: file("dwca.eml"),
            session,
            selected: registered,
        })
    }

    /// The `taxa_list_csv` rows of `project` (`queries/taxa_list.sql`), all columns text.
    pub async fn taxa_list_stream(
        &self,
        project: i64,
        collection: Option<i64>,
    ) -> Result<SendableRecordBatchStream> {
        let collection = self.export_scope(project, collection).await?;
        let sql = self.fragments().bind(
            "taxa_list.csv",
            &[
                ("project", Arg::Int(project)),
                ("collection", Arg::Sql(&collection)),
            ],
        );
        let session = catalog::one_stage_session(&self.ctx)?;
        Ok(session.sql(&sql).await?.execute_stream().await?)
    }

    /// The columns of `occurrence_flat` (the `csv` export's choices).
    pub async fn flat_columns(&self) -> Result<Vec<String>> {
        let df = self.ctx.table("occurrence_flat").await?;
        Ok(df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }

    /// `view` (occurrence_flat or occurrence_nested) of `project`, ascending id, restricted to
    /// `columns` when given (each must be a column of the view).
    pub async fn flat_frame(
        &self,
        view: &str,
        project: i64,
        collection: Option<i64>,
        columns: Option<&[String]>,
    ) -> Result<datafusion::prelude::DataFrame> {
        let sql = self.base_sql(view, project, collection).await?;
        let df = self.ctx.sql(&sql).await?;
        let Some(columns) = columns else {
            return Ok(df);
        };
        let known = self.flat_columns().await?;
        if let Some(bad) = columns.iter().find(|c| !known.contains(c)) {
            return Err(Error::Usage(format!(
                "--columns: unknown column {bad} (expected some of: {})",
                known.join(", ")
            )));
        }
        if let Some(twice) = (1..columns.len())
            .find(|&i| columns[..i].contains(&columns[i]))
            .map(|i| &columns[i])
        {
            return Err(Error::Usage(format!(
                "--columns: {twice} given twice (each column once)"
            )));
        }
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        Ok(df.select_columns(&names)?)
    }

    /// Run `sql` (a statement over the occurrences of `project`) as a stream of record
    /// batches.
    pub async fn occurrences_stream(
        &self,
        sql: &str,
        project: i64,
    ) -> Result<SendableRecordBatchStream> {
        self.frame_stream(self.ctx.sql(sql).await?, project).await
    }

    /// Run `df` (a statement over the occurrences of `project`) as a stream of record
    /// batches: on a cluster, as range jobs within the project when it reads an occurrence
    /// view row by row (`range_jobs`).
    pub async fn frame_stream(
        &self,
        df: datafusion::prelude::DataFrame,
        project: i64,
    ) -> Result<SendableRecordBatchStream> {
        crate::engine::range_jobs::stream(&self.ctx, df, &format!("project_id = {project}")).await
    }
}
