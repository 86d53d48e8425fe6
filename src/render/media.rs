//! Media and capture URLs (spec §3.11, §3.12).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters Django's storage `url()` (urllib `quote` with safe `/~!*()'`) leaves as they are.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/')
    .remove(b'!')
    .remove(b'*')
    .remove(b'(')
    .remove(b')')
    .remove(b'\'');

/// The media URL of a detection path; `None` for NULL or `""` paths.
pub fn media_url(path: Option<&str>, media_base: &str) -> Option<String> {
    let path = path.filter(|p| !p.is_empty())?;
    Some(media_url_of(path, media_base))
}

/// The media URL of any path, `""` included (the JSON export keeps `""` as the base alone).
pub fn media_url_of(path: &str, media_base: &str) -> String {
    let mut url = String::new();
    push_media_url(&mut url, path, media_base);
    url
}

/// [`media_url_of`] appended to `out` (an export writes millions, without a String each).
pub fn push_media_url(out: &mut String, path: &str, media_base: &str) {
    if path.starts_with("http") {
        out.push_str(path);
        return;
    }
    out.push_str(media_base);
    out.extend(utf8_percent_encode(path.trim_start_matches('/'), KEEP));
}

/// An `ImageField` as DRF renders it with the request (a user's avatar, a project's or a
/// deployment's image): null when empty, else the storage URL, made absolute with `api_base`
/// when it is a path on this host.
pub fn absolute_media_url(path: Option<&str>, media_base: &str, api_base: &str) -> Option<String> {
    let url = media_url(path, media_base)?;
    Some(match url.starts_with('/') {
        true => format!("{}{url}", api_base.trim_end_matches('/')),
        false => url,
    })
}

/// Schemes Python's `urljoin` resolves relative references for.
const RELATIVE_SCHEMES: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "imap", "wais", "file", "https", "shttp", "mms",
    "prospero", "rtsp", "rtspu", "sftp", "svn", "svn+ssh", "ws", "wss",
];

/// Python's `urljoin(base, path.lstrip("/"))` for a capture path (spec §3.12 step 2): relative
/// resolution against the base's directory, without re-encoding any character. A base whose
/// scheme Python does not resolve against (e.g. `s3://`) gives the path itself.
pub fn urljoin(base: &str, path: &str) -> String {
    let path = path.trim_start_matches('/');
    let relative = url::Url::parse(base).is_ok_and(|u| RELATIVE_SCHEMES.contains(&u.scheme()));
    if !relative || url::Url::parse(path).is_ok() {
        return path.to_string();
    }
    if path.is_empty() {
        return base.to_string();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    match base[authority_end..].rfind('/') {
        Some(i) => format!("{}{path}", &base[..authority_end + i + 1]),
        None => format!("{base}/{path}"),
    }
}

/// The detail capture `url`: the joined URL when the cached base is non-empty and the result
/// has a host, else `None`. (Presigned S3 URLs — step 1 — are not reproducible offline.)
pub fn capture_url(public_base_url: Option<&str>, path: &str) -> Option<String> {
    let joined = urljoin(public_base_url.filter(|b| !b.is_empty())?, path);
    let parsed = url::Url::parse(&joined).ok()?;
    parsed.host_str().filter(|h| !h.is_empty())?;
    Some(joined)
}

/// [`capture_url`] for many paths: the base's part of the join (its directory, and whether the
/// result has a host) is worked out once per base, not with three URL parses per capture.
#[derive(Default)]
pub struct CaptureUrls {
    /// The last base seen, and the prefix every path without a scheme joins it as (`None`
    /// when its joins are left to [`capture_url`]).
    last: Option<(String, Option<String>)>,
}

impl CaptureUrls {
    /// Exactly [`capture_url`]`(public_base_url, path)`.
    pub fn url(&mut self, public_base_url: Option<&str>, path: &str) -> Option<String> {
        let base = public_base_url.filter(|b| !b.is_empty())?;
        let trimmed = path.trim_start_matches('/');
        if !trimmed.is_empty() && !may_have_scheme(trimmed) {
            if self.last.as_ref().map(|(b, _)| b.as_str()) != Some(base) {
                self.last = Some((base.to_string(), joining_prefix(base)));
            }
            if let Some((_, Some(prefix))) = &self.last {
                let mut url = String::with_capacity(prefix.len() + trimmed.len());
                url.push_str(prefix);
                url.push_str(trimmed);
                return Some(url);
            }
        }
        capture_url(Some(base), path)
    }
}

/// Whether a URL parser could read a scheme at the start of `path` (then `urljoin` may keep
/// the path as it is): an ASCII letter followed by scheme characters up to a `:`; a tab or a
/// newline there (parsers drop them) or a leading control character or space counts too.
fn may_have_scheme(path: &str) -> bool {
    let b = path.as_bytes();
    match b.first() {
        None => false,
        Some(c) if *c <= b' ' => true,
        Some(c) if !c.is_ascii_alphabetic() => false,
        Some(_) => {
            for c in &b[1..] {
                match c {
                    b':' | b'\t' | b'\n' | b'\r' => return true,
                    c if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.') => {}
                    _ => return false,
                }
            }
            false
        }
    }
}

/// The prefix [`urljoin`] puts before any non-empty, scheme-less path on `base`, when the
/// joined URL always has the same non-empty host: an `http(s)` base (a `file` URL's host
/// goes when its path starts with a drive letter) without spaces or control characters (a
/// parser drops tabs and newlines, and then skips any slashes after `://`), with an authority
/// that a `/` ends inside the prefix, and a prefix that parses with a host. Other bases are
/// joined by [`capture_url`] itself.
fn joining_prefix(base: &str) -> Option<String> {
    if base.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let parsed = url::Url::parse(base).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let authority_end = base.find("://")? + 3;
    let authority = &base[authority_end..];
    if authority.is_empty() || authority.starts_with(['/', '\\']) {
        return None;
    }
    let prefix = match authority.rfind('/') {
        Some(i) => base[..authority_end + i + 1].to_string(),
        None => format!("{base}/"),
    };
    let probe = url::Url::parse(&format!("{prefix}x")).ok()?;
    probe.host_str().filter(|h| !h.is_empty())?;
    Some(prefix)
}

/// The CSV `best_detection_capture_url`: step 2 only — both the base and the path non-empty,
/// no presigning and no host check.
pub fn csv_capture_url(public_base_url: Option<&str>, path: Option<&str>) -> Option<String> {
    let base = public_base_url.filter(|b| !b.is_empty())?;
    Some(urljoin(base, path.filter(|p| !p.is_empty())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_fields_are_absolute_urls() {
        let abs = |p, media| absolute_media_url(p, media, "http://testserver/");
        assert_eq!(abs(None, "/media/"), None);
        assert_eq!(abs(Some(""), "/media/"), None);
        assert_eq!(
            abs(Some("avatars/a b.png"), "/media/").as_deref(),
            Some("http://testserver/media/avatars/a%20b.png")
        );
        assert_eq!(
            abs(
                Some("avatars/a.png"),
                "https://bucket.s3.amazonaws.com/uploads/"
            )
            .as_deref(),
            Some("https://bucket.s3.amazonaws.com/uploads/avatars/a.png")
        );
    }

    #[test]
    fn media_urls_follow_django_storage() {
        assert_eq!(media_url(None, "/media/"), None);
        assert_eq!(media_url(Some(""), "/media/"), None);
        assert_eq!(
            media_url(Some("/detections/edge/leading slash é.jpg"), "/media/").unwrap(),
            "/media/detections/edge/leading%20slash%20%C3%A9.jpg"
        );
        assert_eq!(
            media_url(Some("http://x/a b.jpg"), "/media/").unwrap(),
            "http://x/a b.jpg"
        );
        assert_eq!(
            media_url(Some("a+b#c:d"), "/media/").unwrap(),
            "/media/a%2Bb%23c%3Ad"
        );
    }

    #[test]
    fn capture_urls_joined_once_per_base_are_capture_url() {
        let bases = [
            "https://h/bucket",
            "https://h/bucket/",
            "https://h",
            "https://h?q=1/x",
            "https://h/a/b#f/g",
            "https://user:pw@h:8080/dir/",
            "https://h:99999/dir/",
            "https:///dir/",
            "https:h/dir/",
            "https://\\h/dir/",
            "http://h\\dir/",
            "HTTP://H/D/",
            "http://\t/h",
            "http://\n/bucket",
            "http://\t\\/h",
            "file://h/",
            "file://h",
            "file://h/d/",
            "s3://bucket/",
            "file:///data/",
            "ftp://h/x",
            "mailto:a@b",
            "not a url",
            "",
        ];
        let paths = [
            "a/b.jpg",
            "/a/b.jpg",
            "//a.jpg",
            "",
            "/",
            "a b.jpg",
            "a?b#c",
            "http://other/x.jpg",
            "https:x.jpg",
            "h\ttp://other/x",
            " http://other/x",
            "\u{1}a.jpg",
            "1a:b.jpg",
            "a+b.c-d:e",
            "a+b.c-d/e:f",
            "\\\\evil/x",
            "..\\x",
            "../x",
            "é:x",
            "%41.jpg",
            "1:x/y.jpg",
            "[x/y.jpg",
            "?x",
            "C|/x.jpg",
            "./C:/x.jpg",
            "../C|/x",
        ];
        let mut urls = CaptureUrls::default();
        for _ in 0..2 {
            for base in bases {
                for path in paths {
                    assert_eq!(
                        urls.url(Some(base), path),
                        capture_url(Some(base), path),
                        "{base:?} {path:?}"
                    );
                }
            }
        }
        assert_eq!(urls.url(None, "a.jpg"), None);
    }

    #[test]
    fn capture_urls_follow_urljoin() {
        assert_eq!(
            capture_url(Some("https://h/bucket"), "a/b.jpg").unwrap(),
            "https://h/a/b.jpg"
        );
        assert_eq!(
            capture_url(Some("https://h/bucket/"), "/a/b.jpg").unwrap(),
            "https://h/bucket/a/b.jpg"
        );
        assert_eq!(capture_url(Some("s3://bucket/"), "a.jpg"), None);
        assert_eq!(capture_url(None, "a.jpg"), None);
        assert_eq!(capture_url(Some(""), "a.jpg"), None);
        assert_eq!(
            capture_url(Some("https://h/b/"), "a b.jpg").unwrap(),
            "https://h/b/a b.jpg"
        );
        assert_eq!(
            csv_capture_url(Some("s3://bucket/"), Some("a.jpg")).unwrap(),
            "a.jpg"
        );
        assert_eq!(csv_capture_url(Some("https://h/b/"), Some("")), None);
    }
}
