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
        return Ok((total as f64 * p / 100.0) as usize);
    }
    let bytes = parse_bytes(s)?;
    if bytes < 1 << 20 {
        return Err(format!("{s:?}: at least 1M"));
    }
    usize::try_from(bytes).map_err(|_| format!("{s}: too large"))
}

pub fn parse_packaged_at(s: &str) -> Result<String, String> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map(|_| s.to_string())
        .map_err(|_| "expected YYYY-MM-DDTHH:MM:SS, e.g. 2026-11-21T04:26:40".to_string())
}
