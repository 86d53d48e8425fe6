//! The memory every query of this process may hold: `--memory-limit`, else 3/4 of the memory
//! this process may use (the machine's, or its cgroup's limit).

/// The memory every query of this process may hold (`--memory-limit`); None: the default.
static MEMORY_LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Bound the memory of every query of this process (called once, by the command line).
pub fn set_memory_limit(bytes: usize) {
    let _ = MEMORY_LIMIT.set(bytes);
}

/// The memory this process may use (Linux): the machine's (/proc/meminfo), or less when its
/// cgroup sets a limit (a container's, systemd's `MemoryMax`), when known.
pub fn machine_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    let total = kib.checked_mul(1024)?;
    Some(cgroup_memory().map_or(total, |c| c.min(total)))
}

/// The memory limit of this process's cgroup: v2 (`memory.max` of the group named in
/// /proc/self/cgroup, or at the mount's root inside a container) or v1
/// (`memory.limit_in_bytes`); "max" and v1's huge "unlimited" read as none.
fn cgroup_memory() -> Option<usize> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("0::"))
                .map(|p| format!("/sys/fs/cgroup{}/memory.max", p.trim_end_matches('/')))
        });
    own.into_iter()
        .chain([
            "/sys/fs/cgroup/memory.max".to_string(),
            "/sys/fs/cgroup/memory/memory.limit_in_bytes".to_string(),
        ])
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|v| v.trim().parse::<usize>().ok())
        .find(|&v| v < 1 << 60)
}

/// Whether `--memory-limit` set the limit (else it is the default).
pub fn memory_limit_given() -> bool {
    MEMORY_LIMIT.get().is_some()
}

/// The memory limit in force: `--memory-limit`, else 3/4 of the machine's memory.
pub fn memory_limit() -> Option<usize> {
    MEMORY_LIMIT
        .get()
        .copied()
        .or_else(|| machine_memory().map(|m| m / 4 * 3))
}
