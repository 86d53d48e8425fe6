//! Flag values clap cannot parse by itself: durations, sizes, times. Each refuses what it
//! cannot use with a message naming what was expected (never a panic on 1e300, NaN or 2^64).

/// `--timeout`: seconds, more than 0 and at most a day (never a panic on 1e300, NaN or inf).
pub fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    const MAX: f64 = 86_400.0;
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 30 or 2.5".to_string())?;
    if !(secs > 0.0 && secs <= MAX) {
        return Err(format!(
            "expected a number of seconds more than 0 and at most {MAX} (one day)"
        ));
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// `--time-limit`: a number with an optional unit, `s` (the default), `m`, `h` or `d`
/// (`90`, `2.5m`, `1h`), at least a millisecond and at most 365 days.
pub fn parse_time_limit(s: &str) -> Result<std::time::Duration, String> {
    const MAX_DAYS: f64 = 365.0;
    let expected =
        "expected a duration: a number with an optional unit s, m, h or d, e.g. 90, 30s, 10m, 2h";
    let t = s.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let per: f64 = match unit.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(expected.into()),
    };
    let n: f64 = number.trim().parse().map_err(|_| expected.to_string())?;
    let secs = n * per;
    // At least a millisecond: a tinier number would end every command at once.
    if !(0.001..=MAX_DAYS * 86_400.0).contains(&secs) {
        return Err(format!(
            "{expected}; at least 1 millisecond and at most {MAX_DAYS} days"
        ));
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// A duration as `--time-limit` reads it: the largest unit that divides it (`10m`, `2h`,
/// `1.5s`).
pub fn show_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || secs == 0 {
        return format!("{}s", d.as_secs_f64());
    }
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A size in bytes: `1000`, `64K`, `64MiB`, `4G`, `4GB` (K, M, G, T are powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    match parse_bytes_or_zero(s)? {
        0 => Err("expected at least 1 byte".into()),
        bytes => Ok(bytes),
    }
}

/// A size in bytes as [`parse_bytes`] reads it, where 0 (turning something off) is allowed.
pub fn parse_bytes_or_zero(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let bad = || "expected a size in bytes, e.g. 1000, 64MiB or 4G".to_string();
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let shift = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s}: too large"))
}

/// `--memory-limit`: a size (see [`parse_bytes`]; at least 1 MiB) or a percentage of the
/// machine's memory.
pub fn parse_memory(s: &str) -> Result<usize, String> {
    if let Some(p) = s.trim().strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: expected a size such as 8G, 512M or 75%"))?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!(
                "{s:?}: a percentage must be more than 0 and at most 100"
            ));
        }
        let total = occlens::engine::catalog::machine_memory().ok_or_else(|| {
            "the machine's memory is unknown here: give a size such as 8G".to_string()
        })?;
        let bytes = (total as f64 * p / 100.0) as usize;
        if bytes < 1 << 20 {
            return Err(format!(
                "{s:?}: at least 1M ({bytes} bytes of this machine's memory)"
            ));
        }
        return Ok(bytes);
    }
    let bytes = parse_bytes(s)?;
    if bytes < 1 << 20 {
        return Err(format!("{s:?}: at least 1M"));
    }
    usize::try_from(bytes).map_err(|_| format!("{s}: too large"))
}

pub fn parse_packaged_at(s: &str) -> Result<String, String> {
    use chrono::Datelike as _;
    let expected = "expected YYYY-MM-DDTHH:MM:SS of a year 1 to 9999, e.g. 2026-11-21T04:26:40";
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| expected.to_string())?;
    // As Python's datetime (years 1 to 9999) reads it, written in full (`2026-1-5T…`, a
    // signed year or year 0 are not).
    if !(1..=9999).contains(&t.year()) || t.format("%Y-%m-%dT%H:%M:%S").to_string() != s {
        return Err(expected.to_string());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::{parse_packaged_at, parse_time_limit, show_duration};
    use std::time::Duration;

    #[test]
    fn packaged_at_is_a_time_python_reads() {
        for ok in [
            "2026-11-21T04:26:40",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
        ] {
            assert_eq!(parse_packaged_at(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "0000-01-01T00:00:00",
            "-0001-01-01T00:00:00",
            "+10000-01-01T00:00:00",
            "2026-1-5T04:26:40",
            "2026-11-21 04:26:40",
            "2026-02-30T00:00:00",
            "",
        ] {
            let e = parse_packaged_at(bad).unwrap_err();
            assert!(e.contains("year 1 to 9999"), "{bad}: {e}");
        }
    }

    #[test]
    fn time_limits_take_a_unit_and_show_the_largest_that_divides_them() {
        let ok = |s: &str| parse_time_limit(s).unwrap();
        assert_eq!(ok("90"), Duration::from_secs(90));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok(" 2.5m "), Duration::from_secs(150));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("0.5"), Duration::from_millis(500));
        for bad in [
            "",
            "0",
            "0.0000000001",
            "-5s",
            "10x",
            "m",
            "NaN",
            "inf",
            "1e300",
            "366d",
            "5 minutes",
        ] {
            let e = parse_time_limit(bad).unwrap_err();
            assert!(e.starts_with("expected a duration"), "{bad}: {e}");
        }
        assert_eq!(show_duration(Duration::from_secs(600)), "10m");
        assert_eq!(show_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(show_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(show_duration(Duration::from_secs(90)), "90s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
    }
}
