//! A project's charts: `GET /api/v2/projects/<id>/charts/` and the detail's `summary_data`
//! (Antenna `Project.summary_data`, `ami/main/charts.py`): six plotly plots computed with the
//! project's default filters always on (the chart functions get no request), in the named
//! fragments `projects.*` of `queries/projects.sql`. Rust only averages, rounds, rotates the
//! hours to the night and labels them, and picks the top taxa as PostgreSQL's sort does.

use crate::api::endpoints::Endpoints;
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::pyfmt::py_round;
use serde_json::{json, Value};
use std::cmp::Ordering;

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
        .rows(&e.sql("projects.detections_per_hour", &[p(), d()]))
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
    let mut top = pg_sort_limit(candidates, |a, b| b.0.cmp(&a.0), Some(10));
    top.reverse();
    let counts: Vec<i64> = top.iter().map(|t| t.0).collect();
    let names: Vec<&str> = top.iter().map(|t| t.1).collect();
    json!({"title": "Top species observed", "data": {"x": counts, "y": names}, "type": "bar", "orientation": "h"})
}

/// PostgreSQL 15's in-memory sort of `rows` (in their input order) by `cmp`, keeping the
/// first `bound` (`ORDER BY … LIMIT bound`): a bounded heap when there are more than twice
/// `bound` rows, else its quicksort (`src/include/lib/sort_template.h`). Rows that `cmp`
/// calls equal come out in the order PostgreSQL gives them, which is not the input order.
pub fn pg_sort_limit<T, F>(rows: Vec<T>, cmp: F, bound: Option<usize>) -> Vec<T>
where
    F: Fn(&T, &T) -> Ordering,
{
    match bound {
        Some(k) if rows.len() > 2 * k => bounded_heap(rows, &cmp, k),
        _ => {
            let mut rows = rows;
            let n = rows.len();
            pg_qsort(&mut rows, 0, n, &cmp);
            if let Some(k) = bound {
                rows.truncate(k);
            }
            rows
        }
    }
}

/// `sort_template.h`'s quicksort of `a[lo..lo + n]` (Bentley–McIlroy with PostgreSQL's
/// presorted check and insertion sort below 7 elements).
fn pg_qsort<T, F: Fn(&T, &T) -> Ordering>(a: &mut [T], mut lo: usize, mut n: usize, cmp: &F) {
    loop {
        if n < 7 {
            for pm in lo + 1..lo + n {
                let mut pl = pm;
                while pl > lo && cmp(&a[pl - 1], &a[pl]) == Ordering::Greater {
                    a.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        if (lo + 1..lo + n).all(|pm| cmp(&a[pm - 1], &a[pm]) != Ordering::Greater) {
            return;
        }
        let med3 = |a: &[T], x: usize, y: usize, z: usize| -> usize {
            if cmp(&a[x], &a[y]) == Ordering::Less {
                if cmp(&a[y], &a[z]) == Ordering::Less {
                    y
                } else if cmp(&a[x], &a[z]) == Ordering::Less {
                    z
                } else {
                    x
                }
            } else if cmp(&a[y], &a[z]) == Ordering::Greater {
                y
            } else if cmp(&a[x], &a[z]) == Ordering::Less {
                x
            } else {
                z
            }
        };
        let mut pm = lo + n / 2;
        if n > 7 {
            let mut pl = lo;
            let mut pn = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(a, pl, pl + d, pl + 2 * d);
                pm = med3(a, pm - d, pm, pm + d);
                pn = med3(a, pn - 2 * d, pn - d, pn);
            }
            pm = med3(a, pl, pm, pn);
        }
        a.swap(lo, pm);
        let (mut pa, mut pb) = (lo + 1, lo + 1);
        let (mut pc, mut pd) = (lo + n - 1, lo + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&a[pb], &a[lo]);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    a.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&a[pc], &a[lo]);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    a.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            a.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = lo + n;
        let d1 = (pa - lo).min(pb - pa);
        for i in 0..d1 {
            a.swap(lo + i, pb - d1 + i);
        }
        let d1 = (pd - pc).min(pn - pd - 1);
        for i in 0..d1 {
            a.swap(pb + i, pn - d1 + i);
        }
        let (d1, d2) = (pb - pa, pd - pc);
        if d1 <= d2 {
            if d1 > 1 {
                pg_qsort(a, lo, d1, cmp);
            }
            if d2 <= 1 {
                return;
            }
            lo = pn - d2;
            n = d2;
        } else {
            if d2 > 1 {
                pg_qsort(a, pn - d2, d2, cmp);
            }
            if d1 <= 1 {
                return;
            }
            n = d1;
        }
    }
}

/// `tuplesort`'s bounded heap (`make_bounded_heap`, `TSS_BOUNDED`, `sort_bounded_heap`): a
/// max-heap of the `k` best rows under the reversed comparator, then unheapified in place.
fn bounded_heap<T, F: Fn(&T, &T) -> Ordering>(rows: Vec<T>, cmp: &F, k: usize) -> Vec<T> {
    if k == 0 {
        return Vec::new();
    }
    let r = |x: &T, y: &T| cmp(x, y).reverse();
    let mut heap: Vec<T> = Vec::with_capacity(k);
    for t in rows {
        if heap.len() < k {
            heap.push(t);
            let mut j = heap.len() - 1;
            while j > 0 {
                let i = (j - 1) / 2;
                if r(&heap[j], &heap[i]) != Ordering::Less {
                    break;
                }
                heap.swap(i, j);
                j = i;
            }
        } else if r(&t, &heap[0]) == Ordering::Greater {
            heap[0] = t;
            sift_down(&mut heap, k, &r);
        }
    }
    let mut n = heap.len();
    while n > 1 {
        n -= 1;
        heap.swap(0, n);
        sift_down(&mut heap, n, &r);
    }
    heap
}

/// `tuplesort_heap_replace_top` for the element at 0 over `heap[..n]`.
fn sift_down<T, R: Fn(&T, &T) -> Ordering>(heap: &mut [T], n: usize, r: &R) {
    let mut i = 0;
    loop {
        let mut j = 2 * i + 1;
        if j >= n {
            break;
        }
        if j + 1 < n && r(&heap[j], &heap[j + 1]) == Ordering::Greater {
            j += 1;
        }
        if r(&heap[i], &heap[j]) != Ordering::Greater {
            break;
        }
        heap.swap(i, j);
        i = j;
    }
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
        let top = pg_sort_limit(p1, desc, Some(10));
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
        let top = pg_sort_limit(p3, desc, Some(10));
        assert_eq!(ids(top), [25, 10, 7, 26, 22, 8, 13, 20, 15, 29]);
        assert!(pg_sort_limit(Vec::<(i64, i64)>::new(), desc, Some(10)).is_empty());
    }
}
