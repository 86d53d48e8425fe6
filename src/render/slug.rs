//! Django's `slugify` (antenna-exports-dwca.md §0.3).

use unicode_normalization::UnicodeNormalization;

/// NFKD, drop non-ASCII, lower-case, keep `[a-z0-9_]`, whitespace and `-`, collapse runs of
/// whitespace and `-` into one `-`, strip leading and trailing `-` and `_`.
pub fn slugify(text: &str) -> String {
    let ascii: String = text
        .nfkd()
        .filter(char::is_ascii)
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || c.is_ascii_whitespace() || *c == '-')
        .collect();
    let mut out = String::with_capacity(ascii.len());
    let mut in_run = false;
    for c in ascii.chars() {
        if c.is_ascii_whitespace() || c == '-' {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn django_examples() {
        assert_eq!(
            slugify("Vermont Atlas: Moths & Co."),
            "vermont-atlas-moths-co"
        );
        assert_eq!(slugify("  Über  café -- test_ "), "uber-cafe-test");
        assert_eq!(slugify("_a_"), "a");
        assert_eq!(slugify("Oracle Lab C"), "oracle-lab-c");
    }
}
