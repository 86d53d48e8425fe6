//! `occlens cache`: status, build and clear of the cache of derived tables.

use super::args::{CacheAction, CacheArgs, Cli};
use occlens::engine::cache::{self, Mode, Part, Settings};
use occlens::{Error, Result};
use std::process::ExitCode;

pub async fn cache(cli: &Cli, args: &CacheArgs) -> Result<ExitCode> {
    let settings = Settings {
        mode: cli.cache.into(),
        dir: cli.cache_dir.clone(),
        range_rows: None,
        ..Default::default()
    };
    let Some(root) = settings.root() else {
        return Err(Error::Usage(
            "no cache directory: set --cache-dir, OCCLENS_CACHE_DIR, XDG_CACHE_HOME or HOME".into(),
        ));
    };
    match args.action {
        CacheAction::Clear => {
            match cache::clear(&root) {
                Ok(cleared) => {
                    for p in &cleared.removed {
                        outln!("removed {}", p.display())?;
                    }
                    for p in &cleared.in_use {
                        outln!("in use by another occlens process, left: {}", p.display())?;
                    }
                    let others = cleared.others;
                    outln!(
                        "{} cache entries removed from {}{}{}",
                        cleared.removed.len(),
                        root.display(),
                        if cleared.in_use.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; {} in use by another process were left",
                                cleared.in_use.len()
                            )
                        },
                        if others > 0 {
                            format!("; {others} other entries there are not occlens's and were left alone")
                        } else {
                            String::new()
                        }
                    )?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    outln!("{} does not exist: nothing to clear", root.display())?
                }
                Err(e) => return Err(Error::io(root, e)),
            }
            Ok(ExitCode::SUCCESS)
        }
        CacheAction::Status | CacheAction::Build => {
            if settings.mode == Mode::Off {
                return Err(Error::Usage("--cache off: the cache is not used".into()));
            }
            let build = args.action == CacheAction::Build;
            let started = std::time::Instant::now();
            let mode = match (build, settings.mode) {
                (true, Mode::Auto) => Some(Mode::Build),
                _ => None,
            };
            let engine = super::open_with_mode(cli, super::LOCAL_BASE, &[], mode, None).await?;
            outln!("cache directory: {}", root.display())?;
            outln!("snapshot: {}", engine.snapshot.location)?;
            let mut damaged = false;
            for part in Part::ALL {
                let name = part.name();
                let dir = cache::directory(&settings, &engine.snapshot, cli.time_zone, part);
                match (&dir, engine.cached(part)) {
                    (None, _) => {
                        outln!("not cached (the built-in demo snapshot is never cached)")?;
                        break;
                    }
                    (Some(d), Some(_)) => {
                        // `--cache refresh` that had to keep it (the warning says why).
                        let state = match engine.cache_not_rebuilt.iter().any(|(p, _)| *p == part) {
                            true => "kept, not rebuilt",
                            false => "built",
                        };
                        outln!("{name}: {state}: {} ({} bytes)", d.display(), bytes(d))?;
                        if args.verify {
                            damaged |= verify(d, part, None, name)?;
                        }
                    }
                    (Some(d), None) => outln!(
                        "{name}: not built: {} (occlens --snapshot … cache build)",
                        d.display()
                    )?,
                }
                // The projects' entries first list requests built (read only until the
                // whole part is built).
                if part == Part::Lists && dir.is_some() {
                    let whole = engine.cached(part).is_some();
                    for (p, d) in &engine.project_entries() {
                        let unread = if whole {
                            " (not read: the whole part is built)"
                        } else {
                            ""
                        };
                        outln!(
                            "{name} of project {p}: built: {} ({} bytes){unread}",
                            d.display(),
                            bytes(d)
                        )?;
                        if args.verify {
                            damaged |=
                                verify(d, part, Some(*p), &format!("{name} of project {p}"))?;
                        }
                    }
                }
            }
            if damaged {
                return Ok(ExitCode::from(1));
            }
            // `--cache refresh cache build` that kept an entry did not do what it was asked:
            // exit 1 (its warning, printed when the snapshot was opened, is the one line).
            if !engine.cache_not_rebuilt.is_empty() {
                return Ok(ExitCode::from(1));
            }
            if build {
                eprintln!("occlens: ready in {:.1} s", started.elapsed().as_secs_f64());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The bytes of the files in `dir`.
fn bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// `cache status --verify` of one entry: a line, and whether it is damaged.
fn verify(
    dir: &std::path::Path,
    part: Part,
    project: Option<i64>,
    name: &str,
) -> occlens::Result<bool> {
    match cache::inspect(dir, part, project, true) {
        cache::Entry::Ready(_) => outln!("{name}: verified: every file matches its checksum")?,
        cache::Entry::Damaged(why) => {
            outln!("{name}: damaged: {why} (--cache refresh rebuilds it)")?;
            return Ok(true);
        }
        cache::Entry::Absent => {}
    }
    Ok(false)
}
