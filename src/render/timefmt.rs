//! Rendering instants and intervals as Antenna does (spec §1.1, §1.2, §3.10, §3.15):
//! naive wall-clock time in the configured zone, Python's text for durations.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use chrono_tz::Tz;

use crate::render::pyfmt::py_repr;

/// The wall-clock time of a UTC instant (microseconds) in `tz`. Instants beyond chrono's
/// range (years past ±262142) read as its first or last representable time.
pub fn local(us: i64, tz: Tz) -> NaiveDateTime {
    use chrono::{Offset, TimeZone};
    let edge = if us < 0 {
        NaiveDateTime::MIN
    } else {
        NaiveDateTime::MAX
    };
    let Some(utc) = DateTime::from_timestamp_micros(us) else {
        return edge;
    };
    let offset = tz.offset_from_utc_datetime(&utc.naive_utc()).fix();
    // `naive_local` panics when the offset leaves the range.
    utc.naive_utc().checked_add_offset(offset).unwrap_or(edge)
}

#[cfg(test)]
mod range_tests {
    #[test]
    fn instants_at_the_edges_of_the_range_do_not_panic() {
        let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
        let last = 8_210_266_876_799_999_999; // +262142-12-31T23:59:59.999999Z
        assert_eq!(super::iso(last, tokyo), "+262142-12-31T23:59:59.999999");
        assert_eq!(super::iso(i64::MAX, tokyo), "+262142-12-31T23:59:59.999999");
        let _ = super::iso(i64::MIN, chrono_tz::America::New_York);
        assert_eq!(super::iso(0, tokyo), "1970-01-01T09:00:00");
    }

    #[test]
    fn dates_are_written_as_chrono_writes_percent_y() {
        let utc = chrono_tz::UTC;
        let year = 31_556_952_000_000i64; // an average Gregorian year, in microseconds
        for us in [
            -62_135_596_800_000_000 - 1,
            -1,
            0,
            1,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
        ]
        .into_iter()
        .chain((-3000..300).map(|k| k * 37 * year / 10))
        {
            let chrono = super::local(us, utc).format("%Y-%m-%d").to_string();
            assert!(
                super::iso(us, utc).starts_with(&format!("{chrono}T")),
                "{us}"
            );
        }
        // Every field as chrono formats it, the fraction only when there is one, in a zone
        // with an offset too.
        let zones = [utc, chrono_tz::America::Havana, chrono_tz::Asia::Kathmandu];
        let mut us: i64 = 1;
        for k in 0..20_000i64 {
            us = us.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(k);
            let us = us % 400_000_000_000_000_000;
            let tz = zones[k as usize % 3];
            let t = super::local(us, tz);
            let frac = match t.format("%.6f").to_string() {
                f if f == ".000000" => String::new(),
                f => f,
            };
            let chrono = format!("{}{frac}", t.format("%Y-%m-%d %H:%M:%S"));
            assert_eq!(super::iso_sep(us, tz, ' '), chrono, "{us}");
        }
        assert_eq!(
            super::iso(-62_135_596_800_000_001, utc),
            "0000-12-31T23:59:59.999999"
        );
    }
}

fn fraction(micros: u32) -> String {
    if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    }
}

/// `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` (DRF's DateTimeField for a naive datetime).
pub fn iso(us: i64, tz: Tz) -> String {
    iso_sep(us, tz, 'T')
}

/// The same with another separator (`' '` is Python's `str(datetime)`).
pub fn iso_sep(us: i64, tz: Tz, sep: char) -> String {
    let mut out = String::with_capacity(26);
    write_iso(&mut out, us, tz, sep);
    out
}

/// [`iso_sep`] appended to `out` (the shapes write many instants without a String each).
pub fn write_iso(out: &mut String, us: i64, tz: Tz, sep: char) {
    let t = local(us, tz);
    // chrono's `%Y` pads years 0..=9999 to four digits and signs the others.
    match t.year() {
        y @ 0..=9999 => push_digits(out, y as u32, 4),
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "{}", t.format("%Y"));
        }
    }
    out.push('-');
    push_digits(out, t.month(), 2);
    out.push('-');
    push_digits(out, t.day(), 2);
    out.push(sep);
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    out.push(':');
    push_digits(out, t.second(), 2);
    let micros = t.nanosecond() / 1000;
    if micros != 0 {
        out.push('.');
        // A leap second's nanoseconds run past 1e9: `{:06}` writes all seven digits.
        push_digits(out, micros, if micros >= 1_000_000 { 7 } else { 6 });
    }
}

/// `v`'s last `width` decimal digits, zero-padded (`format!("{v:0width$}")` for `v` below
/// 10^width), without the formatting machinery: exports write millions of instants.
fn push_digits(out: &mut String, v: u32, width: u32) {
    let mut digits = [b'0'; 10];
    let mut v = v;
    for d in digits[..width as usize].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width as usize]).expect("ASCII digits"));
}

/// A time of day given as microseconds since midnight: `"HH:MM:SS[.ffffff]"`.
pub fn time_of_day(us: i64) -> String {
    let us = us.rem_euclid(86_400_000_000);
    let secs = us / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}{}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        fraction((us % 1_000_000) as u32)
    )
}

/// DRF's DurationField in the API: the total seconds as Python float text (`"1320.0"`).
pub fn duration_seconds(us: i64) -> String {
    py_repr(us as f64 / 1e6)
}

/// Django's JSON encoder cuts a datetime's or time's microseconds to milliseconds.
pub fn millis(text: &str) -> String {
    match text.rfind('.') {
        Some(dot) if text.len() == dot + 7 => text[..dot + 4].to_string(),
        _ => text.to_string(),
    }
}

/// Django's `duration_iso_string`: `P{d}DT{HH}H{MM}M{SS}[.ffffff]S`.
pub fn duration_iso(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let us = us.abs();
    let (days, rest) = (us / 86_400_000_000, us % 86_400_000_000);
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let frac = if micros != 0 {
        format!(".{micros:06}")
    } else {
        String::new()
    };
    format!(
        "{sign}P{days}DT{:02}H{:02}M{:02}{frac}S",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `duration_label` (spec §3.10).
pub fn duration_label(us: Option<i64>) -> String {
    let Some(us) = us.filter(|&u| u != 0) else {
        return String::new();
    };
    let total = us.div_euclid(1_000_000);
    let days = total.div_euclid(86_400);
    let within = total.rem_euclid(86_400);
    if days >= 1 {
        format!("{days} days {} hours", within / 3600)
    } else if total < 3600 {
        format!("{} minutes", total.div_euclid(60))
    } else {
        format!("{} hours {} min", within / 3600, within % 3600 / 60)
    }
}

/// Event `date_label` (spec §3.15).
pub fn date_label(start_us: i64, end_us: Option<i64>, tz: Tz) -> String {
    let start = local(start_us, tz);
    match end_us.map(|e| local(e, tz)) {
        Some(end) if end.date() != start.date() => {
            format!(
                "{} {}-{} {}",
                start.format("%b"),
                start.day(),
                end.day(),
                end.year()
            )
        }
        _ => format!("{} {} {}", start.format("%b"), start.day(), start.year()),
    }
}

/// Event `name` (spec §3.15): `"<Weekday>, <date_label>"`.
pub fn event_name(start_us: i64, end_us: Option<i64>, tz: Tz) -> String {
    format!(
        "{}, {}",
        local(start_us, tz).format("%A"),
        date_label(start_us, end_us, tz)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono::Utc
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_micros()
    }

    const NY: Tz = chrono_tz::America::New_York;

    #[test]
    fn timestamps_are_new_york_wall_clock() {
        assert_eq!(iso(utc(2023, 6, 11, 1, 0), NY), "2023-06-10T21:00:00");
        assert_eq!(
            iso(utc(2023, 6, 11, 1, 0) + 5, NY),
            "2023-06-10T21:00:00.000005"
        );
        // Fall-back night: 06:10Z is 01:10 EST.
        assert_eq!(iso(utc(2023, 11, 5, 6, 10), NY), "2023-11-05T01:10:00");
    }

    #[test]
    fn durations_and_labels() {
        assert_eq!(duration_seconds(16_500_000_000), "16500.0");
        assert_eq!(duration_seconds(86_400_500_000), "86400.5");
        assert_eq!(duration_label(None), "");
        assert_eq!(duration_label(Some(0)), "");
        assert_eq!(duration_label(Some(30_000_000)), "0 minutes");
        assert_eq!(duration_label(Some(3_900_000_000)), "1 hours 5 min");
        assert_eq!(duration_label(Some(16_500_000_000)), "4 hours 35 min");
        assert_eq!(duration_label(Some(86_400_000_000)), "1 days 0 hours");
        assert_eq!(time_of_day(3_600_000_000 * 20 + 1), "20:00:00.000001");
        assert_eq!(millis("20:00:00.123456"), "20:00:00.123");
        assert_eq!(millis("2023-06-10T21:00:00"), "2023-06-10T21:00:00");
        assert_eq!(duration_iso(1_321_000_000), "P0DT00H22M01S");
        assert_eq!(duration_iso(93_784_000_005), "P1DT02H03M04.000005S");
    }

    #[test]
    fn event_labels_cross_months_and_years() {
        assert_eq!(
            date_label(utc(2023, 6, 11, 1, 0), Some(utc(2023, 6, 11, 8, 55)), NY),
            "Jun 10-11 2023"
        );
        assert_eq!(
            date_label(utc(2023, 8, 1, 1, 0), Some(utc(2023, 8, 1, 8, 0)), NY),
            "Jul 31-1 2023"
        );
        assert_eq!(
            date_label(utc(2024, 1, 1, 2, 0), Some(utc(2024, 1, 1, 9, 0)), NY),
            "Dec 31-1 2024"
        );
        assert_eq!(date_label(utc(2023, 6, 11, 1, 0), None, NY), "Jun 10 2023");
        assert_eq!(
            event_name(utc(2023, 6, 11, 1, 0), Some(utc(2023, 6, 11, 8, 0)), NY),
            "Saturday, Jun 10-11 2023"
        );
    }
}
