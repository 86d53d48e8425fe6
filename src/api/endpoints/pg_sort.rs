//! PostgreSQL's in-memory sort, for the nested lists whose Antenna order has ties
//! (`ORDER BY` keys without a tiebreaker): which of the tied rows comes first, and which make
//! a `LIMIT`, is whatever PostgreSQL's sort does with the rows in the order its scan read
//! them. occlens reads the rows in that order (id order: the fixture database was loaded in
//! id order) and sorts them as PostgreSQL 15 does:
//!
//! - `pg_qsort`: `src/include/lib/sort_template.h` (Bentley–McIlroy quicksort with
//!   PostgreSQL's insertion sort below 7 elements and presorted check), the sort of
//!   `tuplesort_performsort` for inputs that fit in memory;
//! - `pg_top_n`: `tuplesort` with a bound (`ORDER BY … LIMIT n`): the quicksort while at
//!   most `2n` rows came in, else the bounded heap (`make_bounded_heap`,
//!   `tuplesort_heap_replace_top`, `sort_bounded_heap`).
//!
//! On the fixture these reproduce every recorded tie order: first-capture detections,
//! deployment example captures, the event and project top-taxa charts, the taxon example
//! occurrence and suggestions.

use std::cmp::Ordering;

/// Sort `a` in place as PostgreSQL's `qsort` with comparator `cmp`.
pub fn pg_qsort<T, F: FnMut(&T, &T) -> Ordering>(a: &mut [T], mut cmp: F) {
    sort(a, &mut cmp);
}

fn med3<T, F: FnMut(&T, &T) -> Ordering>(
    a: &[T],
    i: usize,
    j: usize,
    k: usize,
    cmp: &mut F,
) -> usize {
    if cmp(&a[i], &a[j]).is_lt() {
        if cmp(&a[j], &a[k]).is_lt() {
            j
        } else if cmp(&a[i], &a[k]).is_lt() {
            k
        } else {
            i
        }
    } else if cmp(&a[j], &a[k]).is_gt() {
        j
    } else if cmp(&a[i], &a[k]).is_lt() {
        i
    } else {
        k
    }
}

fn swap_n<T>(a: &mut [T], i: usize, j: usize, n: usize) {
    for t in 0..n {
        a.swap(i + t, j + t);
    }
}

fn sort<T, F: FnMut(&T, &T) -> Ordering>(whole: &mut [T], cmp: &mut F) {
    let mut a = whole;
    loop {
        let n = a.len();
        if n < 7 {
            for pm in 1..n {
                let mut pl = pm;
                while pl > 0 && cmp(&a[pl - 1], &a[pl]).is_gt() {
                    a.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        if (1..n).all(|pm| !cmp(&a[pm - 1], &a[pm]).is_gt()) {
            return;
        }
        let mut pm = n / 2;
        if n > 7 {
            let mut pl = 0;
            let mut pn = n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(a, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(a, pm - d, pm, pm + d, cmp);
                pn = med3(a, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(a, pl, pm, pn, cmp);
        }
        a.swap(0, pm);
        let (mut pa, mut pb) = (1usize, 1usize);
        // pc and pd may step below pb when the right scan finishes: keep them signed.
        let (mut pc, mut pd) = (n as isize - 1, n as isize - 1);
        loop {
            while pb as isize <= pc {
                let r = cmp(&a[pb], &a[0]);
                if r.is_gt() {
                    break;
                }
                if r.is_eq() {
                    a.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let r = cmp(&a[pc as usize], &a[0]);
                if r.is_lt() {
                    break;
                }
                if r.is_eq() {
                    a.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            a.swap(pb, pc as usize);
            pb += 1;
            pc -= 1;
        }
        let pn = n;
        let d1 = pa.min(pb - pa);
        swap_n(a, 0, pb - d1, d1);
        let (pc, pd) = (pc as usize, pd as usize);
        let d1 = (pd - pc).min(pn - pd - 1);
        swap_n(a, pb, pn - d1, d1);
        let d1 = pb - pa;
        let d2 = pd - pc;
        let rest = std::mem::take(&mut a);
        let (left, right) = rest.split_at_mut(pn - d2);
        let left = &mut left[..d1];
        if d1 <= d2 {
            if d1 > 1 {
                sort(left, cmp);
            }
            if d2 <= 1 {
                return;
            }
            a = right;
        } else {
            if d2 > 1 {
                sort(right, cmp);
            }
            if d1 <= 1 {
                return;
            }
            a = left;
        }
    }
}

/// The first `bound` rows of `rows` (in input order) as `ORDER BY … LIMIT bound` returns
/// them from PostgreSQL's bounded tuplesort.
pub fn pg_top_n<T: Clone, F: FnMut(&T, &T) -> Ordering>(
    rows: &[T],
    bound: usize,
    mut cmp: F,
) -> Vec<T> {
    if bound == 0 {
        return Vec::new();
    }
    if rows.len() <= 2 * bound {
        let mut all = rows.to_vec();
        pg_qsort(&mut all, &mut cmp);
        all.truncate(bound);
        return all;
    }
    // The heap runs in the reversed direction: its top is the largest row so far.
    let mut rcmp = |x: &T, y: &T| cmp(x, y).reverse();
    let mut heap: Vec<T> = Vec::with_capacity(bound);
    for row in rows {
        if heap.len() < bound {
            // tuplesort_heap_insert: sift up.
            heap.push(row.clone());
            let mut j = heap.len() - 1;
            while j > 0 {
                let i = (j - 1) >> 1;
                if !rcmp(row, &heap[i]).is_lt() {
                    break;
                }
                heap.swap(i, j);
                j = i;
            }
        } else if rcmp(row, &heap[0]).is_gt() {
            replace_top(&mut heap, bound, row.clone(), &mut rcmp);
        }
    }
    // sort_bounded_heap: move the top to the end, shrinking the heap.
    let mut m = heap.len();
    while m > 1 {
        m -= 1;
        let top = heap[0].clone();
        let last = heap[m].clone();
        replace_top(&mut heap, m, last, &mut rcmp);
        heap[m] = top;
    }
    heap
}

/// tuplesort_heap_replace_top over the first `n` slots of `heap`.
fn replace_top<T: Clone, F: FnMut(&T, &T) -> Ordering>(
    heap: &mut [T],
    n: usize,
    tuple: T,
    rcmp: &mut F,
) {
    let mut i = 0;
    loop {
        let mut j = 2 * i + 1;
        if j >= n {
            break;
        }
        if j + 1 < n && rcmp(&heap[j], &heap[j + 1]).is_gt() {
            j += 1;
        }
        if !rcmp(&tuple, &heap[j]).is_gt() {
            break;
        }
        heap[i] = heap[j].clone();
        i = j;
    }
    heap[i] = tuple;
}

/// `a` before `b` for `ASC NULLS LAST` (`desc`: `DESC NULLS FIRST`, PostgreSQL's defaults).
pub fn nulls_last<K: Ord>(a: Option<K>, b: Option<K>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deployment 2 of the fixture: 80 captures in id order whose sizes repeat in fours;
    /// Antenna's `ORDER BY size DESC` top 10 was 140, 160, 180, 200, 179, 139, 199, 159, 198, 178.
    #[test]
    fn quicksort_ties_follow_postgres() {
        // Sizes of captures 121..=200 (deployment 2): 1000000 + (id - 1) % 20.
        let rows: Vec<(i64, i64)> = (121..=200)
            .map(|id| (id, 1_000_000 + (id - 1) % 20))
            .collect();
        let mut sorted = rows.clone();
        pg_qsort(&mut sorted, |a, b| b.1.cmp(&a.1));
        let ids: Vec<i64> = sorted.iter().take(10).map(|r| r.0).collect();
        assert_eq!(ids, vec![140, 160, 180, 200, 179, 139, 199, 159, 198, 178]);
        // A sort: every size is in order.
        assert!(sorted.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn quicksort_sorts_like_a_sort() {
        let mut v: Vec<u32> = (0..500).map(|i| (i * 7919 + 13) % 101).collect();
        let mut expected = v.clone();
        expected.sort();
        pg_qsort(&mut v, |a, b| a.cmp(b));
        assert_eq!(v, expected);
    }

    #[test]
    fn bounded_heap_keeps_the_top_and_sorts_it() {
        let rows: Vec<(u32, u32)> = (0..50).map(|i| (i, (i * 37) % 23)).collect();
        let top = pg_top_n(&rows, 10, |a, b| b.1.cmp(&a.1));
        assert_eq!(top.len(), 10);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        let mut all: Vec<u32> = rows.iter().map(|r| r.1).collect();
        all.sort_by(|a, b| b.cmp(a));
        assert_eq!(
            top.iter().map(|r| r.1).collect::<Vec<_>>(),
            all[..10].to_vec()
        );
    }
}
