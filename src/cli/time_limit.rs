//! `--time-limit`: the bound on a command's time, beside the bound on its memory
//! (`memory_guard`). A thread of its own waits out the limit (busy runtime workers cannot
//! delay it), then the command ends as Ctrl-C ends it: temporary files removed, an output
//! being moved into place finished first, one line saying why, exit 124 (the status GNU
//! `timeout` gives). A statement that never ends (a cross join of big tables; a cluster job
//! that Ballista's adaptive planner never finishes) then ends. The interactive SQL shell
//! bounds each statement and backslash command instead (`shell::cancellable`).

use super::values::show_duration;
use std::time::Duration;

/// The exit status of a command ended by its time limit.
pub const EXIT: i32 = 124;

/// The line a command or statement ended by `limit` prints.
pub fn message(limit: Duration) -> String {
    format!(
        "time: ran past --time-limit {}; temporary files removed",
        show_duration(limit)
    )
}

/// End this process once `limit` has passed.
pub fn watch(limit: Duration) {
    let _ = std::thread::Builder::new()
        .name("time-limit".into())
        .stack_size(64 << 10)
        .spawn(move || {
            std::thread::sleep(limit);
            occlens::staging::end_process(&message(limit), EXIT);
        });
}
