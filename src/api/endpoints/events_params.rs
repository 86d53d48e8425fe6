//! How Antenna's Python reads the events endpoints' `?timestamp=`: Python 3.11's C
//! `datetime.fromisoformat` (EventSerializer.get_capture_page_offset), whose
//! naive result PostgreSQL then reads in the session time zone; and a query's dates
//! (`date_start`, `date_end`) as DRF's `DateField` reads them ([`django_parse_date`]).

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// `datetime.fromisoformat(s)` of CPython 3.11 (Modules/_datetimemodule.c): the wall-clock
/// reading and, when the string has one, its UTC offset in microseconds. `None` where Python
/// raises ValueError.
pub fn fromisoformat(s: &str) -> Option<(NaiveDateTime, Option<i64>)> {
    let c: Vec<char> = s.chars().collect();
    if c.len() < 7 {
        return None;
    }
    let sep = separator(&c)?;
    let date = parse_date(&c, sep)?;
    let (time, offset) = if c.len() > sep {
        parse_time(&c[sep + 1..])?
    } else {
        (NaiveTime::MIN, None)
    };
    Some((date.and_time(time), offset))
}

/// `django.utils.dateparse.parse_date` (Django 4+), which DRF's `DateField` applies to a
/// query's date: CPython 3.11's `date.fromisoformat` (`2023-06-11`, `20230611`, `2023-W23`,
/// `2023-W23-7`, …), else the pattern `^\d{4}-\d{1,2}-\d{1,2}$` (`2023-6-1`; `$` also
/// before a final newline; `\d` any script's digits, `٢٠٢٣-٠٦-١١`); a valid date of the years 1–9999. `None` where DRF answers "Date
/// has wrong format" (`-0001-01-01`, `+10000-01-01`, `2023-02-30`).
pub fn django_parse_date(s: &str) -> Option<NaiveDate> {
    let c: Vec<char> = s.chars().collect();
    if matches!(s.len(), 7 | 8 | 10) {
        if let Some(d) = parse_date(&c, s.len()).filter(|d| (1..=9999).contains(&d.year())) {
            return Some(d);
        }
    }
    // The pattern's `\d` (a `str` pattern: any script's decimal digits, which `int()` reads).
    let c = c.strip_suffix(&['\n']).unwrap_or(&c);
    let digits = |c: &[char], i: usize, count: usize| {
        (i..i + count).try_fold(0u32, |acc, j| {
            Some(acc * 10 + crate::api::params::decimal_digit(*c.get(j)?)?)
        })
    };
    let year = digits(c, 0, 4)?;
    let rest = c.get(4..)?;
    let mut parts = rest.split(|ch| *ch == '-');
    let (Some([]), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let number = |p: &[char]| match p.len() {
        1 | 2 => digits(p, 0, p.len()),
        _ => None,
    };
    NaiveDate::from_ymd_opt(year as i32, number(m)?, number(d)?)
        .filter(|d| (1..=9999).contains(&d.year()))
}

fn digit(c: &[char], i: usize) -> Option<u32> {
    c.get(i)
        .and_then(|ch| ch.to_digit(10).filter(|_| ch.is_ascii_digit()))
}

/// `count` digits from `i` as a number (parse_digits).
fn digits(c: &[char], i: usize, count: usize) -> Option<u32> {
    (i..i + count).try_fold(0u32, |acc, j| Some(acc * 10 + digit(c, j)?))
}

/// _find_isoformat_datetime_separator: where the time part's separator is.
fn separator(c: &[char]) -> Option<usize> {
    let len = c.len();
    if len == 7 {
        return Some(7);
    }
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    if at(4) == '-' {
        if at(5) != 'W' {
            return Some(10);
        }
        if len > 8 && at(8) == '-' {
            if len == 9 {
                return None;
            }
            if len > 10 && at(10).is_ascii_digit() {
                return Some(8);
            }
            return Some(10);
        }
        return Some(8);
    }
    if at(4) == 'W' {
        let mut idx = 7;
        while idx < len && at(idx).is_ascii_digit() {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// parse_isoformat_date over the first `len` characters (reading past them as C does).
fn parse_date(c: &[char], len: usize) -> Option<NaiveDate> {
    let year = digits(c, 0, 4)?;
    let dash = c.get(4) == Some(&'-');
    let mut p = 4 + usize::from(dash);
    if c.get(p) == Some(&'W') {
        p += 1;
        let week = digits(c, p, 2)?;
        p += 2;
        let day = if p < len {
            if dash {
                if c.get(p) != Some(&'-') {
                    return None;
                }
                p += 1;
            }
            digits(c, p, 1)?
        } else {
            1
        };
        if !(1..=9999).contains(&year) || !(1..=7).contains(&day) {
            return None;
        }
        return NaiveDate::from_isoywd_opt(year as i32, week, weekday(day))
            .filter(|d| (1..=9999).contains(&d.year()));
    }
    let month = digits(c, p, 2)?;
    p += 2;
    if dash {
        if c.get(p) != Some(&'-') {
            return None;
        }
        p += 1;
    }
    let day = digits(c, p, 2)?;
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

fn weekday(day: u32) -> chrono::Weekday {
    use chrono::Weekday::*;
    [Mon, Tue, Wed, Thu, Fri, Sat, Sun][(day as usize - 1) % 7]
}

/// parse_hh_mm_ss_ff over `c[..end]`: (h, m, s, µs, more text follows).
fn hh_mm_ss_ff(c: &[char], end: usize) -> Option<([u32; 4], bool)> {
    let mut v = [0u32; 4];
    let mut p = 0;
    let mut separated = true;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    for i in 0..3 {
        v[i] = digits(c, p, 2)?;
        p += 2;
        let ch = at(p);
        p += 1;
        if i == 0 {
            separated = ch == ':';
        }
        if p >= end {
            return Some((v, ch != '\0'));
        }
        if separated && ch == ':' {
            continue;
        }
        if ch == '.' || ch == ',' {
            break;
        }
        if separated {
            return None;
        }
        p -= 1;
    }
    // After HH, MM and SS (or a `.`/`,`) the rest up to `end` is the fraction, whatever
    // separated the seconds from it (CPython accepts "01:10:00:5"); digits past the sixth
    // are skipped.
    let to_parse = (end - p).min(6);
    v[3] = digits(c, p, to_parse)? * 10u32.pow(6 - to_parse as u32);
    p += to_parse;
    while digit(c, p).is_some() {
        p += 1;
    }
    Some((v, p < c.len()))
}

/// parse_isoformat_time: the time and the offset (µs east of UTC) when one is given.
fn parse_time(c: &[char]) -> Option<(NaiveTime, Option<i64>)> {
    let end = c.len();
    let tz = (0..end.max(1))
        .find(|&i| matches!(c.get(i), Some('Z' | '+' | '-')))
        .unwrap_or(end.max(1));
    let (t, more) = hh_mm_ss_ff(c, tz)?;
    let time = NaiveTime::from_hms_micro_opt(t[0], t[1], t[2], t[3])?;
    if tz >= end {
        return (!more).then_some((time, None));
    }
    if c[tz] == 'Z' {
        return (tz + 1 == end).then_some((time, Some(0)));
    }
    let sign: i64 = if c[tz] == '-' { -1 } else { 1 };
    let rest = &c[tz + 1..];
    let (o, more) = hh_mm_ss_ff(rest, rest.len())?;
    if more {
        return None;
    }
    let seconds = i64::from(o[0]) * 3600 + i64::from(o[1]) * 60 + i64::from(o[2]);
    // tzinfo_from_isoformat_results: a zero offset in seconds is UTC (its µs are dropped).
    let offset = if seconds == 0 {
        0
    } else {
        sign * (seconds * 1_000_000 + i64::from(o[3]))
    };
    if offset.abs() >= 86_400_000_000 {
        return None;
    }
    Some((time, Some(offset)))
}

/// The instant (µs since the epoch) PostgreSQL compares a `timestamptz` column with: an
/// aware value as it is; a naive one read in the session zone `tz`, an ambiguous (fall-back)
/// reading as standard time (the offset after the transition), a skipped (spring-forward)
/// reading with the offset before the transition.
pub fn pg_instant(local: NaiveDateTime, offset: Option<i64>, tz: Tz) -> i64 {
    let utc_reading = local.and_utc().timestamp_micros();
    if let Some(o) = offset {
        return utc_reading - o;
    }
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp_micros(),
        LocalResult::Ambiguous(a, b) => a.timestamp_micros().max(b.timestamp_micros()),
        LocalResult::None => {
            let before = local - Duration::hours(24);
            let offset = match tz.from_local_datetime(&before) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    t.naive_local().and_utc().timestamp_micros() - t.timestamp_micros()
                }
                LocalResult::None => 0,
            };
            utc_reading - offset
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::{py_int, PyInt};

    fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, us)
            .unwrap()
    }

    #[test]
    fn python_int_rules() {
        assert_eq!(py_int(" 12 "), Some(PyInt::Int(12)));
        assert_eq!(py_int("+1_0"), Some(PyInt::Int(10)));
        assert_eq!(py_int("-3"), Some(PyInt::Int(-3)));
        assert_eq!(py_int("99999999999999999999"), Some(PyInt::Big));
        for bad in ["", "1.0", "1__0", "_1", "1_", "abc", "0x10", "+", "1 2"] {
            assert_eq!(py_int(bad), None, "{bad}");
        }
    }

    /// Expectations from CPython 3.11.7's `datetime.fromisoformat`.
    #[test]
    fn dates_as_drf_reads_them() {
        use super::django_parse_date as p;
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(p("2023-06-11"), d(2023, 6, 11));
        assert_eq!(p("20230611"), d(2023, 6, 11));
        assert_eq!(p("2023-6-1"), d(2023, 6, 1));
        assert_eq!(p("2023-06-1"), d(2023, 6, 1));
        assert_eq!(p("2023-06-11\n"), d(2023, 6, 11));
        assert_eq!(p("2023-W01-1"), d(2023, 1, 2));
        assert_eq!(p("2023W011"), d(2023, 1, 2));
        assert_eq!(p("0001-01-01"), d(1, 1, 1));
        assert_eq!(p("9999-12-31"), d(9999, 12, 31));
        // The pattern's `\d` matches any script's digits (CPython 3.11, Django's regex).
        assert_eq!(p("٢٠٢٣-٠٦-١١"), d(2023, 6, 11));
        assert_eq!(p("２０２３-０６-１１"), d(2023, 6, 11));
        assert_eq!(p("2023-０６-1"), d(2023, 6, 1));
        assert_eq!(p("٢٠٢٣-٠٦-١١\n"), d(2023, 6, 11));
        assert_eq!(p("𝟐𝟎𝟐𝟑-𝟎𝟔-𝟏𝟏"), d(2023, 6, 11));
        assert_eq!(p("２０２３０６１１"), None);
        for bad in [
            "-0001-01-01",
            "+10000-01-01",
            "0000-01-01",
            "2023-02-30",
            "2023-13-45",
            "23-06-11",
            "2023-006-11",
            "2023/06/11",
            "2023-06-11T00:00",
            " 2023-06-11",
            "2023-06-11\n\n",
            "",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fromisoformat_follows_cpython_3_11() {
        let naive = |s: &str| {
            fromisoformat(s)
                .filter(|(_, o)| o.is_none())
                .map(|(d, _)| d)
        };
        assert_eq!(naive("2023-11-05"), Some(dt(2023, 11, 5, 0, 0, 0, 0)));
        assert_eq!(naive("20231105"), Some(dt(2023, 11, 5, 0, 0, 0, 0)));
        assert_eq!(naive("2023-11-05T01"), Some(dt(2023, 11, 5, 1, 0, 0, 0)));
        assert_eq!(naive("2023-11-05T0110"), Some(dt(2023, 11, 5, 1, 10, 0, 0)));
        assert_eq!(
            naive("2023-11-05X01:10"),
            Some(dt(2023, 11, 5, 1, 10, 0, 0))
        );
        assert_eq!(
            naive("2023-11-05é01:10"),
            Some(dt(2023, 11, 5, 1, 10, 0, 0))
        );
        assert_eq!(
            naive("2023-11-05 01:10:00.5"),
            Some(dt(2023, 11, 5, 1, 10, 0, 500_000))
        );
        assert_eq!(
            naive("2023-11-05T01:10:00,123"),
            Some(dt(2023, 11, 5, 1, 10, 0, 123_000))
        );
        assert_eq!(
            naive("2023-11-05T01:10:00.1234567"),
            Some(dt(2023, 11, 5, 1, 10, 0, 123_456))
        );
        assert_eq!(
            naive("2023-W44-7T01:10"),
            Some(dt(2023, 11, 5, 1, 10, 0, 0))
        );
        assert_eq!(naive("2023W447"), Some(dt(2023, 11, 5, 0, 0, 0, 0)));
        assert_eq!(naive("2023W44710"), Some(dt(2023, 10, 30, 10, 0, 0, 0)));
        assert_eq!(naive("2020-W53-1"), Some(dt(2020, 12, 28, 0, 0, 0, 0)));
        assert_eq!(naive("20231105T011000"), Some(dt(2023, 11, 5, 1, 10, 0, 0)));
        assert_eq!(
            naive("2023-11-05T01:10:00:5"),
            Some(dt(2023, 11, 5, 1, 10, 0, 500_000))
        );
        assert_eq!(
            naive("9999-12-31T23:59:59.999999"),
            Some(dt(9999, 12, 31, 23, 59, 59, 999_999))
        );
        let aware = |s: &str| fromisoformat(s).and_then(|(_, o)| o);
        assert_eq!(aware("2023-11-05T01:10Z"), Some(0));
        assert_eq!(aware("2023-11-05T0110+05"), Some(18_000_000_000));
        assert_eq!(aware("2023-11-05T01:10:00-05:00"), Some(-18_000_000_000));
        assert_eq!(aware("2023-11-05T01:10:00+00:00:00.5"), Some(0));
        assert_eq!(
            aware("2023-11-05T01:10+23:59:59.999999"),
            Some(86_399_999_999)
        );
        assert_eq!(
            aware("2023-11-05T01:10:00.1234567+01:00"),
            Some(3_600_000_000)
        );
        assert_eq!(aware("2023-11-05T01:10+05:99"), Some(23_940_000_000));
        assert_eq!(aware("2023-11-05T01:10-00:00:00.5"), Some(0));
        for bad in [
            "2023-11-05T",
            "2023-11-05T0",
            "2023-11-05T01:1",
            "2023-11-05T01:10:0",
            "2023-11-05T01:10:00.",
            "2023-11-05T01:10+5",
            "2023-11-05T01:10+24:00",
            "2023-11-05T01:10Zx",
            "2023-11-05T01:10:00.1234567x",
            "2023W4471",
            "2023-W44-710",
            "2023-W53-1",
            "2023-13-05",
            "2023-02-29",
            "0000-01-01",
            "2023-11-0",
            "202311",
            "2023-11-05T1:10",
            "2023-11-05T01:10:00Z ",
            "2023-11-05 ",
            "2023-11-05T24:00",
            "2023-11-05éé01:10",
            "2023-11-05T01:10:00 00:00",
            "2023-11-05T01:10:00.12é",
            "2023-11-05T0110005",
            "9999-W52-7",
        ] {
            assert_eq!(fromisoformat(bad), None, "{bad}");
        }
    }

    #[test]
    fn naive_readings_resolve_as_postgres_does() {
        let ny = chrono_tz::America::New_York;
        // Fall back: 01:10 happens twice; PostgreSQL takes standard time (06:10Z).
        let t = pg_instant(dt(2023, 11, 5, 1, 10, 0, 0), None, ny);
        assert_eq!(t, dt(2023, 11, 5, 6, 10, 0, 0).and_utc().timestamp_micros());
        // Spring forward: 02:30 does not exist; the offset before the gap (EST) applies.
        let t = pg_instant(dt(2024, 3, 10, 2, 30, 0, 0), None, ny);
        assert_eq!(t, dt(2024, 3, 10, 7, 30, 0, 0).and_utc().timestamp_micros());
        let t = pg_instant(dt(2023, 11, 5, 1, 10, 0, 0), Some(-18_000_000_000), ny);
        assert_eq!(t, dt(2023, 11, 5, 6, 10, 0, 0).and_utc().timestamp_micros());
    }
}
