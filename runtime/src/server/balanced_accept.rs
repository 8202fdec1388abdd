//! Spreading connections over the workers that share one listening socket.
//!
//! Every worker's runtime waits on the same socket, and whichever wakes first takes each new
//! connection. A busy worker tends to be awake, so it wins again, and a keep-alive connection
//! then stays where it landed (measured under `wrk -c8`: 69,589 / 1,080,307 / 1 requests over
//! three workers). So before taking a connection, a worker that already holds its share of the
//! open connections (read from the scoreboard) steps back, looking again every [`DEFER_STEP`],
//! while a worker under its share takes it; if nobody has after [`MAX_DEFER`], it takes it
//! itself, so a connection never waits longer than that. The socket stays one: a worker that stops leaves its queue to the others, and
//! nothing queued is lost, unlike a socket per worker (`SO_REUSEPORT`), whose queue dies with it.
//!
//! Stopping: once the worker is asked to stop, the listener takes no new connection (they stay
//! queued for the other workers), and [`Fresh`] tells when every connection it did take has had
//! its first request read. Only then may the server's graceful shutdown begin: hyper closes a
//! connection that is idle at that moment, and a connection taken a moment ago, whose request is
//! in flight but not yet read, counts as idle. Seen as requests dropped during a HUP under load.

use crate::health::serving::Record;
use crate::server::scoreboard::Scoreboard;
use crate::server::Shutdown;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// How often a worker over its share looks again whether a new connection is still waiting.
const DEFER_STEP: Duration = Duration::from_millis(5);
/// How long, at most, a worker over its share leaves a new connection to the others: under a
/// saturated CPU a worker under its share may take a while to be scheduled, and the connection
/// must not go to the busiest worker just because it is the one awake.
const MAX_DEFER: Duration = Duration::from_millis(50);

/// A worker's listener on the shared socket: takes its share of new connections and counts
/// them (open, accepted) in the worker's scoreboard record. `serve_axum` uses it; other apps get
/// it from [`Serve::balanced_listener`](crate::Serve::balanced_listener).
#[derive(Debug)]
pub struct BalancedListener {
    fd: AsyncFd<std::net::TcpListener>,
    /// This worker's record and the board, when the worker has a slot on it.
    board: Option<(&'static Scoreboard, &'static Record)>,
    balance: bool,
    stop: Shutdown,
    fresh: Arc<Fresh>,
}

/// Connections taken whose first request has not been read yet.
#[derive(Debug, Default)]
pub struct Fresh {
    count: AtomicU64,
    /// Whether the listener saw the stop and takes nothing more.
    parked: AtomicBool,
    changed: Notify,
}

impl Fresh {
    fn read_or_gone(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.changed.notify_waiters();
        }
    }

    fn park(&self) {
        self.parked.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Waits until the listener has seen the stop and every connection it took has had its
    /// first request read (or closed), for at most `limit`: a client that connected and sent
    /// nothing is not waited for longer. Waiting for the listener first matters on a runtime
    /// of several threads: a connection taken on one thread just as the stop arrives on another
    /// would not be counted yet, and the server's accept loop, seeing both the connection and
    /// the end of this wait, may take either (seen as a connection closed unanswered when a
    /// new master was stopped right after its workers took connections).
    pub async fn settled(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let notified = self.changed.notified();
                if self.parked.load(Ordering::Acquire) && self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }
}

impl BalancedListener {
    /// `listener` must be non-blocking; call inside the worker's runtime.
    pub(crate) fn new(
        listener: std::net::TcpListener,
        board: Option<(&'static Scoreboard, &'static Record)>,
        balance: bool,
        stop: Shutdown,
    ) -> io::Result<Self> {
        // SAFETY: the listener is owned by the AsyncFd from here on, so its descriptor stays
        // open and the same for the AsyncFd's whole life.
        let fd =
            unsafe { AsyncFd::register_with_interest(listener, tokio::io::Interest::READABLE) }?;
        Ok(Self {
            fd,
            board,
            balance,
            stop,
            fresh: Arc::default(),
        })
    }

    /// The connections taken whose first request is not read yet: wait for
    /// [`Fresh::settled`] before a graceful shutdown of the connections.
    pub fn fresh(&self) -> Arc<Fresh> {
        self.fresh.clone()
    }

    /// Whether taking one more connection would put this worker over its share of the open
    /// connections of all live workers.
    fn over_share(&self) -> bool {
        let Some((board, me)) = self.board.filter(|_| self.balance) else {
            return false;
        };
        let (open, live) = board.load();
        live > 1 && me.open() >= (open + 1).div_ceil(live)
    }

    /// The next connection this worker takes; once the worker is asked to stop, none: it waits
    /// forever, and new connections stay queued for the other workers.
    pub async fn accept(&mut self) -> io::Result<(CountedStream, SocketAddr)> {
        let stop = self.stop.clone();
        tokio::select! {
            biased;
            () = stop.wait() => {
                self.fresh.park();
                std::future::pending().await
            }
            taken = self.take() => taken,
        }
    }

    async fn take(&mut self) -> io::Result<(CountedStream, SocketAddr)> {
        let mut deferred = Duration::ZERO;
        loop {
            let mut ready = self.fd.readable().await?;
            if deferred < MAX_DEFER && self.over_share() {
                drop(ready);
                tokio::time::sleep(DEFER_STEP).await;
                deferred += DEFER_STEP;
                if !self.pending() {
                    // Another worker took it: wait for the next one.
                    self.fd.readable().await?.clear_ready();
                    deferred = Duration::ZERO;
                }
                continue;
            }
            match ready.try_io(|fd| fd.get_ref().accept()) {
                Ok(Ok((stream, addr))) => return self.taken(stream, addr),
                Ok(Err(e)) => return Err(e),
                // Another worker took it: wait for the next one.
                Err(_would_block) => deferred = Duration::ZERO,
            }
        }
    }

    /// Whether a connection is waiting in the socket's queue, without taking it.
    fn pending(&self) -> bool {
        let mut fd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut fd, 1, 0) > 0 }
    }

    fn taken(
        &self,
        stream: std::net::TcpStream,
        addr: SocketAddr,
    ) -> io::Result<(CountedStream, SocketAddr)> {
        stream.set_nonblocking(true)?;
        let stream = TcpStream::from_std(stream)?;
        let record = self.board.map(|(_, record)| record);
        if let Some(record) = record {
            record.connection_opened();
        }
        self.fresh.count.fetch_add(1, Ordering::AcqRel);
        let open = OpenSlot {
            record,
            released: Arc::default(),
        };
        let stream = CountedStream {
            stream,
            open,
            fresh: Some(self.fresh.clone()),
        };
        Ok((stream, addr))
    }

    /// The address the shared socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }
}

/// A connection taken by a [`BalancedListener`]; counted as open until dropped, or until its
/// last response is decided (`OpenSlot::release`).
#[derive(Debug)]
pub struct CountedStream {
    stream: TcpStream,
    open: OpenSlot,
    /// Until the first bytes are read.
    fresh: Option<Arc<Fresh>>,
}

/// A connection's place in its worker's open count, released once.
#[derive(Debug, Clone)]
pub(crate) struct OpenSlot {
    record: Option<&'static Record>,
    released: Arc<std::sync::atomic::AtomicBool>,
}

impl OpenSlot {
    /// The connection no longer counts as open. Called as soon as its last response is
    /// decided: its client reconnects the moment it reads that response, often before the
    /// server has dropped the connection, and the new connection must see the worker's true
    /// count, or it goes back to the busiest worker.
    pub(crate) fn release(&self) {
        if let Some(record) = self.record {
            if !self.released.swap(true, Ordering::AcqRel) {
                record.connection_closed();
            }
        }
    }
}

impl CountedStream {
    #[cfg(feature = "axum")]
    pub(crate) fn open_slot(&self) -> OpenSlot {
        self.open.clone()
    }
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.open.release();
        if let Some(fresh) = self.fresh.take() {
            fresh.read_or_gone();
        }
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            if let Some(fresh) = self.fresh.take() {
                fresh.read_or_gone();
            }
        }
        polled
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// What `axum::serve` accepts connections from (feature `axum`).
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl axum::serve::Listener for BalancedListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match BalancedListener::accept(self).await {
                Ok(taken) => return taken,
                // The client gave up between connecting and being accepted: not ours to report.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                // Out of descriptors, most likely: give open connections time to close, as
                // axum's own listener does.
                Err(e) => {
                    crate::diag::log_error!("accepting a connection failed: {e}; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        BalancedListener::local_addr(self)
    }
}
