//! A request to stop early, from outside the run (SIGINT or SIGTERM to `raftsim run`). The
//! command that wants it installs the handler ([`install`]); the world's loop asks
//! [`requested`] before every event and ends the run with outcome `interrupted`, so the trace
//! so far, the summary and the reproduce line are written as for any other early end. Nothing
//! else reads it: a command that does not install the handler dies on the signal as usual.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a stop was asked for. One relaxed load: cheap enough for every event.
#[inline]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Asks the running simulation to stop at its next event.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Routes SIGINT and SIGTERM (Ctrl-C on Windows) to [`request`]. A second signal while the
/// first is being handled ends the process at once (exit 130), for a run that does not stop.
/// Installed once per process: later calls (a second run in the same process) return the
/// first call's result.
pub fn install() -> Result<(), String> {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if requested() {
                    std::process::exit(130);
                }
                request();
            })
            .map_err(|e| format!("cannot install the interrupt handler: {e}"))
        })
        .clone()
}
