//! The stop request a worker's app watches.

use tokio::sync::watch;

/// How the worker was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopKind {
    /// TERM: finish in-flight requests, then exit.
    Graceful,
    /// INT / QUIT: exit now, with a short best-effort telemetry flush.
    Quick,
}

/// Resolves when the worker is asked to stop. Cheap to clone; hand one to your server's
/// graceful-shutdown hook.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<Option<StopKind>>,
}

/// The sending side; the worker's signal listener holds one, and `max_requests` another.
#[derive(Debug, Clone)]
pub(crate) struct StopSender(std::sync::Arc<watch::Sender<Option<StopKind>>>);

impl StopSender {
    pub(crate) fn stop(&self, kind: StopKind) {
        // A quick stop overrides a graceful one in progress, never the reverse.
        self.0.send_if_modified(|current| match (*current, kind) {
            (None, _) | (Some(StopKind::Graceful), StopKind::Quick) => {
                *current = Some(kind);
                true
            }
            _ => false,
        });
    }
}

impl Shutdown {
    pub(crate) fn channel() -> (StopSender, Self) {
        let (tx, rx) = watch::channel(None);
        (StopSender(std::sync::Arc::new(tx)), Self { rx })
    }

    /// Waits for a stop request of any kind.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the sender is gone, which only happens as the worker exits.
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// Waits for a quick stop (INT / QUIT).
    pub async fn wait_quick(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|k| *k == Some(StopKind::Quick)).await;
    }

    /// The stop requested so far, if any.
    pub fn requested(&self) -> Option<StopKind> {
        *self.rx.borrow()
    }
}
