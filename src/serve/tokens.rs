//! `--tokens FILE`: DRF's `Authorization: Token …` keys mapped to requesters. The file holds
//! one `TOKEN REQUESTER` per line (`anonymous`, `superuser[:id]` or `user:ID`; blank lines and
//! `#` comments skipped) and must not be readable by others (mode 0600). Tokens are compared
//! in constant time and never printed.

use crate::api::request::Requester;
use crate::error::{Error, Result};
use subtle::ConstantTimeEq;

pub struct Tokens(Vec<(Vec<u8>, Requester)>);

/// Why a request's credentials were refused: DRF's 401 body text.
pub struct Refused(pub &'static str);

impl Tokens {
    /// Read `path`, refusing a file others can read or write.
    pub fn load(path: &std::path::Path) -> Result<Tokens> {
        let shown = path.display();
        let meta =
            std::fs::metadata(path).map_err(|e| Error::Usage(format!("--tokens {shown}: {e}")))?;
        if !meta.is_file() {
            return Err(Error::Usage(format!(
                "--tokens {shown}: not a regular file"
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::Usage(format!(
                    "--tokens {shown}: permissions {mode:04o} let other users read it; \
                     expected 0600 (chmod 600 {shown})"
                )));
            }
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("--tokens {shown}: {e}")))?;
        Self::parse(&text).map_err(|e| Error::Usage(format!("--tokens {shown}: {e}")))
    }

    fn parse(text: &str) -> std::result::Result<Tokens, String> {
        let mut entries: Vec<(Vec<u8>, Requester)> = Vec::new();
        // A byte order mark (an editor's) is not part of the first token.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(token), Some(who), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!(
                    "line {}: expected TOKEN REQUESTER (anonymous, superuser[:id] or user:ID)",
                    n + 1
                ));
            };
            // The field is not quoted: with the columns swapped, or `Token KEY` pasted from
            // a header, it is the token.
            let who: Requester = who.parse().map_err(|_| {
                let hint = if token.eq_ignore_ascii_case("token") {
                    " (a line is `KEY REQUESTER`, without DRF's `Token` prefix)"
                } else if token.parse::<Requester>().is_ok() {
                    " (the token comes first, then the requester)"
                } else {
                    ""
                };
                format!(
                    "line {}: the second field is not a requester: expected TOKEN followed by anonymous, superuser[:id] or user:ID{hint}",
                    n + 1
                )
            })?;
            if entries.iter().any(|(t, _)| t == token.as_bytes()) {
                return Err(format!("line {}: the token is listed twice", n + 1));
            }
            entries.push((token.as_bytes().to_vec(), who));
        }
        if entries.is_empty() {
            return Err("no tokens".into());
        }
        Ok(Tokens(entries))
    }

    /// No tokens: every `Token …` header is refused (there is no key it could be).
    pub fn none() -> Tokens {
        Tokens(Vec::new())
    }

    /// The requester of an `Authorization` header value, as DRF's TokenAuthentication reads
    /// it: another scheme is not ours (None: the default requester); `Token KEY` is KEY's
    /// requester or refused.
    pub fn requester(&self, header: &[u8]) -> std::result::Result<Option<Requester>, Refused> {
        // Python's `bytes.split()`: runs of ASCII whitespace (a tab too) separate the words.
        let mut words = header
            .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
            .filter(|w| !w.is_empty());
        if !words
            .next()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"token"))
        {
            return Ok(None);
        }
        let (key, extra) = (words.next(), words.next());
        let Some(key) = key else {
            return Err(Refused("Invalid token header. No credentials provided."));
        };
        if extra.is_some() {
            return Err(Refused(
                "Invalid token header. Token string should not contain spaces.",
            ));
        }
        // `auth[1].decode()`: a key that is not UTF-8 is refused before any lookup.
        if std::str::from_utf8(key).is_err() {
            return Err(Refused(
                "Invalid token header. Token string should not contain invalid characters.",
            ));
        }
        // Every entry is compared, whichever matches.
        let mut found = None;
        for (token, who) in &self.0 {
            if bool::from(token.as_slice().ct_eq(key)) {
                found = Some(who.clone());
            }
        }
        found.map(Some).ok_or(Refused("Invalid token."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_named_without_quoting_the_token() {
        for (text, hint) in [
            ("superuser:2 SECRETTOK3\n", "the token comes first"),
            ("Token SECRETTOK3\n", "without DRF's `Token` prefix"),
            ("SECRETTOK3 admin\n", "expected TOKEN followed by anonymous"),
        ] {
            let Err(e) = Tokens::parse(text) else {
                panic!("{text:?} parsed")
            };
            assert!(e.starts_with("line 1: ") && e.contains(hint), "{e}");
            assert!(!e.contains("SECRETTOK3"), "{e}");
        }
    }

    #[test]
    fn tokens_map_to_requesters_as_drf_reads_the_header() {
        let t = Tokens::parse("# ops\nabc superuser:2\n\ndef user:7\n").unwrap();
        assert_eq!(
            t.requester(b"Token abc").ok().flatten(),
            Some(Requester::Superuser(Some(2)))
        );
        assert_eq!(
            t.requester(b"token def").ok().flatten(),
            Some(Requester::User(7))
        );
        assert_eq!(t.requester(b"Bearer abc").ok().flatten(), None);
        assert_eq!(
            t.requester(b"Token nope").err().map(|r| r.0),
            Some("Invalid token.")
        );
        // DRF splits the header on any ASCII whitespace, and decodes the key as UTF-8.
        assert_eq!(
            t.requester(b"Token\tabc").ok().flatten(),
            Some(Requester::Superuser(Some(2)))
        );
        assert_eq!(
            t.requester(b"Token abc\tx").err().map(|r| r.0),
            Some("Invalid token header. Token string should not contain spaces.")
        );
        assert_eq!(
            t.requester(b"Token \xe9t\xe9").err().map(|r| r.0),
            Some("Invalid token header. Token string should not contain invalid characters.")
        );
        assert!(t.requester(b"Token").is_err());
        assert!(t.requester(b"Token a b").is_err());
        // An editor's byte order mark is not part of the first token.
        let bom = Tokens::parse("\u{feff}abc user:7\n").unwrap();
        assert_eq!(
            bom.requester(b"Token abc").ok().flatten(),
            Some(Requester::User(7))
        );
        assert!(Tokens::parse("abc").is_err());
        assert!(Tokens::parse("abc user:x").is_err());
        assert!(Tokens::parse("a user:1\na user:2").is_err());
        assert!(Tokens::parse("\n# nothing\n").is_err());
    }
}
