//! glibc's malloc settings: arenas for every command, memory kept for reuse by requests.

/// At most one glibc malloc arena per core (glibc's default: eight per core). The JSON
/// exports shape each chunk on threads of their own; with glibc's default their freed memory
/// stayed in many arenas, and an SF1 project's detail export grew to 820 MB (380–470 MB with
/// one or two arenas, in the same time; docs/performance.md). `GLIBC_TUNABLES`'s or
/// `MALLOC_ARENA_MAX`'s own setting wins.
pub fn arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
        if tuned || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: mallopt only sets a parameter of the allocator; no thread has started.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores.min(i32::MAX as usize) as i32);
        }
    }
}

/// A request's memory kept by glibc's malloc once freed, for the next allocation: the heap
/// grows by 64 MiB at a time and gives back what is free above 128 MiB, and blocks under 32
/// MiB come from it (the threshold glibc's own adjustment reaches after the first large
/// frees). A request allocates and frees many buffers of a few hundred KiB; each was mapped
/// anew and its pages faulted in (SF1, cache built: a page's faults 8,400–10,200 →
/// 5,900–6,500, 9–20% of its time; docs/performance.md, session 73). Only the request
/// commands: set for the big statements, the same settings cost the list view 6% and the
/// audit 14% more memory.
/// `GLIBC_TUNABLES`' own malloc settings win.
pub fn for_requests() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.")) {
            return;
        }
        // SAFETY: mallopt only sets parameters of the allocator, which glibc reads under its
        // own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TOP_PAD, 64 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
        }
    }
}
