//! Views: from a request to the rows of `queries/`. The engine opens a snapshot once and
//! answers any number of requests from it.

pub mod arg_best;
pub mod audit;
pub mod catalog;
pub mod dims;
pub mod exports;
pub mod occurrences;
pub mod ordered_concat;
pub mod query;
pub mod render_udf;
pub mod request;
pub mod rows;
pub mod single_group;
pub mod udf;

use crate::error::Result;
use crate::snapshot::{location::Location, Snapshot};
use catalog::Fragments;
use datafusion::prelude::SessionContext;
use dims::Dims;
use occurrences::{Page, Related};

use request::{ApiError, Request, Requester};
use rows::{Row, RowExt};

/// Output settings that change rendered values, not which rows are selected.
#[derive(Debug, Clone)]
pub struct Config {
    /// Scheme and host of hyperlinks (`http://localhost:8000`).
    pub api_base: String,
    /// Base of media URLs (`/media/`).
    pub media_url: String,
    pub time_zone: chrono_tz::Tz,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_base: "http://localhost:8000".into(),
            media_url: "/media/".into(),
            time_zone: chrono_tz::America::New_York,
        }
    }
}

pub struct Engine {
    pub ctx: SessionContext,
    pub snapshot: Snapshot,
    pub dims: Dims,
    pub config: Config,
    fragments: Fragments,
}

/// A list or detail answer: the rows to shape, or Antenna's error.
pub enum Answer {
    List(Page, Related),
    Detail(Box<Row>, Related),
    /// A page of algorithm ids (spec §5.8) and the total count.
    Algorithms(usize, Vec<i64>),
}

impl Engine {
    /// Open `snapshot` (None: the built-in demo), register its tables and the views.
    pub async fn open(snapshot: Option<&str>, config: Config) -> Result<Engine> {
        let ctx = catalog::session();
        let location = Location::resolve(snapshot).await?;
        let snapshot = Snapshot::open(&ctx, &location).await?;
        catalog::create_views(&ctx, config.time_zone).await?;
        let dims = Dims::load(&ctx).await?;
        let fragments = Fragments::load();
        Ok(Engine {
            ctx,
            snapshot,
            dims,
            config,
            fragments,
        })
    }

    pub fn fragments(&self) -> &Fragments {
        &self.fragments
    }

    /// The WHERE clause and ORDER BY of a request, or its error.
    pub async fn plan(
        &self,
        r: &Request,
        who: &Requester,
        detail: Option<i64>,
    ) -> Result<Result<(String, String), ApiError>> {
        let exists = query::existing(&self.ctx, &self.fragments, r).await?;
        let project = match (r.project_id, detail) {
            (Some(p), _) if p > 0 && exists.has("project", p) => Some(p),
            (_, Some(_)) => None,
            _ => return Ok(Err(ApiError::not_found())),
        };
        let mut conds = match query::conditions(&self.fragments, r, who, project, &exists) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(id) = detail {
            conds.push(self.fragments.bind("id", &[("id", &id.to_string())]));
        }
        Ok(Ok((
            query::where_clause(&conds),
            query::order_by(&self.fragments, r),
        )))
    }

    /// `GET /api/v2/occurrences/algorithms/?project_id=P` (spec §5.8).
    pub async fn algorithms(
        &self,
        r: &Request,
        who: &Requester,
    ) -> Result<Result<Answer, ApiError>> {
        let project = r.project_id.unwrap_or_default().to_string();
        let visible = query::visibility(&self.fragments, who).unwrap_or_else(|| "TRUE".into());
        let sql = self.fragments.bind(
            "project_visible",
            &[("project", &project), ("visible", &visible)],
        );
        if occurrences::rows(&self.ctx, &sql).await?.is_empty() {
            return Ok(Err(ApiError::not_found()));
        }
        let count_sql = self
            .fragments
            .bind("algorithms.count", &[("project", &project)]);
        let count = occurrences::rows(&self.ctx, &count_sql).await?;
        let count = count.first().and_then(|c| c.i64("count")).unwrap_or(0) as usize;
        let (limit, offset) = (r.limit.to_string(), r.offset.to_string());
        let page_sql = self.fragments.bind(
            "algorithms.page",
            &[
                ("project", &project),
                ("limit", &limit),
                ("offset", &offset),
            ],
        );
        let ids = occurrences::rows(&self.ctx, &page_sql)
            .await?
            .iter()
            .filter_map(|r| r.i64("id"))
            .collect();
        Ok(Ok(Answer::Algorithms(count, ids)))
    }

    pub async fn answer(
        &self,
        r: &Request,
        who: &Requester,
        detail: Option<i64>,
    ) -> Result<Result<Answer, ApiError>> {
        let (where_clause, order_by) = match self.plan(r, who, detail).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        match detail {
            None => {
                let page =
                    occurrences::page(&self.ctx, &where_clause, &order_by, r.limit, r.offset)
                        .await?;
                let related =
                    occurrences::related(&self.ctx, &page.rows, occurrences::Shape::List).await?;
                Ok(Ok(Answer::List(page, related)))
            }
            Some(_) => {
                let ids = occurrences::page_ids(&self.ctx, &where_clause, &order_by, 1, 0).await?;
                let Some(row) = occurrences::rows_of(&self.ctx, &ids)
                    .await?
                    .into_iter()
                    .next()
                else {
                    return Ok(Err(ApiError::not_found()));
                };
                if row.i64("project_id").is_none() && matches!(who, Requester::Superuser(_)) {
                    // Antenna's permission lookup crashes on a project-less occurrence.
                    return Ok(Err(ApiError::detail(
                        500,
                        "Server Error: the occurrence has no project (Antenna's permission check fails with HTTP 500)".into(),
                    )));
                }
                let related = occurrences::related(
                    &self.ctx,
                    std::slice::from_ref(&row),
                    occurrences::Shape::Detail,
                )
                .await?;
                Ok(Ok(Answer::Detail(Box::new(row), related)))
            }
        }
    }
}
