//! The bound on a command's whole memory, beside DataFusion's pool. The pool bounds what its
//! operators reserve (sorts, aggregations, joins); values an expression makes (`repeat('x',
//! 400000000)` in six columns of one row: 2.4 GB) and buffers outside the operators are not
//! counted, and such a process grew until the kernel killed it (or another process). A
//! thread reads the process's resident memory every 50 ms; past the bound, the command
//! ends as Ctrl-C ends it (temporary files removed), with one line saying why, exit 1.
//!
//! The bound: twice the pool (`--memory-limit`, default 75% of the machine's memory), at
//! least the pool and 1 GiB more, at most 90% of the machine's memory (or of its cgroup's
//! limit, when a container or systemd sets one). Servers (`serve`, `cluster scheduler|executor`) bound
//! their own work and are not watched.

use std::time::Duration;

const GIB: usize = 1 << 30;

/// The bound for a pool of `limit` bytes on a machine (or cgroup) of `machine` bytes.
pub fn bound(limit: usize, machine: Option<usize>) -> usize {
    let wanted = limit.saturating_mul(2).max(limit.saturating_add(GIB));
    match machine {
        Some(m) => wanted.min(m / 10 * 9),
        None => wanted,
    }
}

/// The process's resident memory (Linux: /proc/self/statm), when known.
fn resident() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.checked_mul(usize::try_from(page).ok()?)
}

/// MiB below 10 GiB, GiB with a decimal above.
fn size(bytes: usize) -> String {
    match bytes < 10 * GIB {
        true => format!("{} MiB", bytes >> 20),
        false => format!("{:.1} GiB", bytes as f64 / GIB as f64),
    }
}

/// Watch this process's memory for the rest of its life (a thread of its own, so that busy
/// runtime workers cannot delay it).
pub fn watch() {
    let Some(limit) = occlens::engine::catalog::memory_limit() else {
        return;
    };
    if resident().is_none() {
        return;
    }
    let memory = occlens::engine::catalog::machine_memory();
    let bound = bound(limit, memory);
    // What the bound is made of, as the message says it.
    let pool = match occlens::engine::catalog::memory_limit_given() {
        true => format!("--memory-limit {}", size(limit)),
        false => format!("the query pool, 75% of memory, {}", size(limit)),
    };
    let memory = match memory {
        Some(m) => format!("this machine's or its cgroup's memory, {}", size(m)),
        None => "memory".to_string(),
    };
    let _ = std::thread::Builder::new()
        .name("memory-guard".into())
        .stack_size(64 << 10)
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            let Some(held) = resident() else { return };
            if held > bound {
                let message = format!(
                    "memory: this process holds {}, past its bound of {} ({}: twice it, at least 1 GiB more, at most 90% of {}): values the query pool does not count, such as repeat() or range() results, or very long texts; temporary files removed",
                    size(held),
                    size(bound),
                    pool,
                    memory
                );
                occlens::staging::end_process(&message, 1);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::{bound, GIB};

    #[test]
    fn twice_the_pool_at_least_a_gib_more_at_most_nine_tenths() {
        assert_eq!(bound(100 << 20, None), (100 << 20) + GIB);
        assert_eq!(bound(4 * GIB, None), 8 * GIB);
        assert_eq!(bound(18 * GIB, Some(24 * GIB)), 24 * GIB / 10 * 9);
        assert_eq!(bound(usize::MAX, None), usize::MAX);
    }
}
