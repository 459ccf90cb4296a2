//! Ctrl-C, or SIGTERM / SIGHUP (`timeout`, a service manager, a closed terminal): the first one ends the run
//! early and still prints the report (as testpmd's `stop`); a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once, at start; the crate's `termination` feature adds SIGTERM and SIGHUP to
/// SIGINT). A failure only means those signals kill the process as usual.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Sleeps until `deadline` or Ctrl-C; true when interrupted.
pub fn sleep_until(deadline: Instant) -> bool {
    loop {
        if requested() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}
