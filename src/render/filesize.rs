//! Django's `filesizeformat` (django/template/defaultfilters.py, Django 4.2, English, no
//! thousands separator): `SourceImage.size_display()`.

/// `filesizeformat(size or 0)`: `"0 bytes"`, `"1 byte"`, `"1.5 KB"` … `"8192.0 PB"`, the
/// space a no-break space (`avoid_wrapping`).
pub fn filesizeformat(size: Option<i64>) -> String {
    let bytes = size.unwrap_or(0);
    let magnitude = bytes.unsigned_abs();
    let value = if magnitude < 1 << 10 {
        let unit = if magnitude == 1 { "byte" } else { "bytes" };
        format!("{magnitude} {unit}")
    } else {
        let (scale, unit) = [
            (1u64 << 50, "PB"),
            (1 << 40, "TB"),
            (1 << 30, "GB"),
            (1 << 20, "MB"),
        ]
        .into_iter()
        .find(|(scale, _)| magnitude >= *scale)
        .unwrap_or((1 << 10, "KB"));
        // number_format(round(x, 1), 1): one decimal, rounded as round() does, half to even on
        // the exact value (1280 bytes, 1.25 KB, is "1.2 KB"), as Rust's formatting does.
        format!("{:.1} {unit}", magnitude as f64 / scale as f64)
    };
    let sign = if bytes < 0 { "-" } else { "" };
    format!("{sign}{value}").replace(' ', "\u{a0}")
}

#[cfg(test)]
mod tests {
    use super::filesizeformat;

    #[test]
    fn as_django_formats_them() {
        let f = |n| filesizeformat(n).replace('\u{a0}', " ");
        assert_eq!(f(None), "0 bytes");
        assert_eq!(f(Some(0)), "0 bytes");
        assert_eq!(f(Some(1)), "1 byte");
        assert_eq!(f(Some(1023)), "1023 bytes");
        assert_eq!(f(Some(1024)), "1.0 KB");
        assert_eq!(f(Some(1536)), "1.5 KB");
        assert_eq!(f(Some(1280)), "1.2 KB");
        assert_eq!(f(Some(1792)), "1.8 KB");
        assert_eq!(f(Some(1_048_575)), "1024.0 KB");
        assert_eq!(f(Some(1_048_576)), "1.0 MB");
        assert_eq!(f(Some(2_345_678)), "2.2 MB");
        assert_eq!(f(Some(5 << 30)), "5.0 GB");
        assert_eq!(f(Some(3 << 40)), "3.0 TB");
        assert_eq!(f(Some(i64::MAX)), "8192.0 PB");
        assert_eq!(f(Some(-1)), "-1 byte");
        assert_eq!(f(Some(-2048)), "-2.0 KB");
        assert_eq!(f(Some(i64::MIN)), "-8192.0 PB");
        assert!(filesizeformat(Some(1536)).contains('\u{a0}'));
    }
}
