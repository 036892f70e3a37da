//! SIGINT/SIGTERM for the long-running commands (`capture`, `watch`): the first one
//! only sets a flag, so the run ends with its whole report instead of dying mid-line;
//! a second one (while the report is being written) kills the process as usual.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(sig: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; restoring the default disposition is all.
    unsafe {
        nix::libc::signal(sig, nix::libc::SIG_DFL);
    }
}

pub fn install_handlers() {
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic and calls signal(), both
        // async-signal-safe.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// Whether SIGINT or SIGTERM arrived.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
