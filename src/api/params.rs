//! Query parameters as Django and DRF read them, shared by every endpoint: the last value of
//! a key, bool-ish values, integers, limit/offset paging and the `next`/`previous` links.

use crate::api::request::ApiError;
use serde_json::{json, Map, Value};

/// A request's path and its query string's pairs, in request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pub path: String,
    pub pairs: Vec<(String, String)>,
}

pub const INTEGER: &str = "A valid integer is required.";

impl Params {
    pub fn parse(url: &str) -> Params {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Params {
            path: path.to_string(),
            pairs: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        }
    }

    /// Django's `QueryDict.get`: the last value of a key.
    pub fn last(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of `key` unless absent or empty.
    pub fn given(&self, key: &str) -> Option<&str> {
        self.last(key).filter(|v| !v.is_empty())
    }

    /// Every value of `key`, in order (Django's `getlist`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `apply_defaults` (spec §5.3): absent or empty is true; only `false`/`0` are false.
    pub fn apply_defaults(&self) -> bool {
        self.given("apply_defaults").is_none_or(boolish)
    }

    /// An integer parameter read with `int(value)`: absent or empty is `None`, anything
    /// else that does not parse is a 400 on `key` with `message`.
    pub fn int(&self, key: &str, message: &str) -> Result<Option<i64>, ApiError> {
        match self.last(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::field(key, message)),
        }
    }

    /// The terms of `ordering` among `fields` ([`ordering_terms`] of the last value).
    pub fn ordering<'f>(&self, fields: &[&'f str]) -> Vec<(&'f str, bool)> {
        ordering_terms(self.given("ordering"), fields)
    }

    /// DRF's `LimitOffsetPagination` reading of `limit` and `offset` (Python's `int()` of the
    /// text): a positive integer limit (capped by `max`), a non-negative offset, anything else
    /// the default.
    pub fn paging(&self, default_limit: usize, max_limit: Option<usize>) -> Paging {
        let limit = limit_value(self.last("limit"), default_limit);
        let limit = max_limit.map_or(limit, |m| limit.min(m));
        let offset = offset_value(self.last("offset"));
        Paging { limit, offset }
    }

    /// The absolute URL of this request with `limit` and `offset` replaced (DRF's
    /// `replace_query_param`/`remove_query_param`): every parameter re-encoded, sorted by key,
    /// repeated keys kept together; `offset` dropped when `None`.
    pub fn page_url(&self, api_base: &str, limit: usize, offset: Option<String>) -> String {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "limit" && k != "offset")
            .cloned()
            .collect();
        // A limit beyond i64 ([`PAST_END`]) is written as Python writes the int it read.
        pairs.push((
            "limit".into(),
            crate::api::paging::text(self.last("limit"), limit),
        ));
        if let Some(o) = offset {
            pairs.push(("offset".into(), o));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
            .collect::<Vec<_>>()
            .join("&");
        format!("{}{}?{}", api_base.trim_end_matches('/'), self.path, query)
    }

    /// `{"count", "next", "previous", "results"}` of a page of `count` rows.
    pub fn envelope(
        &self,
        api_base: &str,
        paging: Paging,
        count: usize,
        results: Vec<Value>,
    ) -> Map<String, Value> {
        let Paging { limit, offset } = paging;
        let next = (offset + limit < count)
            .then(|| self.page_url(api_base, limit, Some((offset + limit).to_string())));
        let previous = (offset > 0).then(|| {
            let prev = previous_offset(self.last("offset"), offset, self.last("limit"), limit);
            self.page_url(api_base, limit, prev)
        });
        let mut m = Map::new();
        m.insert("count".into(), json!(count));
        m.insert("next".into(), json!(next));
        m.insert("previous".into(), json!(previous));
        m.insert("results".into(), Value::Array(results));
        m
    }
}

/// DRF's `OrderingFilter.get_ordering`: `value` split on commas, each term stripped as
/// Python's `str.strip` does (Unicode whitespace and `\x1c`–`\x1f`), kept when its name
/// without one leading `-` is one of `fields`: (field, descending), in request order.
pub fn ordering_terms<'f>(value: Option<&str>, fields: &[&'f str]) -> Vec<(&'f str, bool)> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    value
        .split(',')
        .map(|t| t.trim_matches(py_space))
        .filter_map(|t| {
            let (name, desc) = match t.strip_prefix('-') {
                Some(n) => (n, true),
                None => (t, false),
            };
            fields.iter().find(|f| **f == name).map(|f| (*f, desc))
        })
        .collect()
}

/// Python's `urllib.parse.quote_plus` (what `urlencode` applies to each key and value):
/// letters, digits and `_.-~` kept, space as `+`, every other byte `%XX`.
pub fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A value Python's `int()` accepts: within i64, or beyond it (no row has such an id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyInt {
    Int(i64),
    Big,
}

impl PyInt {
    /// The value, when within i64.
    pub fn int(self) -> Option<i64> {
        match self {
            PyInt::Int(v) => Some(v),
            PyInt::Big => None,
        }
    }
}

/// The zero of every run of ten Unicode decimal digits (category Nd, Unicode 14.0: Python
/// 3.11's `unicodedata`), whose `int()` and `float()` read them as ASCII digits.
const DECIMAL_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit (any script's; what a `str` pattern's `\d` matches
/// and `int()` reads), `None` for any other character.
pub fn decimal_digit(c: char) -> Option<u32> {
    if c.is_ascii_digit() {
        return c.to_digit(10);
    }
    let code = c as u32;
    DECIMAL_ZEROS
        .iter()
        .find(|z| (**z..=**z + 9).contains(&code))
        .map(|z| code - z)
}

/// What `int()` and `float()` parse (CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII`,
/// then the C-locale strip): an ASCII string as it is; otherwise every Unicode decimal digit
/// as its ASCII digit, other whitespace as a space, other non-ASCII characters as `?` (which
/// fails the parse, as in Python); then stripped of ASCII whitespace (not `\x1c`–`\x1f`,
/// which `str.strip()` would take).
pub fn py_ascii_number(s: &str) -> std::borrow::Cow<'_, str> {
    let c_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s.trim_matches(c_space));
    }
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() {
                return c;
            }
            match decimal_digit(c) {
                Some(d) => char::from(b'0' + d as u8),
                None if c.is_whitespace() => ' ',
                None => '?',
            }
        })
        .collect();
    std::borrow::Cow::Owned(mapped.trim_matches(c_space).to_string())
}

/// Python's `int(s)` on a string: surrounding whitespace, an optional sign, decimal digits
/// (any script's, [`py_ascii_number`]) with single underscores between them (`" +1_0 "` is
/// 10). `None` where Python raises ValueError.
pub fn py_int(s: &str) -> Option<PyInt> {
    let ascii = py_ascii_number(s);
    let t: &str = &ascii;
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let b = digits.as_bytes();
    // CPython 3.11 refuses more than 4300 digits (sys.int_info.default_max_str_digits).
    if b.iter().filter(|c| c.is_ascii_digit()).count() > 4300 {
        return None;
    }
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut value: Option<i64> = Some(0);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                let d = i64::from(c - b'0');
                value = value.and_then(|v| v.checked_mul(10)).and_then(|v| {
                    if negative {
                        v.checked_sub(d)
                    } else {
                        v.checked_add(d)
                    }
                });
            }
            b'_' if b[i - 1] != b'_' => {}
            _ => return None,
        }
    }
    Some(value.map_or(PyInt::Big, PyInt::Int))
}

/// Python's `str.isspace`, what a regular expression's `\s` matches in a `str` (Unicode
/// White_Space plus the separators U+001C–U+001F).
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The text DRF's `IntegerField` hands to `int()`: a trailing `.0…` and whitespace removed
/// (`re_decimal = r"\.0*\s*$"`, `\s` being [`py_space`]), so `1.0`, `1.` and `1.0\x1f` are 1.
pub fn drf_integer_text(value: &str) -> &str {
    let v = value.trim_end_matches(py_space);
    match v.trim_end_matches('0').strip_suffix('.') {
        Some(stem) => stem,
        None => value,
    }
}

/// DRF's `IntegerField.to_internal_value`: at most 1000 characters, then
/// [`drf_integer_text`] and Python's `int()`; the error is DRF's message. Values beyond i64
/// saturate, which keeps every comparison DRF and Antenna make with them (min/max
/// validators, no such row).
pub fn drf_int(raw: &str) -> Result<i64, &'static str> {
    if raw.chars().count() > 1000 {
        return Err("String value too large.");
    }
    let text = drf_integer_text(raw);
    match py_int(text).ok_or(INTEGER)? {
        PyInt::Int(v) => Ok(v),
        PyInt::Big if text.trim_start().starts_with('-') => Ok(i64::MIN),
        PyInt::Big => Ok(i64::MAX),
    }
}

/// The id a path segment names (`pk=<segment>` through `int()`), `None` when no row can
/// have it (not an integer: Django's lookup fails, DRF answers 404; beyond i64: no row).
pub fn path_id(segment: &str) -> Option<i64> {
    let decoded = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    match py_int(&decoded)? {
        PyInt::Int(id) => Some(id),
        PyInt::Big => None,
    }
}

/// `project_id` as `get_active_project` validates it: `IntegerField(min_value=0)` over the
/// last value, absent or empty being `None` (`query_params.get(…) or …`); not an integer
/// (whitespace only included) or negative is a 400 with DRF's message. Beyond i64 saturates
/// ([`drf_int`]): no such project.
pub fn project_id_value(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match drf_int(raw) {
        Ok(id) if id < 0 => Err(ApiError::field(
            "project_id",
            "Ensure this value is greater than or equal to 0.",
        )),
        Ok(id) => Ok(Some(id)),
        Err(message) => Err(ApiError::field("project_id", message)),
    }
}

pub use crate::api::paging::{limit_value, offset_value, previous_offset, Paging, PAST_END};

/// bool-ish (spec §5.3): only `false` and `0`, in any case, are false.
pub fn boolish(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    !(l == "false" || l == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_sort_keep_repeats_and_drop_offset_zero() {
        let p =
            Params::parse("/api/v2/taxa/?project_id=1&rank=GENUS&limit=5&offset=5&project_id=2");
        let paging = p.paging(20, None);
        assert_eq!(
            paging,
            Paging {
                limit: 5,
                offset: 5
            }
        );
        let e = p.envelope("http://testserver", paging, 12, vec![]);
        assert_eq!(
            e["next"],
            "http://testserver/api/v2/taxa/?limit=5&offset=10&project_id=1&project_id=2&rank=GENUS"
        );
        assert_eq!(
            e["previous"],
            "http://testserver/api/v2/taxa/?limit=5&project_id=1&project_id=2&rank=GENUS"
        );
    }

    #[test]
    fn page_urls_encode_as_python_urlencode() {
        let p = Params::parse("/x/?search=a%2Ab~c%20d&limit=2");
        assert_eq!(
            p.page_url("http://h", 2, Some("2".into())),
            "http://h/x/?limit=2&offset=2&search=a%2Ab~c+d"
        );
    }

    #[test]
    fn drf_integers_follow_python_int_after_the_decimal_suffix() {
        for (raw, want) in [
            ("1", 1),
            ("1.0", 1),
            ("1.", 1),
            ("1.000  ", 1),
            (" 1 ", 1),
            ("+1", 1),
            ("1_0", 10),
            ("-1", -1),
            ("99999999999999999999", i64::MAX),
            ("-99999999999999999999", i64::MIN),
        ] {
            assert_eq!(drf_int(raw), Ok(want), "{raw:?}");
        }
        for raw in [
            "abc", "1.5", "1e2", "", " ", ".0", "1__0", "_1", "1_", "--1", "1.0.0",
        ] {
            assert_eq!(drf_int(raw), Err(INTEGER), "{raw:?}");
        }
        assert_eq!(drf_int(&"1".repeat(1001)), Err("String value too large."));
        assert_eq!(py_int("99999999999999999999"), Some(PyInt::Big));
    }

    #[test]
    fn int_reads_every_scripts_decimal_digits_as_python() {
        for (raw, want) in [
            ("\u{661}\u{662}", 12),
            ("\u{ff11}", 1),
            ("1\u{661}", 11),
            ("\u{2003}5\u{3000}", 5),
            ("\t7\n", 7),
            ("\u{a0}7", 7),
            ("\u{85}7", 7),
            ("-\u{1d7d9}", -1),
            ("\u{661}_\u{660}", 10),
        ] {
            assert_eq!(py_int(raw), Some(PyInt::Int(want)), "{raw:?}");
        }
        // Not decimal digits (numeric, but not Nd): ValueError in Python.
        for raw in [
            "\u{bd}",
            "\u{2167}",
            "\u{b2}",
            "\u{661}.",
            "1\u{200b}",
            "\x1c7\u{3000}",
            "\x1c7",
        ] {
            assert_eq!(py_int(raw), None, "{raw:?}");
        }
        assert_eq!(drf_int("\u{661}.0"), Ok(1));
        // re_decimal's `\s` is Python's: the separators U+001C–U+001F too; int() then strips
        // ASCII whitespace only.
        assert_eq!(drf_int("5.0\x1f"), Ok(5));
        assert_eq!(drf_int("5.\x1c\u{3000}"), Ok(5));
        assert_eq!(drf_int("5\x1f"), Err(INTEGER));
        assert_eq!(drf_int("5.0\x1f7"), Err(INTEGER));
        assert_eq!(py_int(&"1".repeat(4301)), None);
        assert_eq!(py_int(&"1".repeat(4300)), Some(PyInt::Big));
    }

    #[test]
    fn ordering_terms_follow_drf() {
        let fields = ["name", "start", "taxa_count"];
        assert_eq!(
            ordering_terms(
                Some(" -start , --start,taxa_count,,bogus,\x1fname"),
                &fields
            ),
            vec![("start", true), ("taxa_count", false), ("name", false)]
        );
        assert!(ordering_terms(Some(""), &fields).is_empty());
        assert!(ordering_terms(None, &fields).is_empty());
    }
}
