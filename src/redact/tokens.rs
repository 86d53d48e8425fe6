//! Registered secrets masked where they stand as tokens of their own.

use super::MASK;

/// `text` with `secret` masked where it stands as a token of its own, not where letters or
/// digits carry it on (a password `conn` in "cannot connect", `127.0` in the host 127.0.0.1,
/// `snapshot` in `_snapshot.json`): masked inside other words it would garble the message
/// and tell which letters the password holds. A library that quotes a password back
/// delimits it (`password=…`, `:…@`, quotes, spaces); a percent escape before it (`%3A`)
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
/// continue: a letter, digit or `_` (not the last digit of a percent escape), or a `.` or `-`
/// after one.
fn carries_on_left(before: &str, secret: &str) -> bool {
    if !secret.chars().next().is_some_and(is_word) {
        return false;
    }
    let mut chars = before.chars().rev();
    match chars.next() {
        Some(c) if is_word(c) => {
            let b = before.as_bytes();
            let n = b.len();
            let escape = n >= 3
                && b[n - 3] == b'%'
                && b[n - 2].is_ascii_hexdigit()
                && b[n - 1].is_ascii_hexdigit();
            !escape
        }
        Some('.' | '-') => chars.next().is_some_and(is_word),
        _ => false,
    }
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
