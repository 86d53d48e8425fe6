//! Registered secrets masked where they stand as tokens of their own.

use super::MASK;

/// `text` with `secret` masked where it stands as a token of its own, not where letters or
/// digits carry it on (a password `conn` in "cannot connect", `127.0` in the host 127.0.0.1,
/// `snapshot` in `_snapshot.json`): masked inside other words it would garble the message
/// and tell which letters the password holds. A library that quotes a password back
/// delimits it (`password=…`, `:…@`, quotes, spaces); an escape before it (`%3A`, `\n`)
/// delimits it too.
pub(super) fn mask_tokens(text: &str, secret: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut pos) = (0, 0);
    while let Some(off) = text[pos..].find(secret) {
        let at = pos + off;
        let end = at + secret.len();
        if carries_on_left(&text[..at], secret) || carries_on_right(&text[end..], secret) {
            // The next match may overlap this one.
            pos = at + secret.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push_str(&text[copied..at]);
        out.push_str(MASK);
        (copied, pos) = (end, end);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `before` ends in a word that `secret` (starting with a letter or digit) would
/// continue: a letter, digit or `_` (not the end of an escape), or a `.` or `-` after one.
fn carries_on_left(before: &str, secret: &str) -> bool {
    if !secret.chars().next().is_some_and(is_word) {
        return false;
    }
    let mut chars = before.chars().rev();
    match chars.next() {
        Some(c) if is_word(c) => !ends_with_escape(before.as_bytes()),
        Some('.' | '-') => chars.next().is_some_and(is_word),
        _ => false,
    }
}

/// Whether `b` ends with an escape, whose last letter or digit does not make a word with what
/// follows: a percent escape (`%3A`, encoded again `%253A`), or a backslash escape as JSON,
/// Rust's `{:?}` and C write them (`\n`, `\0`, `\u000a`, `\x0a`).
fn ends_with_escape(b: &[u8]) -> bool {
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    let tail = |k: usize| (b.len() >= k).then(|| &b[b.len() - k..]);
    let percent = tail(3).is_some_and(|t| t[0] == b'%' && hex(&t[1..]))
        || tail(5).is_some_and(|t| t.starts_with(b"%25") && hex(&t[3..]));
    let backslash = tail(2).is_some_and(|t| t[0] == b'\\' && t[1].is_ascii_alphanumeric())
        || tail(6).is_some_and(|t| t.starts_with(b"\\u") && hex(&t[2..]))
        || tail(4).is_some_and(|t| t.starts_with(b"\\x") && hex(&t[2..]));
    percent || backslash
}

/// Whether `after` carries on a word that `secret` (ending with a letter or digit) ends:
/// a letter, digit or `_`, or a `.` or `-` before one.
fn carries_on_right(after: &str, secret: &str) -> bool {
    if !secret.chars().last().is_some_and(is_word) {
        return false;
    }
    let mut chars = after.chars();
    match chars.next() {
        Some(c) if is_word(c) => true,
        Some('.' | '-') => chars.next().is_some_and(is_word),
        _ => false,
    }
}
