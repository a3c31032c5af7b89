//! Everything the gateway logs during the sweep, at every level, kept to be
//! grepped for secrets.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What the gateway logs while [`CAPTURING`] is on (the log of this test;
/// other tests of the binary run with it off, or add lines of their own,
/// which hold none of this test's secrets).
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static CAPTURING: AtomicBool = AtomicBool::new(false);

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if CAPTURING.load(Ordering::Relaxed) {
            LOG.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing: process-wide, since the gateway logs from its own tasks
/// and threads.
pub(super) fn start() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;
    // Decided per event: while the sweep runs, everything of the gateway and
    // all but trace of its libraries; before and after it, nothing (other
    // tests of the binary pay no formatting).
    let wanted = tracing_subscriber::filter::filter_fn(|meta| {
        CAPTURING.load(Ordering::Relaxed)
            && (meta.target().starts_with("promptgate") || *meta.level() <= tracing::Level::DEBUG)
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| LogWriter)
        .with_ansi(false)
        .with_filter(wanted);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    CAPTURING.store(true, Ordering::Relaxed);
}

/// Stops capturing; the log so far.
pub(super) fn stop() -> String {
    CAPTURING.store(false, Ordering::Relaxed);
    String::from_utf8_lossy(&LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}
