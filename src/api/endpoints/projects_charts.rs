//! A project's charts: `GET /api/v2/projects/<id>/charts/` and the detail's `summary_data`
//! (Antenna `Project.summary_data`, `ami/main/charts.py`): six plotly plots computed with the
//! project's default filters always on (the chart functions get no request), in the named
//! fragments `projects.*` of `queries/projects.sql`. Rust only averages, rounds, rotates the
//! hours to the night and labels them, and picks the top taxa as PostgreSQL's sort does.

use crate::api::endpoints::pg_sort::pg_top_n;
use crate::api::endpoints::Endpoints;
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::pyfmt::py_round;
use serde_json::{json, Value};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Project.summary_data()` of `project`.
pub async fn summary_data(e: &Endpoints<'_>, project: i64) -> Result<Value> {
    let p = || ("project", Arg::Int(project));
    let defaults = e.sql("defaults", &[p()]);
    let d = || ("defaults", Arg::Sql(&defaults));
    let captures_hour = e.rows(&e.sql("projects.captures_per_hour", &[p()])).await?;
    let captures_month = e
        .rows(&e.sql("projects.captures_per_month", &[p()]))
        .await?;
    let detections_hour = e
        .rows(&e.sql("projects.detections_per_hour", &[p()]))
        .await?;
    let occurrences_month = e
        .rows(&e.sql("projects.occurrences_per_month", &[p(), d()]))
        .await?;
    let taxa = e.rows(&e.sql("projects.top_taxa", &[p()])).await?;
    Ok(json!([
        {"id": "captures", "title": "Captures", "plots": [
            per_hour(&captures_hour, "Average captures per hour"),
            per_month(&captures_month, "n", "Captures per month"),
        ]},
        {"id": "occurrences", "title": "Occurrences", "plots": [
            per_hour(&detections_hour, "Average detections per hour"),
            per_month(&occurrences_month, "occurrences", "Occurrences per month"),
        ]},
        {"id": "taxa", "title": "Taxa", "plots": [
            top_taxa(&taxa),
            per_month(&occurrences_month, "species", "Unique species per month"),
        ]},
    ]))
}

/// `captures_per_hour` / `detections_per_hour`: per local hour (rows ascending by hour), the
/// mean count over the dates with that hour, `round(total / days, 0)` (a float), the hours
/// rotated to start at the night (`shift_to_nighttime`) and labelled `%-I:00 %p`.
fn per_hour(rows: &[Row], title: &str) -> Value {
    let mut hours = Vec::new();
    let mut averages = Vec::new();
    for r in rows {
        let (Some(hour), Some(total), Some(days)) = (r.i64("hour"), r.i64("total"), r.i64("days"))
        else {
            continue;
        };
        if days > 0 {
            hours.push(hour);
            averages.push(py_round(total as f64 / days as f64, 0));
        }
    }
    let (hours, averages) = shift_to_nighttime(hours, averages);
    let labels: Vec<String> = hours.iter().map(|&h| hour_label(h)).collect();
    let ticktext: Vec<String> = match (labels.first(), labels.last()) {
        (Some(first), Some(last)) => vec![first.clone(), last.clone()],
        _ => vec![],
    };
    json!({"title": title, "data": {"x": labels, "y": averages, "ticktext": ticktext}, "type": "bar"})
}

/// `ami/utils/dates.shift_to_nighttime`: rotate both lists to start at the first hour after
/// noon (no rotation when there is none).
pub fn shift_to_nighttime<T>(mut hours: Vec<i64>, mut values: Vec<T>) -> (Vec<i64>, Vec<T>) {
    let split = hours.iter().position(|&h| h > 12).unwrap_or(0);
    hours.rotate_left(split);
    let n = values.len();
    values.rotate_left(split.min(n));
    (hours, values)
}

/// Python's `datetime.strptime(str(h), "%H").strftime("%-I:00 %p")`.
pub fn hour_label(hour: i64) -> String {
    let twelve = match hour.rem_euclid(12) {
        0 => 12,
        h => h,
    };
    let half = if hour.rem_euclid(24) < 12 { "AM" } else { "PM" };
    format!("{twelve}:00 {half}")
}

/// A per-month bar: 12 counts from the rows' `month` (1–12) and `key`, 0 where no row.
fn per_month(rows: &[Row], key: &str, title: &str) -> Value {
    let mut counts = [0i64; 12];
    for r in rows {
        if let (Some(m), Some(n)) = (r.i64("month"), r.i64(key)) {
            if (1..=12).contains(&m) {
                counts[(m - 1) as usize] = n;
            }
        }
    }
    json!({"title": title, "data": {"x": MONTHS, "y": counts, "tickvals": MONTHS}, "type": "bar"})
}

/// `project_top_taxa`: `.order_by("-occurrence_count")[:10]` as PostgreSQL sorts (rows in
/// taxon id order), then reversed: counts on x, names on y.
fn top_taxa(rows: &[Row]) -> Value {
    let candidates: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.i64("occurrence_count").unwrap_or(0),
                r.str("name").unwrap_or(""),
            )
        })
        .collect();
    let mut top = pg_top_n(&candidates, 10, |a, b| b.0.cmp(&a.0));
    top.reverse();
    let counts: Vec<i64> = top.iter().map(|t| t.0).collect();
    let names: Vec<&str> = top.iter().map(|t| t.1).collect();
    json!({"title": "Top species observed", "data": {"x": counts, "y": names}, "type": "bar", "orientation": "h"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_rotate_to_the_night_and_label_like_strftime() {
        let (h, v) = shift_to_nighttime(vec![0, 1, 2, 21, 22], vec![1, 2, 3, 4, 5]);
        assert_eq!((h, v), (vec![21, 22, 0, 1, 2], vec![4, 5, 1, 2, 3]));
        let (h, _) = shift_to_nighttime(vec![0, 12, 13], vec![(); 3]);
        assert_eq!(h, vec![13, 0, 12]);
        let (h, _) = shift_to_nighttime(vec![1, 2], vec![(); 2]);
        assert_eq!(h, vec![1, 2]);
        let labels: Vec<String> = [0, 1, 12, 20].iter().map(|&h| hour_label(h)).collect();
        assert_eq!(labels, ["12:00 AM", "1:00 AM", "12:00 PM", "8:00 PM"]);
    }

    /// The tie orders of the fixture's project charts (tests/fixtures/antenna-oracle2
    /// projects.jsonl.gz): P1 has 23 candidates (bounded heap), P3 18 (quicksort, which puts
    /// taxon 20 before 15 at count 10 and 8 before 13 at count 12). Rows are (count, taxon id)
    /// in taxon id order, as `projects.top_taxa` gives them.
    #[test]
    fn top_taxa_ties_follow_postgresql_sort() {
        let desc = |a: &(i64, i64), b: &(i64, i64)| b.0.cmp(&a.0);
        let ids = |rows: Vec<(i64, i64)>| rows.iter().map(|t| t.1).collect::<Vec<_>>();
        let p1: Vec<(i64, i64)> = vec![
            (13, 1),
            (0, 2),
            (36, 6),
            (126, 7),
            (102, 8),
            (21, 9),
            (119, 10),
            (1, 11),
            (15, 12),
            (111, 13),
            (22, 14),
            (119, 15),
            (19, 19),
            (111, 20),
            (30, 21),
            (133, 22),
            (31, 24),
            (109, 25),
            (122, 26),
            (0, 28),
            (0, 29),
            (1, 30),
            (1, 31),
        ];
        let top = pg_top_n(&p1, 10, desc);
        assert_eq!(ids(top), [22, 7, 26, 10, 15, 13, 20, 25, 8, 6]);
        let p3: Vec<(i64, i64)> = vec![
            (3, 1),
            (3, 6),
            (15, 7),
            (12, 8),
            (3, 9),
            (16, 10),
            (3, 12),
            (12, 13),
            (3, 14),
            (10, 15),
            (10, 20),
            (1, 21),
            (13, 22),
            (5, 24),
            (20, 25),
            (14, 26),
            (1, 28),
            (6, 29),
        ];
        let top = pg_top_n(&p3, 10, desc);
        assert_eq!(ids(top), [25, 10, 7, 26, 22, 8, 13, 20, 15, 29]);
        assert!(pg_top_n(&Vec::<(i64, i64)>::new(), 10, desc).is_empty());
    }
}
