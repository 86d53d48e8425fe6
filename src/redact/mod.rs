//! Secrets out of everything occlens prints or stores: one function, [`redact`], that every
//! URL, connection string and error message goes through before it reaches a terminal or a
//! file.
//!
//! It removes, in any text:
//! - URL userinfo passwords: `scheme://user:pw@host` → `scheme://user:***@host`, also when the
//!   password holds `@ / ? # % : =` (the *last* `@` of a URL-looking token ends the userinfo;
//!   no URL parser has to accept the URL); in web and object-store URLs a user name alone
//!   too (`https://TOKEN@host` → `https://***@host`: tokens are passed so); and in mistyped
//!   URLs without `://` (`postgres:/u:pw@h/db`, `u:pw@h:5432/db` → `u:***@h:5432/db`);
//! - values of query parameters and `key=value` pairs whose name looks secret (password,
//!   passwd, pwd, token, access_token, sig, signature, secret, key, apikey, api_key,
//!   credential, names containing password/secret/token/signature/credential, and every
//!   `X-Amz-*` / `X-Goog-*` parameter): `?token=abc` → `?token=***`, libpq conninfo
//!   `password='se cret\'x'` → `password=***`;
//! - `Authorization:` header values (`Token …`, `Bearer …`, `Basic …`) and bare `Bearer …`
//!   tokens;
//! - every string given to [`register_secret`] (and its percent-encoded, percent-decoded and
//!   escaped forms) where it stands as a token of its own: a safety net for passwords that
//!   libraries quote back in their errors.

use percent_encoding::{
    percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC,
};
use std::sync::{Mutex, OnceLock};

mod tokens;

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// Registered secrets in every form they may be printed in, longest first.
fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The characters the `url` crate percent-encodes in userinfo.
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|');

/// The forms `s` may be printed in: as is, percent-encoded (upper and lower case hex, every
/// non-alphanumeric or only userinfo's reserved characters, form encoding), percent-decoded,
/// and escaped as in JSON, Rust's `{:?}` and libpq's quoted values.
fn forms(s: &str) -> Vec<String> {
    let mut out = vec![s.to_string()];
    let all = utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    out.push(lower_hex(&all));
    out.push(all);
    let userinfo = utf8_percent_encode(s, USERINFO).to_string();
    out.push(lower_hex(&userinfo));
    out.push(userinfo);
    out.push(url::form_urlencoded::byte_serialize(s.as_bytes()).collect());
    out.push(percent_decode_str(s).decode_utf8_lossy().into_owned());
    let json = serde_json::to_string(s).unwrap_or_default();
    out.push(json.trim_matches('"').to_string());
    let debug = format!("{s:?}");
    out.push(debug.trim_matches('"').to_string());
    out.push(s.replace('\\', "\\\\").replace('\'', "\\'"));
    out
}

/// `%2F` → `%2f` (the escapes only).
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3).unwrap_or(&rest[i..]);
        out.push_str(&escape.to_ascii_lowercase());
        rest = &rest[i + escape.len()..];
    }
    out.push_str(rest);
    out
}

/// Remember `s` as a secret: [`redact`] replaces it (in every form it may be printed in) by
/// `***` from now on, in this process. Strings shorter than 4 characters are ignored (they
/// would mask ordinary text).
pub fn register_secret(s: &str) {
    if s.chars().count() < 4 || s == MASK {
        return;
    }
    let mut secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    for form in forms(s) {
        if form.chars().count() >= 4 && !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    secrets.sort_by_key(|f| std::cmp::Reverse(f.len()));
}

/// Register every secret [`redact`] would remove from `text` (URL passwords, secret query
/// parameters and conninfo values, authorization tokens): for arguments, before anything
/// that may quote them back runs.
pub fn register_secrets_in(text: &str) {
    let mut found = Vec::new();
    structural(text, &mut found);
    for s in found {
        register_secret(&s);
    }
}

/// `text` without any secret (see the module documentation).
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    {
        let secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = tokens::mask_tokens(&out, s);
            }
        }
    }
    structural(&out, &mut Vec::new())
}

/// Every string in `value` (keys too) through [`redact`].
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let needs_key_change = map.keys().any(|k| redact(k) != *k);
            if needs_key_change {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    redact_json(&mut v);
                    map.insert(redact(&k), v);
                }
            } else {
                map.values_mut().for_each(redact_json);
            }
        }
        _ => {}
    }
}

/// The structural passes; the values removed are pushed to `found`.
fn structural(text: &str, found: &mut Vec<String>) -> String {
    let text = userinfo(text, found);
    // A guess from the text's shape: masked where it stands, never registered (what it finds
    // in a path would otherwise be masked in every later text).
    let text = bare_userinfo(&text);
    let text = key_values(&text, found);
    authorization(&text, found)
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
}

/// Where a URL-looking token ends: whitespace or a character that never is part of one.
fn token_end(s: &str) -> usize {
    s.find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '`'))
        .unwrap_or(s.len())
}

/// In `token` (what follows `://`): the user and the index of the `@` that ends a userinfo
/// with a password — the last `@` whose userinfo has a `:` and a user part without `/ ? #`.
fn userinfo_split(token: &str) -> Option<(&str, usize)> {
    for (at, _) in token
        .match_indices('@')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let info = &token[..at];
        let Some(colon) = info.find(':') else {
            continue;
        };
        let user = &info[..colon];
        if user.contains(['/', '?', '#']) {
            continue;
        }
        if &info[colon + 1..] == MASK {
            return None;
        }
        return Some((user, at));
    }
    None
}

/// Object and web URLs whose userinfo is a credential even without a password
/// (`https://TOKEN@host/…`: a personal access or bearer token as the user name).
const TOKEN_USER_SCHEMES: &[&str] = &[
    "http",
    "https",
    "git+http",
    "git+https",
    "s3",
    "s3a",
    "gs",
    "gcs",
    "az",
    "azure",
    "abfs",
    "abfss",
    "adl",
    "wasb",
    "wasbs",
];

/// In `token` (what follows `scheme://`), for [`TOKEN_USER_SCHEMES`]: the index of the `@`
/// ending a userinfo without a `:` (a user only) inside the authority (before `/ ? #`).
fn token_userinfo(scheme: &str, token: &str) -> Option<usize> {
    if !TOKEN_USER_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return None;
    }
    let authority = &token[..token.find(['/', '?', '#']).unwrap_or(token.len())];
    let at = authority.rfind('@')?;
    let info = &authority[..at];
    (!info.is_empty() && !info.contains(':') && info != MASK).then_some(at)
}

/// `scheme://user:pw@host…` → `scheme://user:***@host…`; for web and object-store URLs,
/// `scheme://TOKEN@host…` → `scheme://***@host…`.
fn userinfo(text: &str, found: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let before = &rest.as_bytes()[..i];
        let scheme_len = before
            .iter()
            .rev()
            .take_while(|b| is_scheme_byte(**b))
            .count();
        let after = &rest[i + 3..];
        let end = token_end(after);
        let token = &after[..end];
        if scheme_len > 0 && before[i - scheme_len].is_ascii_alphabetic() {
            let scheme = &rest[i - scheme_len..i];
            if let Some(at) = token_userinfo(scheme, token) {
                // Masked where it stands, not registered: a short user name (`user`) would
                // then be masked in every text, answers' keys included.
                out.push_str(&rest[..i + 3]);
                out.push_str(MASK);
                rest = &after[at..];
                continue;
            }
            if let Some((user, at)) = userinfo_split(token) {
                found.push(token[user.len() + 1..at].to_string());
                out.push_str(&rest[..i + 3]);
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
                // A URL inside the rest of the token (a redirect parameter) is looked at too.
                rest = &after[at..];
                continue;
            }
        }
        out.push_str(&rest[..i + 3]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A mistyped URL's `user:pw@host` (no `://`: `postgres:/u:pw@h/db`, `postgres:u:pw@h`,
/// `postgres//u:pw@h`, `u:pw@h:5432/db`) → `user:***@host`, in a token (up to whitespace or a
/// quote) without `://` that does not start as a path does (`/`, `.`, `~`), when it looks
/// like one: the part of the token before its last `@`, from its last `/`, holds a `:`, and
/// a second `:` or a `/` comes before it, or the host after the `@` goes on with a port or a
/// path. What follows that part's first `:` is masked. `mailto:a@b.c`, `a@b`,
/// `C:/Users/me@corp` and `/mnt/x:y@z/` stay as they are.
fn bare_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| !is_token_break(c))
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(is_token_break).unwrap_or(rest.len());
        out.push_str(&mask_bare_userinfo(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

fn is_token_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')
}

/// `token` with its userinfo's password masked, if it has one (see [`bare_userinfo`]).
fn mask_bare_userinfo(token: &str) -> String {
    let unchanged = || token.to_string();
    // A scheme-relative URL (`//user:pw@host/…`): its userinfo as a bare one's.
    if let Some(rest) = token.strip_prefix("//").filter(|r| !r.starts_with('/')) {
        return format!("//{}", mask_bare_userinfo(rest));
    }
    if token.contains("://") || token.starts_with(['/', '.', '~', '\\']) {
        return unchanged();
    }
    let Some(at) = token.rfind('@') else {
        return unchanged();
    };
    let info = &token[..at];
    let from = info.rfind(['/', '\\']).map_or(0, |i| i + 1);
    let Some(colon) = info[from..].find(':').map(|i| from + i) else {
        return unchanged();
    };
    let password = &info[colon + 1..];
    let host = token[at + 1..].trim_end_matches([':', '.', ',', ';', ')', ']']);
    let looks_like_one = password.contains(':')
        || from > 0
        || info[..colon].contains(':')
        || host.contains([':', '/']);
    if password.is_empty() || password == MASK || !looks_like_one {
        return unchanged();
    }
    format!("{}{MASK}{}", &token[..colon + 1], &token[at..])
}

/// Whether a query parameter or conninfo key names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    const EXACT: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "access_token",
        "sig",
        "signature",
        "secret",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "credential",
        "credentials",
        "sslpassword",
        "sslkey",
        "private_key",
        "auth",
        "authkey",
        "auth_key",
        "jwt",
        "bearer",
        "hmac",
        "code",
        "sas",
        "sid",
        "ticket",
        "nonce",
        "otp",
        "pin",
    ];
    const CONTAINS: &[&str] = &[
        "session",
        "jwt",
        "apikey",
        "api_key",
        "password",
        "passwd",
        "secret",
        "token",
        "signature",
        "credential",
        "apikey",
        "api_key",
        "api-key",
        "access_key",
        "accesskey",
        "private_key",
    ];
    EXACT.contains(&k.as_str())
        || k.starts_with("x-amz-")
        || k.starts_with("x-goog-")
        || CONTAINS.iter().any(|w| k.contains(w))
}

fn is_key_byte(b: u8) -> bool {
    // `%`: a query's names may be percent-encoded (`tok%65n=…` is `token=…` to a server).
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'%')
}

/// `name=value` with a secret name → `name=***`: query parameters (after `? & ; #`: the value
/// ends at `&`, `#`, whitespace or a quote) and libpq conninfo pairs (spaces around `=`
/// allowed; a value in single quotes with backslash escapes, else up to whitespace).
fn key_values(text: &str, found: &mut Vec<String>) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // text[..copied] is in `out`
    let mut pos = 0; // where to look for the next '='
    while let Some(off) = text[pos..].find('=') {
        let eq = pos + off;
        pos = eq + 1;
        let mut key_end = eq;
        while key_end > copied && bytes[key_end - 1] == b' ' {
            key_end -= 1;
        }
        let mut key_start = key_end;
        while key_start > copied && is_key_byte(bytes[key_start - 1]) {
            key_start -= 1;
        }
        let key = percent_decode_str(&text[key_start..key_end]).decode_utf8_lossy();
        if key_start == key_end || !is_secret_name(&key) {
            continue;
        }
        let query = key_start > 0 && matches!(bytes[key_start - 1], b'?' | b'&' | b';' | b'#');
        let mut start = eq + 1;
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
        if start >= bytes.len() || text[start..].starts_with(MASK) {
            continue;
        }
        let (end, value) = match bytes[start] {
            q @ (b'\'' | b'"') => {
                // A quoted value: backslash escapes the next character.
                let mut i = start + 1;
                let mut value = String::new();
                let mut closed = false;
                let mut chars = text[i..].char_indices();
                while let Some((j, c)) = chars.next() {
                    if c == '\\' {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    } else if c as u32 == q as u32 {
                        i = start + 1 + j + 1;
                        closed = true;
                        break;
                    } else {
                        value.push(c);
                    }
                }
                if !closed {
                    i = bytes.len();
                }
                (i, value)
            }
            _ => {
                let stop = |c: char| {
                    c.is_whitespace()
                        || matches!(c, '"' | '\'' | '`' | '<' | '>')
                        || (query && matches!(c, '&' | '#'))
                };
                let end = text[start..].find(stop).map_or(bytes.len(), |n| start + n);
                (end, text[start..end].to_string())
            }
        };
        if end == start {
            continue;
        }
        found.push(text[start..end].to_string());
        if value != text[start..end] {
            found.push(value);
        }
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
        pos = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// `Authorization: Token abc` → `Authorization: Token ***` (also `=`, and any scheme word), and
/// bare `Bearer abc…` → `Bearer ***`.
fn authorization(text: &str, found: &mut Vec<String>) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        i
    };
    let value_end = |start: usize| {
        text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '}' | ')'))
            .map_or(text.len(), |n| start + n)
    };
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, _) in lower.match_indices("authorization") {
        let mut j = skip_spaces(i + "authorization".len());
        if j < bytes.len() && bytes[j] == b'"' {
            j += 1;
        }
        j = skip_spaces(j);
        if j >= bytes.len() || !matches!(bytes[j], b':' | b'=') {
            continue;
        }
        j = skip_spaces(j + 1);
        if j < bytes.len() && bytes[j] == b'"' {
            j += 1;
        }
        let word = lower[j..]
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let scheme = &lower[j..j + word];
        if matches!(
            scheme,
            "token" | "bearer" | "basic" | "digest" | "negotiate"
        ) && j + word < bytes.len()
            && bytes[j + word] == b' '
        {
            j = skip_spaces(j + word);
        }
        spans.push((j, value_end(j)));
    }
    for (i, _) in lower.match_indices("bearer ") {
        let j = skip_spaces(i + "bearer ".len());
        let end = text[j..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/=".contains(c)))
            .map_or(text.len(), |n| j + n);
        if end - j >= 8 {
            spans.push((j, end));
        }
    }
    spans.sort();
    for (start, end) in spans {
        if start < copied || end <= start || text[start..].starts_with(MASK) {
            continue;
        }
        found.push(text[start..end].to_string());
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The password of a URL's userinfo (last `@` rule), as typed.
pub fn url_password(url: &str) -> Option<String> {
    let (_, after) = url.split_once("://")?;
    let token = &after[..token_end(after)];
    let (user, at) = userinfo_split(token)?;
    Some(token[user.len() + 1..at].to_string())
}

/// `url` without its userinfo (`scheme://user:pw@host/…` → `scheme://host/…`): for URLs that
/// are printed or written into answers, such as hyperlinks built on `--api-url`.
pub fn strip_userinfo(url: &str) -> String {
    let Some((scheme, after)) = url.split_once("://") else {
        return url.to_string();
    };
    if let Ok(u) = url::Url::parse(url) {
        if u.username().is_empty() && u.password().is_none() {
            return url.to_string();
        }
    }
    let token = &after[..token_end(after)];
    let at = userinfo_split(token).map(|(_, at)| at).or_else(|| {
        let authority = &token[..token.find(['/', '?', '#']).unwrap_or(token.len())];
        authority.rfind('@')
    });
    match at {
        Some(at) => format!("{scheme}://{}", &after[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
