//! Connecting to PostgreSQL: a `postgres://` URL, the password from the URL, `PGPASSWORD` or
//! the password file (`PGPASSFILE`, else `~/.pgpass`), and a display form without it.

use crate::error::{Error, Result};
use std::str::FromStr;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

/// A parsed source: the driver's configuration and the URL as it may be printed.
pub struct PgSource {
    pub config: Config,
    /// `postgres://user@host:port/db`, never with a password.
    pub display: String,
}

fn host_name(config: &Config) -> String {
    match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    }
}

/// Parse `url` (a `postgres://` URL or a libpq `key=value` connection string) and fill in what
/// it leaves out: the user (`PGUSER`, `USER`), the database (the user's name) and the password
/// (`PGPASSWORD`, then the password file). Every password found is registered as a secret
/// ([`crate::redact::register_secret`]): no message quotes it back.
pub fn source(url: &str) -> Result<PgSource> {
    crate::redact::register_secrets_in(url);
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !is_url && !url.contains('=') {
        return Err(Error::Usage(format!(
            "--from {}: expected a postgres:// URL or a libpq connection string (host=… dbname=… user=…)",
            redact(url)
        )));
    }
    let normalized = if is_url {
        encode_userinfo(url)
    } else {
        url.to_string()
    };
    let mut config = Config::from_str(&normalized)
        .map_err(|e| Error::Usage(format!("--from {}: {e}", redact(url))))?;
    if config.get_user().is_none() {
        let user = std::env::var("PGUSER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "postgres".into());
        config.user(&user);
    }
    let user = config.get_user().unwrap_or_default().to_string();
    if config.get_dbname().is_none() {
        config.dbname(&user);
    }
    let host = host_name(&config);
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or_default().to_string();
    if config.get_password().is_none() {
        if let Ok(p) = std::env::var("PGPASSWORD") {
            config.password(p);
        } else if let Some(p) = pgpass(&host, port, &db, &user) {
            config.password(p);
        }
    }
    if let Some(p) = config.get_password() {
        crate::redact::register_secret(&String::from_utf8_lossy(p));
    }
    Ok(PgSource {
        config,
        display: redact(&format!("postgres://{user}@{host}:{port}/{db}")),
    })
}

/// `url` with any secret replaced by `***` (see [`crate::redact`]).
pub fn redact(url: &str) -> String {
    crate::redact::redact(url)
}

/// `postgres://user:pa@ss/w?rd@host/db` as the driver parses it: the driver ends the userinfo
/// at the first `@`, so `@ / ? #` in the user and password (ended by the last `@`, see
/// [`crate::redact`]) are percent-encoded.
fn encode_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some(password) = crate::redact::url_password(url) else {
        return url.to_string();
    };
    let Some((user, tail)) = rest.split_once(':') else {
        return url.to_string();
    };
    let Some(host) = tail
        .strip_prefix(password.as_str())
        .and_then(|t| t.strip_prefix('@'))
    else {
        return url.to_string();
    };
    let encode = |s: &str| {
        s.replace('@', "%40")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('#', "%23")
    };
    format!("{scheme}://{}:{}@{host}", encode(user), encode(&password))
}

/// The password of the first matching line of the password file
/// (`hostname:port:database:username:password`, `*` matches anything, `\` escapes).
fn pgpass(host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split_pgpass(line);
            if fields.len() != 5 {
                return None;
            }
            let ok = |f: &str, v: &str| f == "*" || f == v;
            (ok(&fields[0], host)
                && ok(&fields[1], &port)
                && ok(&fields[2], db)
                && ok(&fields[3], user))
            .then(|| fields[4].clone())
        })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("one field").push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// How long a connection may take when the URL does not say (`connect_timeout`).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Connect (without TLS); the connection task runs on the runtime. Errors are one line naming
/// the server, never the password.
/// The whole connection (TCP, then the server's startup answers) is bounded by the URL's
/// `connect_timeout`, else [`CONNECT_TIMEOUT`]: a listener that accepts and never answers is
/// an error, not a hang (tokio-postgres bounds the TCP connect only).
pub async fn connect(source: &PgSource) -> Result<Client> {
    let limit = source
        .config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    let connecting = source.config.connect(NoTls);
    let (client, connection) = match tokio::time::timeout(limit, connecting).await {
        Ok(connected) => connected.map_err(|e| {
            Error::postgres(format!(
                "{}: cannot connect: {}",
                source.display,
                one_line(&e)
            ))
            .because(e)
        })?,
        Err(_) => {
            return Err(Error::postgres(format!(
                "{}: cannot connect: no answer from the server within {} s (set connect_timeout=SECONDS in the URL to wait longer)",
                source.display,
                limit.as_secs()
            )))
        }
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A driver error as one line: the server's message when there is one, else the cause chain.
pub fn one_line(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    crate::error::chain(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_with_at_signs_reach_the_driver() {
        let s = source("postgres://u:S3cr@t/?#%:=x@127.0.0.1:1/db").unwrap();
        assert_eq!(s.config.get_password(), Some("S3cr@t/?#%:=x".as_bytes()));
        assert_eq!(s.display, "postgres://u@127.0.0.1:1/db");
        let s = source("host=127.0.0.1 port=1 password='se cret' user=u dbname=d").unwrap();
        assert_eq!(s.config.get_password(), Some("se cret".as_bytes()));
        assert_eq!(s.display, "postgres://u@127.0.0.1:1/d");
        assert!(source("not a url").is_err());
    }

    #[test]
    fn pgpass_fields() {
        assert_eq!(
            split_pgpass(r"db\:1:5432:*:ami:pa\:ss:word"),
            vec!["db:1", "5432", "*", "ami", "pa:ss:word"]
        );
    }
}
