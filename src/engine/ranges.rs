//! An export's ranges of occurrence ids, and the cursors that take each range's related rows
//! in step with the export's occurrences (see `related::RelatedStreams`).

use crate::error::{Error, Result};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

/// Rows (occurrences, detections and classifications) whose related rows an export reads in
/// one range: each relation's sort then holds one range's rows, not the project's. At SF1's
/// proportions (about 11 rows an occurrence) that is 45,000 occurrences, so five ranges for
/// project 1's 200,000 (four ranges peaked 50–80 MB above five); a snapshot whose occurrences
/// bring more detections gets ranges of fewer occurrences ([`Density`]).
/// SF1, project 1 (200k occurrences), the detail export's peak: 750–770 MB in one range,
/// 500–550 MB in four, 430–490 MB in eight (the full list view: 590–630 MB), measured before
/// the next range was read ahead, which holds two ranges' rows at once (35–85 MB more).
pub const RANGE_ROWS: i64 = 500_000;

/// How many rows an occurrence brings, on average over the snapshot's tables (their row
/// counts, which Parquet footers hold): ranges and chunks of an export are sized by it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Density {
    /// Rows an occurrence brings: itself, its detections and their classifications.
    pub per_occurrence: f64,
    /// Rows a detection brings: itself and its classifications.
    pub per_detection: f64,
}

impl Density {
    /// The generator's proportions (SF1: 2.5 detections and 7.45 classifications an
    /// occurrence), which the row budgets are set for.
    pub const REFERENCE: Density = Density {
        per_occurrence: 11.0,
        per_detection: 4.0,
    };

    /// From the snapshot's row counts (at least one row each).
    pub fn of(occurrences: i64, detections: i64, classifications: i64) -> Density {
        let (o, d, c) = (
            occurrences.max(1) as f64,
            detections.max(0) as f64,
            classifications.max(0) as f64,
        );
        Density {
            per_occurrence: 1.0 + (d + c) / o,
            per_detection: 1.0 + c / d.max(1.0),
        }
    }

    /// Occurrences in a range of `rows` rows (at least one).
    pub fn occurrences_in(&self, rows: i64) -> i64 {
        ((rows as f64 / self.per_occurrence) as i64).max(1)
    }
}

/// At most this many ranges: each range scans the snapshot's detections and classifications
/// again (about 0.3 s of CPU per range at SF1), so a big project's ranges grow instead.
pub const MAX_RANGES: i64 = 16;

/// `lowest..=highest` cut into inclusive ranges of equal width, ascending: as many as `count`
/// occurrences need at `per` a range, at least one and at most MAX_RANGES.
pub fn ranges(
    lowest: i64,
    highest: i64,
    count: i64,
    per: i64,
) -> std::collections::VecDeque<(i64, i64)> {
    let (count, per) = (count.max(1) as i128, per.max(1) as i128);
    let n = ((count + per - 1) / per).min(MAX_RANGES as i128);
    let width = ((highest as i128 - lowest as i128 + 1).max(1) + n - 1) / n;
    let mut out = std::collections::VecDeque::new();
    let mut from = lowest as i128;
    while from <= highest as i128 {
        let through = (from + width - 1).min(highest as i128);
        out.push_back((from as i64, through as i64));
        from = through + 1;
    }
    out
}

/// Ranges of occurrence ids ([`occurrence_ranges`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OccurrenceRanges {
    /// `[lo, hi)`, ascending; the first and last open-ended ([`split`]).
    pub cuts: Vec<(i64, i64)>,
    /// Whether occurrences in scope have a NULL id, which no range's condition keeps unless
    /// one says so (`range_jobs`).
    pub null_ids: bool,
}

/// The `[lo, hi)` ranges of `main_occurrence.id` holding about `per` rows each (occurrences
/// weighed by the detections and classifications they bring, from the tables' row counts),
/// their number rounded up to a multiple of `slots` (range jobs run `slots` at a time: 5
/// ranges on 2 slots leave one slot idle while the fifth runs; fewer when the scope holds
/// few ids); cut between the lowest and highest ids of the occurrences `scope` (a condition
/// over `main_occurrence`) keeps.
pub async fn occurrence_ranges(
    ctx: &SessionContext,
    per: i64,
    slots: i64,
    scope: &str,
) -> Result<OccurrenceRanges> {
    let batches = ctx
        .sql(&format!(
            "SELECT min(id) FILTER (WHERE {scope}) AS lo, max(id) FILTER (WHERE {scope}) AS hi, \
             count(*) FILTER (WHERE {scope}) AS n, count(*) AS occurrences, \
             count(*) FILTER (WHERE ({scope}) AND id IS NULL) AS null_ids, \
             (SELECT count(*) FROM main_detection) AS detections, \
             (SELECT count(*) FROM main_classification) AS classifications \
             FROM main_occurrence"
        ))
        .await?
        .collect()
        .await?;
    let row = crate::engine::rows::to_rows(&batches)?;
    let get = |k: &str| row.first().and_then(|r| r.get(k)).and_then(|v| v.as_i64());
    let n = get("n").unwrap_or(0);
    let density = Density::of(
        get("occurrences").unwrap_or(0),
        get("detections").unwrap_or(0),
        get("classifications").unwrap_or(0),
    );
    let slots = slots.max(1);
    let parts = (n + density.occurrences_in(per) - 1) / density.occurrences_in(per);
    let parts = ((parts.max(1) + slots - 1) / slots) * slots;
    let per = (n + parts - 1) / parts;
    Ok(OccurrenceRanges {
        cuts: split(get("lo"), get("hi"), n, per),
        null_ids: get("null_ids").unwrap_or(0) > 0,
    })
}

/// Ranges covering every i64, cut between `lo` and `hi` (ids taken as evenly spread) into
/// parts of about `per` of the `n` ids; the first and last are open-ended.
pub fn split(lo: Option<i64>, hi: Option<i64>, n: i64, per: i64) -> Vec<(i64, i64)> {
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return vec![(i64::MIN, i64::MAX)];
    };
    // In i128: ids at the ends of i64 (±2^63) must neither overflow nor wrap.
    let (lo, hi, n, per) = (lo as i128, hi as i128, n as i128, per.max(1) as i128);
    let parts = ((n + per - 1) / per).clamp(1, (hi - lo + 1).max(1));
    let step = (hi - lo) / parts + 1;
    let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let mut out: Vec<(i64, i64)> = Vec::new();
    for k in 0..parts {
        let (from, to) = (lo + k * step, lo + (k + 1) * step);
        // A range starting past the highest id holds none; one ending at 2^63 - 1 is the
        // last (that end also marks the open end: a range after it would repeat the id).
        if from > hi {
            break;
        }
        out.push((clamp(from), clamp(to)));
        if clamp(to) == i64::MAX {
            break;
        }
    }
    out.first_mut().expect("one range").0 = i64::MIN;
    out.last_mut().expect("one range").1 = i64::MAX;
    out
}

/// The condition keeping `col` in `[lo, hi)`; the first and last ranges of [`split`] are
/// open-ended (an id of ±2^63 is kept too), and the whole line needs none.
pub fn within(col: &str, (lo, hi): (i64, i64)) -> Option<String> {
    match (lo != i64::MIN, hi != i64::MAX) {
        (true, true) => Some(format!("{col} >= {lo} AND {col} < {hi}")),
        (true, false) => Some(format!("{col} >= {lo}")),
        (false, true) => Some(format!("{col} < {hi}")),
        (false, false) => None,
    }
}

/// A relation's rows of one range, ordered by `occurrence_id`, taken up to a given occurrence
/// at a time.
pub struct Cursor {
    pub view: &'static str,
    pub batches: std::collections::VecDeque<RecordBatch>,
    /// The first row of `batches[0]` not taken.
    pub start: usize,
}

impl Cursor {
    /// The next rows whose `occurrence_id` is at most `last`.
    pub fn through(&mut self, last: i64) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        while let Some(batch) = self.batches.front() {
            let ids = batch
                .column_by_name("occurrence_id")
                .ok_or_else(|| Error::Query(format!("{}: no occurrence_id column", self.view)))?;
            let ids = cast(ids, &DataType::Int64)?;
            let ids = ids.as_primitive::<Int64Type>();
            if datafusion::arrow::array::Array::null_count(ids) > 0 {
                return Err(Error::Query(format!(
                    "{}: NULL occurrence_id in an export's related rows",
                    self.view
                )));
            }
            let start = self.start;
            let end = start + ids.values()[start..].partition_point(|&id| id <= last);
            if end > start {
                out.push(batch.slice(start, end - start));
            }
            if end < batch.num_rows() {
                self.start = end;
                return Ok(out);
            }
            self.batches.pop_front();
            self.start = 0;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rows::to_rows;
    use crate::engine::rows::RowExt;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    /// A cursor over batches of (occurrence_id, tag) rows.
    fn cursor(batches: &[&[(i64, &str)]]) -> Cursor {
        let schema = Arc::new(Schema::new(vec![
            Field::new("occurrence_id", DataType::Int64, false),
            Field::new("tag", DataType::Utf8, false),
        ]));
        let batches = batches
            .iter()
            .map(|rows| {
                let ids = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
                let tags = StringArray::from_iter_values(rows.iter().map(|r| r.1));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(tags)]).unwrap()
            })
            .collect();
        Cursor {
            view: "test",
            batches,
            start: 0,
        }
    }

    fn tags(c: &mut Cursor, last: i64) -> Vec<String> {
        let rows = to_rows(&c.through(last).unwrap()).unwrap();
        rows.iter()
            .map(|r| r.str("tag").unwrap().to_string())
            .collect()
    }

    /// A range holds about RANGE_ROWS rows whatever an occurrence brings: 45,000 occurrences
    /// at SF1's proportions, fewer where each has tens of detections, at least one.
    #[test]
    fn ranges_hold_the_rows_occurrences_bring() {
        let sf1 = Density::of(1_000_000, 2_500_000, 7_450_000);
        assert_eq!(sf1.per_occurrence, 10.95);
        assert_eq!(sf1.per_detection, 3.98);
        assert_eq!(sf1.occurrences_in(RANGE_ROWS), 45_662);
        let long = Density::of(10_000, 2_500_000, 7_500_000);
        assert_eq!(long.per_occurrence, 1001.0);
        assert_eq!(long.occurrences_in(RANGE_ROWS), 499);
        assert_eq!(long.occurrences_in(7), 1);
        // Empty tables (a snapshot of occurrences alone) weigh each occurrence one row.
        let bare = Density::of(0, 0, 0);
        assert_eq!((bare.per_occurrence, bare.per_detection), (1.0, 1.0));
        assert_eq!(bare.occurrences_in(RANGE_ROWS), RANGE_ROWS);
    }

    #[test]
    fn an_exports_ids_are_cut_into_even_ranges_by_its_occurrences() {
        let cut = |lowest, highest, count| Vec::from(ranges(lowest, highest, count, 50_000));
        assert_eq!(cut(5, 5, 1), [(5, 5)]);
        assert_eq!(cut(1, 1_000_000, 50_000), [(1, 1_000_000)]);
        assert_eq!(
            cut(1, 1_000_000, 200_000),
            [
                (1, 250_000),
                (250_001, 500_000),
                (500_001, 750_000),
                (750_001, 1_000_000)
            ]
        );
        // Fewer ids than ranges: one id a range.
        assert_eq!(cut(10, 12, 120_000), [(10, 10), (11, 11), (12, 12)]);
        // A big project: MAX_RANGES ranges, bigger ones.
        assert_eq!(cut(0, 1599, 10_000_000).len(), MAX_RANGES as usize);
        // The whole of i64, without overflow, every id in exactly one range.
        let all = cut(i64::MIN, i64::MAX, 100_000);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].0, all[1].1), (i64::MIN, i64::MAX));
        assert_eq!(all[0].1 + 1, all[1].0);
    }

    #[test]
    fn a_cursor_cuts_each_occurrence_whole_across_batches() {
        let mut c = cursor(&[
            &[(1, "a"), (2, "b"), (2, "c")],
            &[(2, "d"), (5, "e")],
            &[],
            &[(5, "f"), (9, "g"), (12, "h")],
        ]);
        assert_eq!(tags(&mut c, 0), Vec::<String>::new());
        assert_eq!(tags(&mut c, 2), ["a", "b", "c", "d"]);
        assert_eq!(tags(&mut c, 4), Vec::<String>::new());
        assert_eq!(tags(&mut c, 9), ["e", "f", "g"]);
        assert_eq!(tags(&mut c, 100), ["h"]);
        assert_eq!(tags(&mut c, 200), Vec::<String>::new());
    }

    #[test]
    fn ranges_cover_every_id_once() {
        assert_eq!(split(None, None, 0, 10), [(i64::MIN, i64::MAX)]);
        assert_eq!(split(Some(5), Some(5), 1, 10), [(i64::MIN, i64::MAX)]);
        let r = split(Some(1), Some(100), 100, 30);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].0, i64::MIN);
        assert_eq!(r[3].1, i64::MAX);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        // More parts than ids: one id per range at most.
        assert_eq!(split(Some(1), Some(3), 3, 1).len(), 3);
        // Ids at the top of i64 in more ranges than they fill: each id in one range.
        for parts in 1..6 {
            let r = split(Some(i64::MAX - 3), Some(i64::MAX), 3, 3 / parts);
            assert_eq!((r[0].0, r[r.len() - 1].1), (i64::MIN, i64::MAX), "{r:?}");
            for w in r.windows(2) {
                assert!(
                    w[0].0 < w[0].1 && w[0].1 == w[1].0 && w[0].1 != i64::MAX,
                    "{r:?}"
                );
            }
        }
        // Ids at the ends of i64: no overflow, every id covered.
        let r = split(Some(i64::MIN), Some(i64::MAX), 3, 1);
        assert_eq!((r[0].0, r[r.len() - 1].1), (i64::MIN, i64::MAX));
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
    }

    #[tokio::test]
    async fn range_counts_are_multiples_of_the_slots() {
        let ctx = SessionContext::new();
        for sql in [
            "CREATE TABLE main_occurrence AS SELECT id, id % 2 AS project_id FROM (SELECT unnest(range(1, 1001)) AS id)",
            "CREATE TABLE main_detection AS SELECT 1 AS id WHERE false",
            "CREATE TABLE main_classification AS SELECT 1 AS id WHERE false",
        ] {
            ctx.sql(sql).await.unwrap();
        }
        // One row an occurrence: 1,000 rows in ranges of 200 are 5 ranges; on 2 slots, 6.
        let count = |slots, scope: &'static str| {
            let ctx = ctx.clone();
            async move {
                occurrence_ranges(&ctx, 200, slots, scope)
                    .await
                    .unwrap()
                    .cuts
            }
        };
        assert_eq!(count(1, "TRUE").await.len(), 5);
        assert_eq!(count(2, "TRUE").await.len(), 6);
        assert_eq!(count(4, "TRUE").await.len(), 8);
        // Fewer rows than ranges of 200: as many ranges as slots.
        assert_eq!(count(3, "id <= 150").await.len(), 3);
        // A project's 500 occurrences: 3 ranges of 200, on 2 slots 4.
        let r = count(2, "project_id = 1").await;
        assert_eq!((r.len(), r[0].0, r[r.len() - 1].1), (4, i64::MIN, i64::MAX));
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        // The last range is open above.
        assert_eq!(within("id", (5, i64::MAX)).unwrap(), "id >= 5");
        // No occurrence in scope: the whole line.
        assert_eq!(count(2, "id < 0").await, [(i64::MIN, i64::MAX)]);
    }
}
