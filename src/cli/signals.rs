//! Signals: SIGINT, SIGTERM and SIGHUP end a command with its temporaries removed (as the
//! default actions would end it, with their exit codes), unless the shell or a server owns them.

/// Set by the interactive SQL shell, which handles SIGINT itself (Ctrl-C cancels the running
/// statement and keeps the shell): SIGINT then does not end the process.
pub static SHELL_OWNS_SIGINT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Set once `occlens serve` answers: SIGINT and SIGTERM then stop it gracefully instead.
pub static SERVER_OWNS_SIGNALS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// On SIGINT or SIGTERM: remove this run's temporaries, then exit 130 or 143 as shells do.
pub async fn remove_temporaries_on_signal(hup_ends: bool) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        // SIGHUP (the terminal closed) ends a run as its default does, temporaries removed;
        // unless it is ignored (`nohup occlens …`), which stays so, or the run is a server.
        // (A server listens too, so that SIGHUP never ends it: `serve` checks for a new
        // snapshot version on it, when its snapshot can have one.)
        let mut hup = match hup_ignored() {
            true => None,
            false => signal(SignalKind::hangup()).ok(),
        };
        let code = loop {
            let hangup = async {
                match hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
                _ = hangup => 129,
            };
            if code == 129 && !hup_ends {
                continue;
            }
            if SERVER_OWNS_SIGNALS.load(std::sync::atomic::Ordering::SeqCst) {
                continue;
            }
            if code != 130 || !SHELL_OWNS_SIGINT.load(std::sync::atomic::Ordering::SeqCst) {
                break code;
            }
        };
        occlens::staging::end_process("interrupted; temporary files removed", code);
    }
}

/// Whether SIGHUP is ignored in this process (started under `nohup`): asked before any
/// handler is installed.
#[cfg(unix)]
fn hup_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
