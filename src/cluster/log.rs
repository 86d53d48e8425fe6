//! Ballista's log records on stderr, for finding why a cluster job does not end: every
//! process of a cluster (client, scheduler, executor) prints those at or above
//! `OCCLENS_LOG` (`error`, `warn`, `info`, `debug` or `trace`); without it (or empty), nothing.

use crate::error::{Error, Result};

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target().starts_with("ballista")
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            // Plans and task descriptions carry paths, never credentials (object stores are
            // opened from the environment); URLs are redacted all the same.
            let text = crate::redact::redact(&r.args().to_string());
            eprintln!("[{} {}] {}", r.level(), r.target(), text);
        }
    }

    fn flush(&self) {}
}

static STDERR: Stderr = Stderr;

/// Install the logger when `OCCLENS_LOG` names a level (once per process).
pub fn install() -> Result<()> {
    let level = std::env::var("OCCLENS_LOG").unwrap_or_default();
    if level.trim().is_empty() {
        return Ok(());
    }
    let filter: log::LevelFilter = level.trim().parse().map_err(|_| {
        Error::Usage(format!(
            "OCCLENS_LOG={level:?}: not a level (expected error, warn, info, debug or trace)"
        ))
    })?;
    if log::set_logger(&STDERR).is_ok() {
        log::set_max_level(filter);
    }
    Ok(())
}
