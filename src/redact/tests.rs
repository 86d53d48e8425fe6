//! Every form of secret `redact` removes.
use super::*;

fn no_secret(text: &str, secret: &str) -> String {
    let r = redact(text);
    assert!(!r.contains(secret), "{secret} in {r} (from {text})");
    r
}

#[test]
fn url_passwords() {
    assert_eq!(
        redact("postgres://ami:s3cret@db.example:5432/antenna"),
        "postgres://ami:***@db.example:5432/antenna"
    );
    assert_eq!(
        redact("postgres://ami@db/antenna"),
        "postgres://ami@db/antenna"
    );
    assert_eq!(
        redact("GET http://user:pw@127.0.0.1:1/x: cannot connect"),
        "GET http://user:***@127.0.0.1:1/x: cannot connect"
    );
    assert_eq!(
        redact("error sending request for url (https://u:p%40ss@h/snap/_snapshot.json)"),
        "error sending request for url (https://u:***@h/snap/_snapshot.json)"
    );
    // A scheme-relative URL (a batch line, a `--urls` line).
    assert_eq!(
        redact("//alice:S3CRETPW@example.org/api/v2/occurrences/?project_id=1"),
        "//alice:***@example.org/api/v2/occurrences/?project_id=1"
    );
    // Idempotent.
    let once = redact("s3://k:secretkey@bucket/p");
    assert_eq!(redact(&once), once);
    // Several URLs in one text.
    assert_eq!(
        redact("a http://a:b1@h1/ b 'https://c:d2@h2' c"),
        "a http://a:***@h1/ b 'https://c:***@h2' c"
    );
    // A user name alone in a web or object-store URL is a token (`https://TOKEN@host`).
    for (url, masked) in [
        ("https://SECRETTOK3@h.example/x", "https://***@h.example/x"),
        ("http://user@host:8080/x", "http://***@host:8080/x"),
        ("S3://AKIAXYZ123@bucket/snap", "S3://***@bucket/snap"),
        (
            "see gs://tok@b/p/a@b.parquet.",
            "see gs://***@b/p/a@b.parquet.",
        ),
        (
            "git+https://ghp_tok@github.com/o/r",
            "git+https://***@github.com/o/r",
        ),
    ] {
        assert_eq!(redact(url), masked, "{url}");
    }
    // Not a password: a user only in other schemes, an @ in the path or query, a port.
    for plain in [
        "http://host/path?email=a@b.c",
        "http://host/a@b",
        "postgres://user@host:5432/db",
        "ssh://git@github.com/x",
        "http://host:8080/x",
        "mailto:a@b.c",
        "no url at all: a@b",
    ] {
        assert_eq!(redact(plain), plain);
    }
}

#[test]
fn url_passwords_with_special_characters() {
    for c in ['@', '/', '?', '#', '%', ':', '='] {
        let pw = format!("Pa{c}ss{c}wd9");
        let url = format!("postgres://u:{pw}@127.0.0.1:1/db");
        let r = no_secret(&url, &pw);
        assert_eq!(r, "postgres://u:***@127.0.0.1:1/db", "{c}");
        assert_eq!(url_password(&url).as_deref(), Some(pw.as_str()));
        // Inside a message, followed by more text.
        let r = no_secret(&format!("--from {url}: cannot connect"), &pw);
        assert!(r.ends_with("@127.0.0.1:1/db: cannot connect"), "{r}");
    }
    let pw = "S3cr@t/?#%:=x";
    let r = no_secret(&format!("x postgres://u:{pw}@127.0.0.1:1/db y"), pw);
    assert_eq!(r, "x postgres://u:***@127.0.0.1:1/db y");
    for part in ["S3cr", "t/?#", "%:=x"] {
        assert!(!r.contains(part), "{r}");
    }
}

#[test]
fn secret_query_parameters() {
    // A percent-encoded name is the same name to a server.
    assert_eq!(
        redact("GET /api/v2/occurrences/?project_id=1&tok%65n=SECRETTOK3 200"),
        "GET /api/v2/occurrences/?project_id=1&tok%65n=*** 200"
    );
    assert_eq!(
        redact("https://h/snap?X-Amz-Signature=abc123&X-Amz-Credential=AKIA%2F2024&x=1"),
        "https://h/snap?X-Amz-Signature=***&X-Amz-Credential=***&x=1"
    );
    assert_eq!(
        redact("https://h/s?X-Amz-Security-Token=tok&X-Goog-Signature=gs#frag"),
        "https://h/s?X-Amz-Security-Token=***&X-Goog-Signature=***#frag"
    );
    for name in [
        "password",
        "PassWord",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "sig",
        "signature",
        "secret",
        "key",
        "apikey",
        "api_key",
        "credential",
        "X-Amz-Signature",
        "x-amz-credential",
        "X-Amz-Security-Token",
        "X-Goog-Credential",
        "client_secret",
    ] {
        let text = format!("failed: https://h/p?a=1&{name}=V4lue%2B/x&b=2 (404)");
        let r = no_secret(&text, "V4lue");
        assert_eq!(r, format!("failed: https://h/p?a=1&{name}=***&b=2 (404)"));
    }
    assert_eq!(
        redact("postgres://u@127.0.0.1:1/db?password=S3cretPw&sslmode=disable"),
        "postgres://u@127.0.0.1:1/db?password=***&sslmode=disable"
    );
    assert_eq!(
        redact("/api/v2/occurrences/?project_id=1&limit=5"),
        "/api/v2/occurrences/?project_id=1&limit=5"
    );
    assert_eq!(redact("#access_token=abcd&x=1"), "#access_token=***&x=1");
}

#[test]
fn conninfo_passwords() {
    assert_eq!(
        redact("--from host=127.0.0.1 port=1 password=S3cretPw user=u: cannot connect"),
        "--from host=127.0.0.1 port=1 password=*** user=u: cannot connect"
    );
    assert_eq!(
        redact(r"host=h password='se cret\'x' user=u"),
        "host=h password=*** user=u"
    );
    assert_eq!(
        redact("host=h password = 'a b' dbname=d"),
        "host=h password = *** dbname=d"
    );
    assert_eq!(redact("'host=h password=pw12'"), "'host=h password=***'");
    assert_eq!(redact("password=\"q u o\" x"), "password=*** x");
    for c in ['@', '/', '?', '#', '%', ':', '='] {
        let pw = format!("Pa{c}ss{c}wd9");
        no_secret(&format!("host=h password={pw} user=u"), &pw);
        no_secret(&format!("host=h password='{pw} x' user=u"), &pw);
    }
    let mut found = Vec::new();
    structural(r"host=h password='se cret\'x'", &mut found);
    assert!(found.contains(&"se cret'x".to_string()), "{found:?}");
}

#[test]
fn authorization_values() {
    assert_eq!(
        redact("Authorization: Token abcdef0123"),
        "Authorization: Token ***"
    );
    assert_eq!(
        redact("authorization: Bearer eyJ.a.b, next"),
        "authorization: Bearer ***, next"
    );
    assert_eq!(
        redact("Authorization=Basic dXNlcjpwdw=="),
        "Authorization=Basic ***"
    );
    assert_eq!(
        redact("\"Authorization\": \"Token abcd\""),
        "\"Authorization\": \"Token ***\""
    );
    assert_eq!(redact("sent Bearer abcdefghijkl"), "sent Bearer ***");
    assert_eq!(redact("a bearer token"), "a bearer token");
    // Names seen in the wild beside the usual ones.
    for (name, value) in [
        ("auth", "Xq1"),
        ("jwt", "e.y.J"),
        ("sessionid", "abc9"),
        ("sas", "sv9"),
    ] {
        let url = format!("https://h/snap?{name}={value}&project_id=1");
        assert_eq!(
            redact(&url),
            format!("https://h/snap?{name}=***&project_id=1")
        );
    }
}

#[test]
fn mistyped_url_passwords() {
    for (text, masked) in [
        (
            "--from postgres:/user:hunter2@127.0.0.1:1/db: expected",
            "--from postgres:/user:***@127.0.0.1:1/db: expected",
        ),
        (
            "postgres:user:hunter2@127.0.0.1:1/db",
            "postgres:***@127.0.0.1:1/db",
        ),
        (
            "postgres//user:hunter2@127.0.0.1:1/db",
            "postgres//user:***@127.0.0.1:1/db",
        ),
        (
            "--from user:hunter2@127.0.0.1:1/db: expected a postgres:// URL",
            "--from user:***@127.0.0.1:1/db: expected a postgres:// URL",
        ),
        (
            "--cluster user:hunter2@h:1: unknown scheme",
            "--cluster user:***@h:1: unknown scheme",
        ),
        ("'u:p@ss,w)rd@h:5432/db'", "'u:***@h:5432/db'"),
        ("(postgres:u:pw12@h:5432/db)", "(postgres:***@h:5432/db)"),
    ] {
        assert_eq!(redact(text), masked, "{text}");
        assert_eq!(redact(masked), masked, "idempotent: {masked}");
    }
    for plain in [
        "mailto:a@b.c",
        "mailto:a@b.c: see",
        "a@b",
        "at 10:30 a@b",
        "user@host:5432/db",
        // Paths: their pieces are no password.
        "/mnt/snaps/antenna:prod@2024-06/",
        "./antenna:prod@2024-06/x",
        "~/antenna:prod@2024-06/x",
        "C:/Users/me@corp/snap",
        "/api/v2/taxa/?search=a:b@c/d",
    ] {
        assert_eq!(redact(plain), plain);
    }
    // Nothing it masks is registered: other texts keep those characters.
    register_secrets_in("x postgres:u:prodpw7@h:1/db /mnt/antenna:prod7@2024-06/");
    assert_eq!(redact("production7 prodpw7"), "production7 prodpw7");
}

#[test]
fn userinfo_stripped() {
    assert_eq!(
        strip_userinfo("http://user:S3cr@t/?#%:=x@127.0.0.1:1/a"),
        "http://127.0.0.1:1/a"
    );
    assert_eq!(strip_userinfo("https://user@h"), "https://h");
    assert_eq!(
        strip_userinfo("https://h:8000/x?e=a@b"),
        "https://h:8000/x?e=a@b"
    );
    assert_eq!(strip_userinfo("/relative"), "/relative");
}

#[test]
fn json_strings() {
    let mut v = serde_json::json!({"url": "http://u:pw12@h/?sig=abc", "n": 1,
                                   "list": ["password=x y", {"token=t1": "k"}]});
    redact_json(&mut v);
    assert_eq!(
        v,
        serde_json::json!({"url": "http://u:***@h/?sig=***", "n": 1,
                           "list": ["password=*** y", {"token=***": "k"}]})
    );
}

#[test]
fn registered_secrets_in_every_form() {
    let pw = "Reg1st/er@d Pw?#%:=";
    register_secret(pw);
    register_secret("abc"); // too short: ignored
    assert_eq!(redact("abc"), "abc");
    no_secret(&format!("library said: bad password {pw}!"), pw);
    let encoded = utf8_percent_encode(pw, NON_ALPHANUMERIC).to_string();
    let r = no_secret(&format!("x {encoded} y"), &encoded);
    assert_eq!(r, "x *** y");
    let lower = lower_hex(&encoded);
    no_secret(&format!("x {lower} y"), &lower);
    let form: String = url::form_urlencoded::byte_serialize(pw.as_bytes()).collect();
    no_secret(&format!("x {form} y"), &form);
    // A registered percent-encoded password is also removed decoded.
    register_secret("Enc%2Fod%40ed");
    assert_eq!(redact("got Enc/od@ed here"), "got *** here");
    // register_secrets_in: what the structural rules find.
    register_secrets_in("https://u:Found%2FPw1@h/x?token=Tok3nValue");
    assert_eq!(redact("Found/Pw1 and Tok3nValue"), "*** and ***");
}

#[test]
fn registered_secrets_as_tokens_only() {
    // Masked inside other words, a short password garbles the message and spells itself out
    // ("cannot ***ect": the password is `conn`); only where it stands on its own is it masked.
    // (The registry is the process's: these strings appear in no other test's text.)
    register_secret("kunn");
    register_secret("10.9.8");
    register_secret("snapzhot");
    assert_eq!(
        redact("postgres://ami@10.9.8.7:9/antenna: cannot kunnect: error kunnecting"),
        "postgres://ami@10.9.8.7:9/antenna: cannot kunnect: error kunnecting"
    );
    assert_eq!(
        redact("http://h/x: _snapzhot.json cannot be read; snapzhots"),
        "http://h/x: _snapzhot.json cannot be read; snapzhots"
    );
    // Where a library would quote it back, delimited: masked.
    for (text, masked) in [
        ("password=kunn failed", "password=*** failed"),
        ("bad password 'kunn'.", "bad password '***'."),
        ("the password is kunn.", "the password is ***."),
        ("u%3Akunn%40h and kunn-", "u%3A***%40h and ***-"),
        ("u%253Akunn%2540h", "u%253A***%2540h"),
        (
            r#"Execution("bad value\nkunn")"#,
            r#"Execution("bad value\n***")"#,
        ),
        (r#"b"\r\nkunn\tkunn\0""#, r#"b"\r\n***\t***\0""#),
        (r"x\u000akunn \x0akunn", r"x\u000a*** \x0a***"),
        ("tried 10.9.8 and snapzhot", "tried *** and ***"),
        (
            "v1.kunn and kunn.v2 and snapzhot_x",
            "v1.kunn and kunn.v2 and snapzhot_x",
        ),
    ] {
        assert_eq!(redact(text), masked, "{text}");
    }
    // A non-word character at the secret's edge needs no boundary on that side.
    register_secret("@tayl!");
    assert_eq!(redact("x@tayl!y"), "x***y");
    // Overlapping candidates: the one standing on its own is found.
    register_secret("qbqb");
    assert_eq!(redact("xqbqb qbqb"), "xqbqb ***");
}
