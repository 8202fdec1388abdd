//! forkline renamed to `fl` in Cargo.toml, and every macro used without `crate = fl`: the
//! macros read the name from this crate's manifest. That this compiles (before, it failed with
//! "could not find `forkline`" and "cannot find attribute `linkme`"), and that the handler runs,
//! is the test.

/// Where the span's attributes come from.
#[derive(Debug, fl::SpanAttributes)]
pub struct Order {
    /// The order's id.
    pub id: u64,
}

/// A handler looking into a `Result` alias.
#[fl::handler(err)]
pub async fn get(order: Order) -> std::io::Result<u64> {
    Ok(order.id)
}

#[fl::post_fork]
fn otel(_worker: &fl::Worker) {}

#[fl::worker_init]
async fn init(_worker: &fl::Worker) -> fl::Result<()> {
    Ok(())
}

#[fl::when_ready]
fn ready(_master: &fl::Master) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_renamed_crates_macros_expand_to_working_code() {
        let answer = block_on(get(Order { id: 7 }));
        assert_eq!(answer.expect("Ok"), 7);
    }

    /// Polls a future that never waits to its end (the handler's body awaits nothing).
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }
}
