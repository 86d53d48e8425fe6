//! Python's value rendering: `repr(float)` and JSON numbers as DRF/`json.dumps` write them.

use serde_json::ser::Formatter;
use serde_json::Value;
use std::io;

/// `repr(f)` for a Python float: shortest round-trip digits, at least one fractional digit,
/// scientific notation below 1e-4 and from 1e16 (two-digit exponent minimum).
pub fn py_repr(f: f64) -> String {
    let mut out = String::with_capacity(24);
    push_py_repr(&mut out, f);
    out
}

/// Bytes on the stack for a float's text (Python's `repr` of an f64 is at most 24 characters).
struct Scratch {
    buf: [u8; 32],
    len: usize,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            buf: [0; 32],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for Scratch {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let room = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `repr(value)` written to `w` without a String (the JSON formatters call it per value).
fn write_py_repr<W: ?Sized + io::Write>(w: &mut W, value: f64) -> io::Result<()> {
    let mut text = Scratch::new();
    push_py_repr(&mut text, value);
    w.write_all(text.as_bytes())
}

/// The shortest digits that read back as `f` (finite, not zero), without leading or trailing
/// zeros, in `digits`, and the decimal exponent of the first: ryu's text taken apart (ryu
/// writes `123.45`, `0.00123` or `1.5e-7`).
fn shortest_digits(f: f64, digits: &mut [u8; 32]) -> (usize, i32) {
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(f.abs());
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().expect("ryu writes an integer exponent")),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let (mut n, mut first) = (0, None);
    for (pos, b) in int.bytes().chain(frac.bytes()).enumerate() {
        if first.is_none() {
            if b == b'0' {
                continue;
            }
            first = Some(pos as i32);
        }
        // At most 17 significant digits, then zeros before the point (below 1e16).
        if let Some(slot) = digits.get_mut(n) {
            *slot = b;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let first = first.expect("a non-zero float has a non-zero digit");
    (n, int.len() as i32 - 1 - first + exp)
}

/// [`py_repr`] appended to `out`, without allocating (JSON writers call it per value).
pub fn push_py_repr<W: std::fmt::Write + ?Sized>(out: &mut W, f: f64) {
    // Writing to a String or to a Scratch of 32 bytes (24 are used at most) cannot fail.
    let mut put = |s: &str| {
        let _ = out.write_str(s);
    };
    if f.is_nan() {
        return put("NaN");
    }
    if f.is_infinite() {
        return put(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if f == 0.0 {
        return put(if f.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    let mut buf = [0u8; 32];
    let (n, exp) = shortest_digits(f, &mut buf);
    let digits = std::str::from_utf8(&buf[..n]).expect("ASCII digits");
    if f.is_sign_negative() {
        put("-");
    }
    // Zeros written between digits and point: at most 15 (exponents -4..16).
    const ZEROS: &str = "000000000000000";
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                put(digits);
                put(&ZEROS[..int_len - digits.len()]);
                put(".0");
            } else {
                put(&digits[..int_len]);
                put(".");
                put(&digits[int_len..]);
            }
        } else {
            put("0.");
            put(&ZEROS[..(-exp - 1) as usize]);
            put(digits);
        }
    } else {
        put(&digits[..1]);
        if digits.len() > 1 {
            put(".");
            put(&digits[1..]);
        }
        put(if exp < 0 { "e-" } else { "e+" });
        let e = exp.unsigned_abs();
        if e < 10 {
            put("0");
        }
        put(itoa::Buffer::new().format(e));
    }
}

/// A serde_json formatter that writes floats as Python does.
#[derive(Default, Clone, Copy)]
pub struct PythonFloats;

impl Formatter for PythonFloats {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        write_py_repr(writer, value)
    }
}

/// Serialize `value` with formatter `f`.
fn render<F: Formatter>(value: &Value, f: F) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, f);
    serde::Serialize::serialize(value, &mut ser).expect("serializing a Value cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Compact JSON with Python float text, as the API renders it.
pub fn to_json(value: &Value) -> String {
    render(value, PythonFloats)
}

/// Indented JSON with Python float text.
pub fn to_json_pretty(value: &Value) -> String {
    // PrettyFormatter owns indentation; wrap it and delegate floats.
    struct Pretty<'a>(serde_json::ser::PrettyFormatter<'a>);
    impl Formatter for Pretty<'_> {
        fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
            write_py_repr(w, v)
        }
        fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_array(w)
        }
        fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array(w)
        }
        fn begin_array_value<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_array_value(w, first)
        }
        fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array_value(w)
        }
        fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object(w)
        }
        fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object(w)
        }
        fn begin_object_key<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_object_key(w, first)
        }
        fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object_value(w)
        }
        fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object_value(w)
        }
    }
    render(value, Pretty(Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_render_like_python_repr() {
        for (f, s) in [
            (0.9, "0.9"),
            (1.0, "1.0"),
            (1e-05, "1e-05"),
            (1e16, "1e+16"),
            (0.0001, "0.0001"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (0.614, "0.614"),
            (-2.5, "-2.5"),
            (16500.0, "16500.0"),
            (86400.5, "86400.5"),
            (0.0, "0.0"),
            (1.5e-7, "1.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e22, "1e+22"),
            (-1e-05, "-1e-05"),
            (0.00012345, "0.00012345"),
            (1.2345e-5, "1.2345e-05"),
            (9999999999999998.0, "9999999999999998.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-123.456, "-123.456"),
            (100.0, "100.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(py_repr(f), s, "{f}");
        }
    }

    #[test]
    fn floats_render_as_cpython_wrote_them() {
        // 5,000 doubles (random bit patterns, scores, and values near 1e15–1e16 whose shortest
        // form needs 17 digits and whose exact value lies halfway between two 17-digit
        // candidates: CPython rounds the tie to even, Rust's `{:e}` did not).
        let fixture = include_str!("../../tests/fixtures/python_float_repr.txt");
        let mut checked = 0;
        for line in fixture.lines().filter(|l| !l.starts_with('#')) {
            let (bits, repr) = line.split_once(' ').unwrap();
            let f = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
            assert_eq!(py_repr(f), repr, "{bits}");
            checked += 1;
        }
        assert_eq!(checked, 5000);
        // -1183194135333923.25, halfway between ...923.2 and ...923.3.
        assert_eq!(
            py_repr(f64::from_bits(0xc310_d06f_688c_308d)),
            "-1183194135333923.2"
        );
    }

    #[test]
    fn json_numbers_use_python_text() {
        let v = serde_json::json!({"a": 1.0, "b": [1e-5, 2], "c": null});
        assert_eq!(to_json(&v), r#"{"a":1.0,"b":[1e-05,2],"c":null}"#);
    }
}

/// `repr(f)` as Python's `str()`/`repr()` prints it outside JSON: non-finite values are
/// `nan`, `inf`, `-inf`.
pub fn py_repr_lower(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        py_repr(f)
    }
}

/// Python's `round(f, n)`: the exact binary value rounded to `n` decimals (to a multiple of
/// `10^-n` when `n` is negative), ties to even, then the nearest double (Rust's fixed
/// formatting rounds the exact value the same way). As in Python, any `n` is accepted: beyond
/// 323 decimals a double is returned unchanged, below -308 it rounds to a zero of its sign.
pub fn py_round(f: f64, n: i64) -> f64 {
    // CPython's NDIGITS_MAX and NDIGITS_MIN (Objects/floatobject.c, double_round).
    const NDIGITS_MAX: i64 = 323;
    const NDIGITS_MIN: i64 = -308;
    if !f.is_finite() || f == 0.0 || n > NDIGITS_MAX {
        return f;
    }
    if n < NDIGITS_MIN {
        return 0.0 * f;
    }
    if n >= 0 {
        let n = n as usize;
        return format!("{f:.n$}").parse().unwrap_or(f);
    }
    // Round the exact integer digits (and whether a fraction follows) at 10^k, ties to even.
    let k = n.unsigned_abs() as usize;
    let a = f.abs();
    let digits = format!("{:.0}", a.trunc());
    let digits = format!(
        "{}{digits}",
        "0".repeat((k + 1).saturating_sub(digits.len()))
    );
    let (head, tail) = digits.split_at(digits.len() - k);
    let half = format!("5{}", "0".repeat(k - 1));
    let up = match tail.cmp(half.as_str()) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => {
            a.fract() != 0.0 || head.bytes().last().is_some_and(|d| (d - b'0') % 2 == 1)
        }
    };
    let mut head: Vec<u8> = head.bytes().collect();
    if up {
        let mut i = head.len();
        loop {
            if i == 0 {
                head.insert(0, b'1');
                break;
            }
            i -= 1;
            if head[i] == b'9' {
                head[i] = b'0';
            } else {
                head[i] += 1;
                break;
            }
        }
    }
    let text = format!("{}e{k}", String::from_utf8_lossy(&head));
    text.parse::<f64>().map_or(f, |r| r.copysign(f))
}

/// The largest precision [`py_fixed`] accepts (Rust's formatter takes at most `u16::MAX`; a
/// double has no non-zero digit past its 1074th decimal).
pub const FIXED_DIGITS_MAX: i64 = u16::MAX as i64;

/// Python's `f"{f:.{n}f}"`: `n` decimals of the exact binary value, ties to even; `nan`,
/// `inf`, `-inf` for non-finite values. `n` outside `0..=FIXED_DIGITS_MAX` is an error (Python
/// refuses a negative precision too).
pub fn py_fixed(f: f64, n: i64) -> Result<String, String> {
    if !(0..=FIXED_DIGITS_MAX).contains(&n) {
        return Err(format!(
            "the number of decimals must be between 0 and {FIXED_DIGITS_MAX}, found {n}"
        ));
    }
    if !f.is_finite() {
        return Ok(py_repr_lower(f));
    }
    let n = n as usize;
    Ok(format!("{f:.n$}"))
}

#[cfg(test)]
mod round_tests {
    use super::*;

    #[test]
    fn round_matches_python_for_any_digits() {
        // Values printed by CPython 3: round(x, n).
        for (x, n, r) in [
            (2.675, 2, 2.67),
            (1.5, 0, 2.0),
            (2.5, 0, 2.0),
            (1.5, 99_999_999_999, 1.5),
            (1.5, 400, 1.5),
            (1234.5, -2, 1200.0),
            (1250.0, -2, 1200.0),
            (1350.0, -2, 1400.0),
            (1250.000001, -2, 1300.0),
            (-1250.0, -2, -1200.0),
            (99.0, -2, 100.0),
            (960.0, -2, 1000.0),
            (49.0, -2, 0.0),
            (50.0, -2, 0.0),
            (51.0, -2, 100.0),
            (5e300, -301, 1e301),
            (1.5, i64::MIN, 0.0),
            (1.5, i64::MAX, 1.5),
        ] {
            assert_eq!(py_round(x, n), r, "round({x}, {n})");
        }
        assert!(py_round(-1.5, -400).is_sign_negative());
        assert!(py_round(-1.5, -1).is_sign_negative());
        assert!(py_round(f64::NAN, 5).is_nan());
    }

    #[test]
    fn fixed_bounds_its_digits() {
        assert_eq!(py_fixed(1.5, 2).unwrap(), "1.50");
        assert_eq!(py_fixed(0.125, 2).unwrap(), "0.12");
        assert_eq!(py_fixed(f64::NAN, 2).unwrap(), "nan");
        assert_eq!(py_fixed(f64::NEG_INFINITY, 2).unwrap(), "-inf");
        assert_eq!(
            py_fixed(1.5, 70_000).unwrap_err(),
            "the number of decimals must be between 0 and 65535, found 70000"
        );
        assert!(py_fixed(1.5, -1).is_err());
        assert!(py_fixed(1.5, 99_999_999_999).is_err());
        assert_eq!(py_fixed(1.5, 65_535).unwrap().len(), 65_537);
    }
}

/// Python's `repr` of a decoded JSON value (lists as `[1, 2.5, 'a']`).
pub fn py_repr_json(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => py_repr(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(py_repr_json)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `str(timedelta)` of a non-negative duration in microseconds.
pub fn py_timedelta(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rest = us.rem_euclid(86_400_000_000);
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let clock = format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60);
    let frac = if micros != 0 {
        format!(".{micros:06}")
    } else {
        String::new()
    };
    match days {
        0 => format!("{clock}{frac}"),
        d => format!(
            "{d} day{}, {clock}{frac}",
            if d.abs() == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod python_text_tests {
    use super::*;

    #[test]
    fn lists_and_timedeltas_print_like_python() {
        assert_eq!(
            py_repr_json(&serde_json::json!([863, 1842.0, 0.1, "a"])),
            "[863, 1842.0, 0.1, 'a']"
        );
        assert_eq!(py_timedelta(0), "0:00:00");
        assert_eq!(py_timedelta(1_321_000_000), "0:22:01");
        assert_eq!(py_timedelta(93_784_000_000), "1 day, 2:03:04");
        assert_eq!(
            py_timedelta(2 * 86_400_000_000 + 5),
            "2 days, 0:00:00.000005"
        );
    }
}

/// Python's `json.dumps` defaults: `", "` and `": "` separators, non-ASCII escaped as
/// `\uXXXX` (surrogate pairs above the BMP), floats as `repr` (NaN as `NaN`).
#[derive(Default, Clone, Copy)]
pub struct PythonDumps;

impl Formatter for PythonDumps {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        write_py_repr(w, value)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            // json.dumps (ensure_ascii) escapes all but ' '..='~': DEL too, which serde_json
            // leaves in the fragment.
            if c.is_ascii() && c != '\u{7f}' {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(w, "\\u{:04x}", u)?;
                }
            }
        }
        Ok(())
    }
}

/// `json.dumps(value)` text.
pub fn dumps(value: &Value) -> String {
    render(value, PythonDumps)
}

#[cfg(test)]
mod dumps_tests {
    #[test]
    fn dumps_matches_python_defaults() {
        // The expected text is what CPython 3's json.dumps wrote for the same value.
        let v = serde_json::json!({"a": [1, 2.0], "b": "é😀\n\"\u{7f}\u{1f}~ /", "c": null});
        assert_eq!(
            super::dumps(&v),
            r#"{"a": [1, 2.0], "b": "\u00e9\ud83d\ude00\n\"\u007f\u001f~ /", "c": null}"#
        );
    }
}
