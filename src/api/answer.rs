//! Answering a request from the engine: the conditions and ordering the request selects with
//! (`query`), then the page or the detail row and their related rows, or Antenna's error.

use crate::api::query;
use crate::api::request::{ApiError, Request, Requester};
use crate::engine::catalog::Arg;
use crate::engine::occurrences::{self, Page};
use crate::engine::related::{self, Related, RelatedFor};
use crate::engine::rows::RowExt;
use crate::engine::typed::OccurrenceRow;
use crate::engine::Engine;
use crate::error::Result;

/// The projects a requester sees (NULL: no project), being computed.
type Shown =
    datafusion::common::runtime::SpawnedTask<Result<std::collections::HashSet<Option<i64>>>>;

/// The projects `shown` computed, or its error.
async fn projects(shown: Shown) -> Result<std::collections::HashSet<Option<i64>>> {
    shown
        .join()
        .await
        .map_err(|e| crate::error::Error::Internal(format!("reading the projects shown: {e}")))?
}

/// A list or detail answer: the rows to shape, or Antenna's error.
pub enum OccurrenceAnswer {
    List(Page, Related),
    Detail(Box<OccurrenceRow>, Related),
    /// A page of algorithm ids (spec §5.8) and the total count.
    Algorithms(usize, Vec<i64>),
}

impl Engine {
    /// The WHERE clause and ORDER BY of a request, or its error.
    pub async fn plan(
        &self,
        r: &Request,
        who: &Requester,
        detail: Option<i64>,
    ) -> Result<Result<(String, String), ApiError>> {
        Ok(self
            .conditions(r, who, detail)
            .await?
            .map(|(conds, order_by)| (query::where_clause(&conds), order_by)))
    }

    /// The conditions (ANDed) and ORDER BY of a request, or its error.
    async fn conditions(
        &self,
        r: &Request,
        who: &Requester,
        detail: Option<i64>,
    ) -> Result<Result<(Vec<String>, String), ApiError>> {
        let exists = query::existing(&self.ctx, self.fragments(), r).await?;
        let project = match (r.project_id, detail) {
            (Some(p), _) if p > 0 && exists.has("project", p) => Some(p),
            (_, Some(_)) => None,
            _ => return Ok(Err(ApiError::not_found())),
        };
        let mut conds = match query::conditions(self.fragments(), r, who, project, &exists) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(id) = detail {
            conds.push(self.fragments().bind("id", &[("id", Arg::Int(id))]));
        }
        Ok(Ok((conds, query::order_by(self.fragments(), r))))
    }

    /// The projects `who` sees (`visible.projects`), computed in a task of its own; None for a
    /// requester who sees every row.
    fn shown_projects(&self, who: &Requester) -> Option<Shown> {
        let visible = query::visibility(self.fragments(), who)?;
        let sql = self
            .fragments()
            .bind("visible.projects", &[("visible", Arg::Sql(&visible))]);
        let ctx = self.point.clone();
        Some(crate::engine::statements::spawn(async move {
            let rows = crate::engine::statements::rows(&ctx, &sql).await?;
            Ok(rows.iter().map(|r| r.i64("project_id")).collect())
        }))
    }

    /// Whether a row of `project` is visible to `who`: among the projects `shown` (when
    /// computed), else by the requester's `visible.*` condition over that one value
    /// (`visible.row`).
    async fn visible(
        &self,
        who: &Requester,
        project: Option<i64>,
        shown: Option<Shown>,
    ) -> Result<bool> {
        let Some(visible) = query::visibility(self.fragments(), who) else {
            return Ok(true);
        };
        if let Some(shown) = shown {
            if projects(shown).await?.contains(&project) {
                return Ok(true);
            }
        }
        let project = match project {
            Some(p) => Arg::Int(p),
            None => Arg::Sql("NULL"),
        };
        let sql = self.fragments().bind(
            "visible.row",
            &[("project", project), ("visible", Arg::Sql(&visible))],
        );
        let rows = crate::engine::statements::rows(&self.point, &sql).await?;
        Ok(rows.first().and_then(|r| r.i64("n")).unwrap_or(0) > 0)
    }

    /// `GET /api/v2/occurrences/algorithms/?project_id=P` (spec §5.8).
    pub async fn algorithms(
        &self,
        r: &Request,
        who: &Requester,
    ) -> Result<Result<OccurrenceAnswer, ApiError>> {
        // The action's own checks: no project (absent, 0 or no such row) is a 400 whose
        // message is a string, not a list; a project the requester cannot see, a 404.
        let required = || ApiError {
            status: 400,
            body: serde_json::json!({"project_id": "This parameter is required."}),
        };
        let Some(id) = r.project_id.filter(|&id| id != 0) else {
            return Ok(Err(required()));
        };
        let project = Arg::Int(id);
        let visible = query::visibility(self.fragments(), who).unwrap_or_else(|| "TRUE".into());
        let sql = self.fragments().bind(
            "project_visible",
            &[("project", project), ("visible", Arg::Sql(&visible))],
        );
        match crate::engine::statements::rows(&self.ctx, &sql)
            .await?
            .first()
        {
            None => return Ok(Err(required())),
            Some(row) if row.bool("visible") != Some(true) => {
                return Ok(Err(ApiError::detail(404, "Project not found.".into())))
            }
            Some(_) => {}
        }
        let count_sql = self
            .fragments()
            .bind("algorithms.count", &[("project", project)]);
        let count = crate::engine::statements::rows(&self.ctx, &count_sql).await?;
        let count = count.first().and_then(|c| c.i64("count")).unwrap_or(0) as usize;
        let page_sql = self.fragments().bind(
            "algorithms.page",
            &[
                ("project", project),
                ("limit", Arg::Int(r.limit as i64)),
                ("offset", Arg::Int(r.offset as i64)),
            ],
        );
        let ids = crate::engine::statements::rows(&self.ctx, &page_sql)
            .await?
            .iter()
            .filter_map(|r| r.i64("id"))
            .collect();
        Ok(Ok(OccurrenceAnswer::Algorithms(count, ids)))
    }

    pub async fn answer(
        &self,
        r: &Request,
        who: &Requester,
        detail: Option<i64>,
    ) -> Result<Result<OccurrenceAnswer, ApiError>> {
        self.check_scope(detail, r.project_id, &r.path)?;
        // A detail's related rows are read by its id beside the statements that find its row
        // (on the other core; dropped, and stopped, when the row is not found or not visible).
        let fetching = detail.map(|id| {
            let ctx = self.point.clone();
            crate::engine::statements::spawn(async move {
                related::fetch(&ctx, &[id], RelatedFor::Detail).await
            })
        });
        let (conds, order_by) = match self.conditions(r, who, detail).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        // A detail without filter parameters: its conditions are its requester's visibility
        // and its id alone.
        let visibility = query::visibility(self.fragments(), who);
        let by_id_alone = detail.filter(|_| conds.len() == 1 + usize::from(visibility.is_some()));
        let where_clause = query::where_clause(&conds);
        let (ctx, keys) = (&self.point, self.keys_view());
        match fetching {
            None => {
                // A list's conditions hold its project (`plan`: else a 404).
                let source = occurrences::PageSource {
                    project: r.project_id,
                    ..occurrences::PageSource::new(self.memo.as_ref())
                };
                let (count, ids) = occurrences::page_ids(
                    ctx,
                    source,
                    keys,
                    &where_clause,
                    &order_by,
                    r.limit,
                    r.offset,
                )
                .await?;
                // The page's rows and their related rows, both read by the page's ids, at once.
                let (rows, fetched) = futures::try_join!(
                    occurrences::rows_of(ctx, &ids, r.project_id),
                    related::fetch(ctx, &ids, RelatedFor::List)
                )?;
                let related = related::assemble(ctx, &rows, fetched, RelatedFor::List).await?;
                Ok(Ok(OccurrenceAnswer::List(
                    occurrences::Page { count, rows },
                    related,
                )))
            }
            Some(fetching) => {
                // Its row by id through the cached list's bloom filters, then its project's
                // visibility; else (filter parameters, no cache) the statement of its
                // conditions.
                let by_id_alone = by_id_alone
                    .filter(|_| crate::engine::keyed::serves(ctx, "occurrence_list", "id", true));
                let shown = by_id_alone.and_then(|_| self.shown_projects(who));
                let by_id = match by_id_alone {
                    Some(id) => occurrences::row_by_id(ctx, id).await?,
                    None => None,
                };
                let row = match by_id {
                    Some(Some(row)) => match self.visible(who, row.project_id, shown).await? {
                        true => Some(row),
                        false => None,
                    },
                    Some(None) => {
                        // No such row: a failure to read the projects is still an error.
                        if let Some(shown) = shown {
                            projects(shown).await?;
                        }
                        None
                    }
                    None => {
                        drop(shown);
                        occurrences::first_row(ctx, &where_clause).await?
                    }
                };
                let Some(row) = row else {
                    return Ok(Err(ApiError::not_found()));
                };
                if row.project_id.is_none() && matches!(who, Requester::Superuser(_)) {
                    // Antenna's permission lookup crashes on a project-less occurrence.
                    return Ok(Err(ApiError::detail(
                        500,
                        "Server Error: the occurrence has no project (Antenna's permission check fails with HTTP 500)".into(),
                    )));
                }
                let fetched = fetching.join().await.map_err(|e| {
                    crate::error::Error::Internal(format!("reading a detail's related rows: {e}"))
                })??;
                let related =
                    related::assemble(ctx, std::slice::from_ref(&row), fetched, RelatedFor::Detail)
                        .await?;
                Ok(Ok(OccurrenceAnswer::Detail(Box::new(row), related)))
            }
        }
    }
}
