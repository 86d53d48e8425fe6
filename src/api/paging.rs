//! DRF's `LimitOffsetPagination` numbers: `limit` and `offset` read as Python's `int()` reads
//! them (without bound), the page they select, and the `previous` link's offset, exact beyond
//! 64 bits.

use crate::api::params::{py_ascii_number, py_int, PyInt};

/// An `offset` or `limit` beyond i64 (Python's `int` has no bound; DRF keeps it): past every
/// row, or every row. It stays a valid SQL OFFSET or LIMIT.
pub const PAST_END: usize = i64::MAX as usize;

/// DRF's `_positive_int` of `offset`: Python's `int()` of the text, 0 when it fails or is
/// negative, [`PAST_END`] beyond i64.
pub fn offset_value(raw: Option<&str>) -> usize {
    match raw.and_then(py_int) {
        Some(PyInt::Int(o)) if o >= 0 => o as usize,
        Some(PyInt::Big) if raw.and_then(big_digits).is_some() => PAST_END,
        _ => 0,
    }
}

/// DRF's `_positive_int(..., strict=True)` of `limit`: Python's `int()` of the text when
/// positive ([`PAST_END`] beyond i64, as Antenna sets no maximum: see [`page_query_fails`]), else `default`.
pub fn limit_value(raw: Option<&str>, default: usize) -> usize {
    match raw.and_then(py_int) {
        Some(PyInt::Int(l)) if l > 0 => l as usize,
        Some(PyInt::Big) if raw.and_then(big_digits).is_some() => PAST_END,
        _ => default,
    }
}

/// Whether Antenna's page query fails for a `limit` of `raw` on a page of `count` rows from
/// `raw_offset`: DRF keeps Python's int, Django writes it into the SQL as `LIMIT <digits>`,
/// and PostgreSQL refuses a limit beyond bigint ("bigint out of range": an HTTP 500). The
/// page is queried only when there are rows and the offset is not past them.
pub fn page_query_fails(raw: Option<&str>, raw_offset: Option<&str>, count: usize) -> bool {
    raw.and_then(big_digits).is_some() && count > 0 && offset_value(raw_offset) <= count
}

/// The decimal digits of a positive Python int beyond i64 as `str(int(raw))` writes them (no
/// sign, underscores or leading zeros); `None` for anything else.
fn big_digits(raw: &str) -> Option<String> {
    if py_int(raw) != Some(PyInt::Big) {
        return None;
    }
    let text = py_ascii_number(raw);
    if text.starts_with('-') {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    Some(digits.trim_start_matches('0').to_string())
}

/// The `offset` of DRF's previous link (`offset - limit`, `None` when that is not positive),
/// exact for an offset or a limit beyond i64 (their decimal digits).
pub fn previous_offset(
    raw_offset: Option<&str>,
    offset: usize,
    raw_limit: Option<&str>,
    limit: usize,
) -> Option<String> {
    decimal_minus(&text(raw_offset, offset), &text(raw_limit, limit))
}

/// How DRF writes `value` (read from `raw`) into a link: its decimal digits, those of the
/// Python int `raw` holds when it is beyond i64 ([`PAST_END`]).
pub fn text(raw: Option<&str>, value: usize) -> String {
    match raw.and_then(big_digits) {
        Some(digits) if value == PAST_END => digits,
        _ => value.to_string(),
    }
}

/// `a - b` of two decimal numbers without sign or leading zeros, `None` when not positive.
fn decimal_minus(a: &str, b: &str) -> Option<String> {
    use std::cmp::Ordering;
    match a.len().cmp(&b.len()).then_with(|| a.cmp(b)) {
        Ordering::Less | Ordering::Equal => return None,
        Ordering::Greater => {}
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0u8;
    for i in 0..a.len() {
        let x = a[a.len() - 1 - i] - b'0';
        let y = if i < b.len() {
            b[b.len() - 1 - i] - b'0'
        } else {
            0
        } + borrow;
        if x >= y {
            out.push(x - y);
            borrow = 0;
        } else {
            out.push(x + 10 - y);
            borrow = 1;
        }
    }
    let text: String = out.iter().rev().map(|d| char::from(b'0' + d)).collect();
    Some(text.trim_start_matches('0').to_string())
}

/// A page's size and start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: usize,
    pub offset: usize,
}

impl Paging {
    /// Whether `LimitOffsetPagination.paginate_queryset` runs the page query for `count`
    /// rows (it returns `[]` unread when there are none or the offset is past them): where an
    /// error Django raises only when the page is read (a FieldError) surfaces.
    pub fn reads_page(&self, count: usize) -> bool {
        count > 0 && self.offset <= count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::Params;
    use serde_json::Value;

    #[test]
    fn limits_beyond_i64_are_kept_with_exact_links() {
        // DRF keeps Python's int, and the links write it back.
        let p = Params::parse("/api/v2/taxa/?limit=%2B0_99999999999999999999&offset=7");
        let paging = p.paging(20, None);
        assert_eq!(
            paging,
            Paging {
                limit: PAST_END,
                offset: 7
            }
        );
        let e = p.envelope("http://t", paging, 30, vec![]);
        assert_eq!(e["next"], Value::Null);
        assert_eq!(
            e["previous"],
            "http://t/api/v2/taxa/?limit=99999999999999999999"
        );
        // A maximum still caps it; a negative one is the default.
        assert_eq!(p.paging(20, Some(100)).limit, 100);
        let p = Params::parse("/x/?limit=-99999999999999999999");
        assert_eq!(p.paging(20, None).limit, 20);
        // Both beyond i64: the previous offset is their exact difference.
        let p = Params::parse("/x/?limit=10000000000000000000&offset=30000000000000000001");
        let e = p.envelope("http://t", p.paging(20, None), 3, vec![]);
        assert_eq!(
            e["previous"],
            "http://t/x/?limit=10000000000000000000&offset=20000000000000000001"
        );
        let p = Params::parse("/x/?limit=30000000000000000001&offset=10000000000000000000");
        let e = p.envelope("http://t", p.paging(20, None), 3, vec![]);
        assert_eq!(e["previous"], "http://t/x/?limit=30000000000000000001");
        assert_eq!(decimal_minus("1000", "1"), Some("999".into()));
        assert_eq!(decimal_minus("5", "5"), None);
        assert_eq!(decimal_minus("12", "120"), None);
    }

    #[test]
    fn a_limit_beyond_bigint_fails_where_the_page_is_queried() {
        let big = Some("99999999999999999999");
        assert!(page_query_fails(big, None, 1));
        assert!(page_query_fails(big, Some("5"), 5));
        // No rows, or past them: DRF answers without the page query.
        assert!(!page_query_fails(big, None, 0));
        assert!(!page_query_fails(big, Some("6"), 5));
        // Within bigint, negative or not a number: no failure.
        for raw in ["9223372036854775807", "-99999999999999999999", "x"] {
            assert!(!page_query_fails(Some(raw), None, 5), "{raw}");
        }
    }

    #[test]
    fn offsets_beyond_i64_are_past_the_end_with_exact_links() {
        let p = Params::parse("/api/v2/taxa/?offset=99999999999999999999&limit=5");
        let paging = p.paging(20, None);
        assert_eq!(paging.offset, PAST_END);
        let e = p.envelope("http://t", paging, 3, vec![]);
        assert_eq!(e["next"], Value::Null);
        assert_eq!(
            e["previous"],
            "http://t/api/v2/taxa/?limit=5&offset=99999999999999999994"
        );
        let p = Params::parse("/x/?offset=1_000_000_000_000_000_000_000&limit=1");
        assert_eq!(
            p.envelope("http://t", p.paging(20, None), 0, vec![])["previous"],
            "http://t/x/?limit=1&offset=999999999999999999999"
        );
        assert_eq!(offset_value(Some("-99999999999999999999")), 0);
        assert_eq!(previous_offset(Some("7"), 7, None, 5).as_deref(), Some("2"));
        assert_eq!(previous_offset(Some("5"), 5, Some("5"), 5), None);
    }

    #[test]
    fn bad_limits_fall_back() {
        let p = Params::parse("/x/?limit=abc&offset=-3");
        assert_eq!(
            p.paging(10, None),
            Paging {
                limit: 10,
                offset: 0
            }
        );
        let p = Params::parse("/x/?limit=500");
        assert_eq!(
            p.paging(10, Some(100)),
            Paging {
                limit: 100,
                offset: 0
            }
        );
    }
}
