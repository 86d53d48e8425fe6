//! The parts of a taxon detail that exist only with a project (Antenna 731cc2a2): the
//! example occurrence (`TaxonViewSet.get_queryset`'s `example_occurrences` prefetch, shown by
//! `TaxonOccurrenceNestedSerializer`) and `summary_data` (`Taxon.summary_data` with the charts
//! `average_occurrences_per_day` / `_per_month` of ami/main/charts.py). SQL: queries/taxa_detail.sql.

use super::pg_sort::pg_qsort;
use super::taxa_detail_filters::Scope;
use crate::api::endpoints::{Endpoints, Model};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::media::media_url;
use crate::render::timefmt::{date_label, duration_label, duration_seconds, event_name};
use chrono::{Datelike, NaiveDate};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

/// `determination_score DESC` as PostgreSQL compares it: NULLs first (they sort as larger),
/// then larger scores first; equal scores are a tie.
fn score_desc(a: &Option<f64>, b: &Option<f64>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => y.partial_cmp(x).unwrap_or(Ordering::Equal),
    }
}

/// The occurrence the prefetch `Occurrence.filter(get_occurrence_filters(P))[:1]` shows: the
/// first after PostgreSQL's quicksort of the candidates (heap order) by score, ties included.
pub(super) fn example_id(candidates: &[(i64, Option<f64>)]) -> Option<i64> {
    let mut rows = candidates.to_vec();
    pg_qsort(&mut rows, |a, b| score_desc(&a.1, &b.1));
    rows.first().map(|r| r.0)
}

/// `occurrences`: `[]` or the one example occurrence of `taxon` in the scope.
pub(super) async fn occurrences(
    e: &Endpoints<'_>,
    project: i64,
    scope: &Scope,
    taxon: i64,
    determination: &Value,
) -> Result<Value> {
    let args = [
        ("taxon", Arg::Int(taxon)),
        ("project", Arg::Int(project)),
        ("occ_filters", Arg::Sql(&scope.occ_filters)),
        ("collection", Arg::Int(scope.collection.unwrap_or(0))),
    ];
    let sql = match scope.collection {
        Some(_) => e.sql("taxa_detail.example_candidates_collection", &args),
        None => e.sql("taxa_detail.example_candidates", &args[..3]),
    };
    let candidates: Vec<(i64, Option<f64>)> = e
        .rows(&sql)
        .await?
        .iter()
        .filter_map(|r| Some((r.i64("id")?, r.f64("determination_score"))))
        .collect();
    let Some(id) = example_id(&candidates) else {
        return Ok(json!([]));
    };
    let sql = e.sql("taxa_detail.example", &[("occurrence", Arg::Int(id))]);
    let rows = e.rows(&sql).await?;
    Ok(match rows.first() {
        Some(r) => json!([occurrence(e, r, determination)]),
        None => json!([]),
    })
}

/// `TaxonOccurrenceNestedSerializer` of the example row.
fn occurrence(e: &Endpoints<'_>, r: &Row, determination: &Value) -> Value {
    let tz = e.engine.config.time_zone;
    let id = r.i64("id").unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("details".into(), e.link("occurrences", id));
    let deployment = match r.i64("deployment_id") {
        Some(d) => {
            let model = match r.i64("deployment_project_id") {
                Some(_) => Model::Deployment,
                None => Model::ProjectlessDeployment,
            };
            json!({"id": d, "name": r.get("deployment_name").cloned().unwrap_or(Value::Null),
                   "details": e.link("deployments", d),
                   "user_permissions": e.permissions(model, false)})
        }
        None => Value::Null,
    };
    m.insert("deployment".into(), deployment);
    let event = match (r.i64("event_id"), r.i64("event_start")) {
        (Some(ev), Some(start)) => {
            let end = r.i64("event_end");
            json!({"id": ev, "name": event_name(start, end, tz), "details": e.link("events", ev),
                   "date_label": date_label(start, end, tz),
                   "user_permissions": e.permissions(Model::Event, false)})
        }
        _ => Value::Null,
    };
    m.insert("event".into(), event);
    m.insert(
        "determination_score".into(),
        json!(r.f64("determination_score")),
    );
    m.insert("determination".into(), determination.clone());
    let best = match r.i64("bd_id") {
        Some(d) => json!({
            "id": d,
            "url": media_url(r.str("bd_path"), &e.engine.config.media_url),
            "timestamp": r.get("bd_timestamp").cloned().unwrap_or(Value::Null),
            "details": e.link("detections", d),
            "width": null, "height": null,
            "user_permissions": e.permissions(Model::Detection, false),
        }),
        None => Value::Null,
    };
    m.insert("best_detection".into(), best);
    m.insert(
        "detections_count".into(),
        json!(r.i64("detections_count").unwrap_or(0)),
    );
    let duration = r.i64("duration_us");
    m.insert("duration".into(), json!(duration.map(duration_seconds)));
    m.insert("duration_label".into(), json!(format_timedelta(duration)));
    // Occurrence.first_appearance_timestamp / last_appearance_timestamp: stubs.
    m.insert("first_appearance_timestamp".into(), Value::Null);
    m.insert("last_appearance_timestamp".into(), Value::Null);
    m.insert(
        "user_permissions".into(),
        e.permissions(Model::Occurrence, false),
    );
    Value::Object(m)
}

/// `format_timedelta` of ami/utils/dates.py on a duration in microseconds. A negative one is
/// below an hour, so Python shows its normalised `seconds // 60` (-1500 s: 1415 minutes).
pub(super) fn format_timedelta(us: Option<i64>) -> String {
    match us {
        Some(u) if u < 0 => {
            let seconds = u.div_euclid(1_000_000).rem_euclid(86_400);
            format!("{} minutes", seconds / 60)
        }
        other => duration_label(other),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `summary_data`: the per-day and per-month plots of the taxon's occurrences in the project
/// (score threshold always, no request filters).
pub(super) async fn summary_data(e: &Endpoints<'_>, project: i64, taxon: i64) -> Result<Value> {
    let args = [("project", Arg::Int(project)), ("taxon", Arg::Int(taxon))];
    let days = e.rows(&e.sql("taxa_detail.summary_day", &args)).await?;
    let days: Vec<(Option<(u32, u32)>, i64)> = days
        .iter()
        .map(|r| {
            let md = match (r.i64("month"), r.i64("dom")) {
                (Some(m), Some(d)) => Some((m as u32, d as u32)),
                _ => None,
            };
            (md, r.i64("n").unwrap_or(0))
        })
        .collect();
    let (x, y, tickvals) = per_day(&days);
    let months = e.rows(&e.sql("taxa_detail.summary_month", &args)).await?;
    let mut counts = [0i64; 12];
    for r in &months {
        if let (Some(m @ 1..=12), Some(n)) = (r.i64("month"), r.i64("n")) {
            counts[(m - 1) as usize] = n;
        }
    }
    Ok(json!([
        {"title": "Occurrences per day", "data": {"x": x, "y": y, "tickvals": tickvals}, "type": "scatter"},
        {"title": "Occurrences per month", "data": {"x": MONTHS, "y": counts, "tickvals": MONTHS}, "type": "bar"},
    ]))
}

/// `average_occurrences_per_day` from the (month, day) groups in date order (`None`: the
/// occurrences without an event): labels `"%b %d"` over the year 2000, a later year's count
/// replacing an earlier one's (a dict keyed by label), trimmed to the active span.
pub(super) fn per_day(
    groups: &[(Option<(u32, u32)>, i64)],
) -> (Vec<String>, Vec<i64>, Vec<String>) {
    if groups.is_empty() {
        return (vec![], vec![], vec![]);
    }
    let mut by_label = std::collections::HashMap::new();
    for (md, n) in groups {
        if let Some((m, d)) = md {
            if let Some(name) = MONTHS.get((*m as usize).wrapping_sub(1)) {
                by_label.insert(format!("{name} {d:02}"), *n);
            }
        }
    }
    let start = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    let labels: Vec<String> = start
        .iter_days()
        .take(366)
        .map(|day| format!("{} {:02}", MONTHS[day.month0() as usize], day.day()))
        .collect();
    let mut counts: Vec<i64> = labels
        .iter()
        .map(|l| by_label.get(l).copied().unwrap_or(0))
        .collect();
    let mut labels = labels;
    if let (Some(first), Some(last)) = (
        counts.iter().position(|&c| c > 0),
        counts.iter().rposition(|&c| c > 0),
    ) {
        labels = labels[first..=last].to_vec();
        counts = counts[first..=last].to_vec();
    }
    let ticks = match (labels.first(), labels.last()) {
        (Some(a), Some(b)) => vec![a.clone(), b.clone()],
        _ => vec![],
    };
    (labels, counts, ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_ties_follow_postgres_quicksort_not_lowest_id() {
        // Candidates in id order with two tied at the top score: PostgreSQL's quicksort (median
        // of three, Bentley-McIlroy partition) puts id 9 first, not the lower id 3 (the order
        // td_work/pgsort.py, the Python emulation checked on the fixture, gives).
        let c: Vec<(i64, Option<f64>)> = [0.9, 0.9, 1.0, 0.5, 0.9, 0.7, 0.2, 0.9, 1.0]
            .iter()
            .enumerate()
            .map(|(i, s)| (i as i64 + 1, Some(*s)))
            .collect();
        assert_eq!(example_id(&c), Some(9));
        let mut all = c.clone();
        pg_qsort(&mut all, |a, b| score_desc(&a.1, &b.1));
        let ids: Vec<i64> = all.iter().map(|r| r.0).collect();
        assert_eq!(ids, vec![9, 3, 1, 5, 2, 8, 6, 4, 7]);
        // A NULL score sorts first (DESC puts NULLs first).
        let mut with_null = c.clone();
        with_null.push((10, None));
        assert_eq!(example_id(&with_null), Some(10));
        assert_eq!(example_id(&[]), None);
    }

    #[test]
    fn negative_durations_show_python_normalised_minutes() {
        assert_eq!(format_timedelta(Some(-1_500_000_000)), "1415 minutes");
        assert_eq!(format_timedelta(Some(4_500_000_000)), "1 hours 15 min");
        assert_eq!(format_timedelta(Some(0)), "");
        assert_eq!(format_timedelta(None), "");
    }

    #[test]
    fn per_day_keeps_the_later_year_and_trims_to_the_active_span() {
        let groups = vec![
            (Some((6, 10)), 3),
            (Some((6, 12)), 1),
            (Some((6, 10)), 5),
            (None, 2),
        ];
        let (x, y, t) = per_day(&groups);
        assert_eq!(x, vec!["Jun 10", "Jun 11", "Jun 12"]);
        assert_eq!(y, vec![5, 0, 1]);
        assert_eq!(t, vec!["Jun 10", "Jun 12"]);
        // Only event-less occurrences: all 366 days, all zero.
        let (x, y, t) = per_day(&[(None, 2)]);
        assert_eq!((x.len(), y.iter().sum::<i64>()), (366, 0));
        assert_eq!(t, vec!["Jan 01", "Dec 31"]);
        assert_eq!(per_day(&[]), (vec![], vec![], vec![]));
    }
}
