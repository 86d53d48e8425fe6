//! The export base set as a stream of record batches (spec §6.1): memory stays bounded by the
//! batch size, not the export size.

use crate::error::{Error, Result};
use crate::views::Engine;
use datafusion::physical_plan::SendableRecordBatchStream;

impl Engine {
    /// Stream `view` (an export view of `queries/08_exports.sql`) for `project`, optionally
    /// restricted to occurrences with a detection in `collection`, in ascending id order.
    pub async fn export_stream(
        &self,
        view: &str,
        project: i64,
        collection: Option<i64>,
    ) -> Result<SendableRecordBatchStream> {
        if !self.dims.projects.contains_key(&project) {
            return Err(Error::Usage(format!(
                "export: project {project} does not exist in the snapshot"
            )));
        }
        let collection = match collection {
            None => "TRUE".to_string(),
            Some(c) => {
                let sql = self
                    .fragments()
                    .bind("exists.collection", &[("value", &c.to_string())]);
                let exists = crate::views::occurrences::rows(&self.ctx, &sql).await?;
                if exists.is_empty() {
                    return Err(Error::Usage(format!(
                        "export: collection {c} does not exist in the snapshot"
                    )));
                }
                self.fragments()
                    .bind("collection", &[("value", &c.to_string())])
            }
        };
        let sql = self.fragments().bind(
            "export.base",
            &[
                ("view", view),
                ("project", &project.to_string()),
                ("collection", &collection),
            ],
        );
        Ok(self.ctx.sql(&sql).await?.execute_stream().await?)
    }
}
