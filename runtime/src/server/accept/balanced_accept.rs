//! Spreading connections over the workers that share the listening sockets.
//!
//! Every worker's runtime waits on the same sockets, and whichever wakes first takes each new
//! connection. A busy worker tends to be awake, so it wins again, and a keep-alive connection
//! then stays where it landed (`worker_balance`: 8 kept-alive connections left one of 3 workers
//! idle, and 2 to 4 of 6). So before taking a connection, a worker that already holds its share of the
//! open connections (read from the scoreboard) steps back, looking again every [`DEFER_STEP`],
//! while a worker under its share takes it; if nobody has after [`MAX_DEFER`], it takes it
//! itself, so a connection never waits longer than that. Each socket stays one, shared: a worker
//! that stops leaves its queue to the others, and nothing queued is lost, unlike a socket per
//! worker (`SO_REUSEPORT`), whose queue dies with it. With several sockets (TCP and Unix), a
//! worker waits on all of them and looks at them in turn, so a busy one does not starve another.
//!
//! Stopping loses no request that reached the worker, keep-alive connections included (see
//! [`Drain`]): once the worker is asked to stop, the listener takes no new connection (they stay
//! queued for the other workers); each connection it took is answered until its client is told
//! to go (`Connection: close` on a response after which nothing more is pending), and only the
//! connections still idle when the drain window ends are left to the server's graceful
//! shutdown. Closing an idle keep-alive connection at once drops the request its client sent
//! right after reading the last response, which the worker never reads: every kept-alive
//! connection lost one request per HUP that way.

use crate::health::serving::Record;
use crate::server::accept::listeners::Socket;
use crate::server::accept::stream::{PeerAddr, Stream};
use crate::server::scoreboard::Scoreboard;
use crate::server::worker::request_policy::{ConnectionRequests, RequestPolicy};
use crate::server::worker::shutdown_signal::Shutdown;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// How often a worker over its share looks again whether a new connection is still waiting.
const DEFER_STEP: Duration = Duration::from_millis(5);
/// How long, at most, a worker over its share leaves a new connection to the others: under a
/// saturated CPU a worker under its share may take a while to be scheduled, and the connection
/// must not go to the busiest worker just because it is the one awake.
const MAX_DEFER: Duration = Duration::from_millis(50);

/// A worker's listener on the shared sockets (every address the server listens on): takes its
/// share of new connections and counts them (open, accepted) in the worker's scoreboard
/// record. `serve_axum` uses it; other apps get it from
/// [`Serve::balanced_listener`](crate::Serve::balanced_listener).
#[derive(Debug)]
pub struct BalancedListener {
    fds: Vec<AsyncFd<Socket>>,
    /// The socket to look at first next time: the one after the last that gave a connection.
    next: usize,
    /// This worker's record and the board, when the worker has a slot on it.
    board: Option<(&'static Scoreboard, &'static Record)>,
    balance: bool,
    stop: Shutdown,
    drain: Arc<Drain>,
    /// Which responses close their connections, and how requests are counted.
    policy: Arc<RequestPolicy>,
}

/// A worker's connections while it stops: how many are still open, and whether the listener
/// has seen the stop. A stopping worker's graceful shutdown waits on [`Drain::settled`].
#[derive(Debug, Default)]
pub struct Drain {
    /// Connections taken and not yet closed.
    open: AtomicU64,
    /// The listener saw the stop and takes nothing more; from here on every response after
    /// which nothing more is pending on its connection closes it.
    stopping: AtomicBool,
    changed: Notify,
}

impl Drain {
    fn closed(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.changed.notify_waiters();
        }
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Whether the worker is stopping (its listener saw the stop).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Waits until the listener has seen the stop and every connection it took has closed, for
    /// at most `window`. What is still open then is a connection whose client sent nothing
    /// since the stop (or a request still running): the server's graceful shutdown closes the
    /// idle ones and lets the running ones finish. Waiting for the listener first matters on a
    /// runtime of several threads: a connection taken on one thread just as the stop arrives
    /// on another would not be counted yet.
    pub async fn settled(&self, window: Duration) {
        let _ = tokio::time::timeout(window, async {
            loop {
                let notified = self.changed.notified();
                if self.stopping() && self.open.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }
}

/// One connection's state as its server answers it: whether its response must be its last, and
/// the count of its requests. An app served with its own hyper server gets it from
/// [`CountedStream::connection`] and asks [`ConnectionDrain::last_response`] as each response is
/// ready, as `serve_axum` does.
#[derive(Debug, Clone)]
pub struct ConnectionDrain(Arc<ConnectionState>);

#[derive(Debug)]
struct ConnectionState {
    drain: Arc<Drain>,
    /// The worker's record, where the connection counts as open until released.
    record: Option<&'static Record>,
    released: AtomicBool,
    fd: std::os::fd::RawFd,
    /// The server's last read of this connection found nothing: its own buffer was empty. A
    /// server reads ahead only when it has nothing buffered; a pipelined request it already
    /// read sits in its buffer, and this stays false.
    read_found_nothing: AtomicBool,
    /// Whether to watch for an app that counts no request: only an app's own server under a
    /// setting that needs the count (decided once, so `serve_axum`'s reads do nothing more).
    watch_reads: bool,
    /// The client sent something on it (watched only under `watch_reads`).
    read_something: AtomicBool,
    requests: ConnectionRequests,
}

impl ConnectionDrain {
    /// A connection of no socket and no stopping worker, for benchmarks.
    #[cfg(all(feature = "bench-internals", feature = "axum"))]
    pub(crate) fn detached() -> Self {
        Self(Arc::new(ConnectionState {
            drain: Arc::default(),
            record: None,
            released: AtomicBool::new(false),
            fd: -1,
            read_found_nothing: AtomicBool::new(false),
            watch_reads: false,
            read_something: AtomicBool::new(false),
            requests: ConnectionRequests::new(Arc::default()),
        }))
    }

    /// Call once per request, as its response is ready: counts the request (the worker's
    /// `requests_served` figure and [`Server::max_requests`](crate::Server::max_requests)) and
    /// says whether this response must be the connection's last (`Connection: close`): the
    /// worker reached its `max_requests`, the connection its
    /// [`max_requests_per_connection`](crate::Server::max_requests_per_connection), its worker
    /// holds more than its share of the open connections
    /// ([`rebalance_after`](crate::Server::rebalance_after)), or the worker is stopping and
    /// nothing more is pending on the connection ([`may_close`](Self::may_close)).
    pub fn last_response(&self) -> bool {
        let last = self.count_request();
        if last {
            self.release();
        }
        last || self.may_close()
    }

    /// Counts one request under the worker's rule; whether its response must close the
    /// connection for that rule (not for a stop: see `may_close`).
    pub(crate) fn count_request(&self) -> bool {
        self.0.requests.request()
    }

    /// Whether the response ready now should be the connection's last (`Connection: close`):
    /// the worker is stopping, and nothing more has reached the connection (no byte in the
    /// socket, and the server's last read found nothing, so no pipelined request waits in its
    /// buffer). A client that already sent its next request gets it answered first.
    pub fn may_close(&self) -> bool {
        let state = &self.0;
        state.drain.stopping()
            && state.read_found_nothing.load(Ordering::Acquire)
            && crate::sys::bytes_to_read(state.fd) == 0
    }

    /// The connection no longer counts as open in its worker's record. Called as soon as its
    /// last response is decided: its client reconnects the moment it reads that response,
    /// often before the server has dropped the connection, and the new connection must see
    /// the worker's true count, or it goes back to the busiest worker.
    pub(crate) fn release(&self) {
        if let Some(record) = self.0.record {
            if !self.0.released.swap(true, Ordering::AcqRel) {
                record.connection_closed();
            }
        }
    }
}

impl BalancedListener {
    /// `sockets` must be non-blocking; call inside the worker's runtime.
    pub(crate) fn new(
        sockets: Vec<Socket>,
        board: Option<(&'static Scoreboard, &'static Record)>,
        balance: bool,
        stop: Shutdown,
        policy: Arc<RequestPolicy>,
    ) -> io::Result<Self> {
        if sockets.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no listening socket to take connections from",
            ));
        }
        let fds = sockets
            .into_iter()
            // SAFETY: each socket is owned by its AsyncFd from here on, so its descriptor
            // stays open and the same for the AsyncFd's whole life.
            .map(|socket| unsafe {
                AsyncFd::register_with_interest(socket, tokio::io::Interest::READABLE)
                    .map_err(io::Error::from)
            })
            .collect::<io::Result<_>>()?;
        Ok(Self {
            fds,
            next: 0,
            board,
            balance,
            stop,
            drain: Arc::default(),
            policy,
        })
    }

    /// This worker's connections as it stops: wait for [`Drain::settled`] before a graceful
    /// shutdown of the connections.
    pub fn drain(&self) -> Arc<Drain> {
        self.drain.clone()
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
    pub async fn accept(&mut self) -> io::Result<(CountedStream, PeerAddr)> {
        let stop = self.stop.clone();
        tokio::select! {
            biased;
            () = stop.wait() => {
                self.drain.stop();
                std::future::pending().await
            }
            taken = self.take() => taken,
        }
    }

    async fn take(&mut self) -> io::Result<(CountedStream, PeerAddr)> {
        let mut deferred = Duration::ZERO;
        loop {
            let start = self.next;
            let (i, mut ready) =
                std::future::poll_fn(|cx| first_readable(&self.fds, start, cx)).await?;
            if deferred < MAX_DEFER && self.over_share() {
                drop(ready);
                tokio::time::sleep(DEFER_STEP).await;
                deferred += DEFER_STEP;
                if !self.pending(i) {
                    // Another worker took it: wait for the next one.
                    self.fds[i].readable().await?.clear_ready();
                    deferred = Duration::ZERO;
                }
                continue;
            }
            let accepted = ready.try_io(|fd| accept_from(fd.get_ref()));
            drop(ready);
            match accepted {
                Ok(Ok((stream, peer))) => {
                    self.next = (i + 1) % self.fds.len();
                    return self.taken(stream, peer);
                }
                Ok(Err(e)) => return Err(e),
                // Another worker took it: wait for the next one.
                Err(_would_block) => deferred = Duration::ZERO,
            }
        }
    }

    /// Whether a connection is waiting in socket `i`'s queue, without taking it.
    fn pending(&self, i: usize) -> bool {
        let mut fd = libc::pollfd {
            fd: self.fds[i].as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut fd, 1, 0) > 0 }
    }

    fn taken(&self, stream: Stream, peer: PeerAddr) -> io::Result<(CountedStream, PeerAddr)> {
        let record = self.board.map(|(_, record)| record);
        if let Some(record) = record {
            record.connection_opened();
        }
        self.drain.open.fetch_add(1, Ordering::AcqRel);
        let connection = ConnectionDrain(Arc::new(ConnectionState {
            drain: self.drain.clone(),
            record,
            released: AtomicBool::new(false),
            fd: stream.as_raw_fd(),
            read_found_nothing: AtomicBool::new(false),
            watch_reads: self.policy.needs_counting(),
            read_something: AtomicBool::new(false),
            requests: ConnectionRequests::new(self.policy.clone()),
        }));
        let stream = CountedStream { stream, connection };
        Ok((stream, peer))
    }

    /// The address of the first socket the server listens on (see [`Serve::local_addr`](crate::Serve::local_addr)
    /// for the first TCP one).
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        match self.fds[0].get_ref() {
            Socket::Tcp(l) => l.local_addr().map(PeerAddr::Tcp),
            Socket::Unix(l) => l
                .local_addr()
                .map(|a| PeerAddr::Unix(a.as_pathname().map(Into::into))),
        }
    }

    /// The next connection, past the errors a server rides out: a client that gave up between
    /// connecting and being accepted is not ours to report, and running out of descriptors is
    /// waited out (a second, as axum's own listener does) while open connections close.
    #[cfg(feature = "axum")]
    pub(crate) async fn next_connection(&mut self) -> (CountedStream, PeerAddr) {
        loop {
            match self.accept().await {
                Ok(taken) => return taken,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => {
                    crate::diag::log_error!("accepting a connection failed: {e}; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// The first of `fds` ready to accept, looking from `start` on; each one not ready wakes this
/// task when it is.
fn first_readable<'a>(
    fds: &'a [AsyncFd<Socket>],
    start: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(usize, AsyncFdReadyGuard<'a, Socket>)>> {
    for k in 0..fds.len() {
        let i = (start + k) % fds.len();
        if let Poll::Ready(ready) = fds[i].poll_read_ready(cx) {
            return Poll::Ready(ready.map(|guard| (i, guard)));
        }
    }
    Poll::Pending
}

/// One connection off `socket`, registered with this runtime.
fn accept_from(socket: &Socket) -> io::Result<(Stream, PeerAddr)> {
    match socket {
        Socket::Tcp(listener) => {
            let (stream, addr) = listener.accept()?;
            stream.set_nonblocking(true)?;
            Ok((
                Stream::Tcp(tokio::net::TcpStream::from_std(stream)?),
                PeerAddr::Tcp(addr),
            ))
        }
        Socket::Unix(listener) => {
            let (stream, addr) = listener.accept()?;
            stream.set_nonblocking(true)?;
            Ok((
                Stream::Unix(tokio::net::UnixStream::from_std(stream)?),
                PeerAddr::Unix(addr.as_pathname().map(Into::into)),
            ))
        }
    }
}

/// A connection taken by a [`BalancedListener`]; counted as open until dropped, or until its
/// last response is decided.
#[derive(Debug)]
pub struct CountedStream {
    stream: Stream,
    connection: ConnectionDrain,
}

impl CountedStream {
    /// This connection's state, to ask [`ConnectionDrain::may_close`] as each response is ready.
    pub fn connection(&self) -> ConnectionDrain {
        self.connection.clone()
    }
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        let state = &self.connection.0;
        self.connection.release();
        state.drain.closed();
        let uncounted = state.watch_reads
            && state.requests.served() == 0
            && state.read_something.load(Ordering::Relaxed);
        if uncounted && !TOLD_UNCOUNTED.swap(true, Ordering::Relaxed) {
            crate::diag::log_error!(
                "a connection carried data but this worker's app counted no request on it: \
                 max_requests and max_requests_per_connection have no effect. An app with its own \
                 server calls ConnectionDrain::last_response() once per response (serve_axum \
                 does it itself)"
            );
        }
    }
}

/// Whether this worker said that its app counts no request (once).
static TOLD_UNCOUNTED: AtomicBool = AtomicBool::new(false);

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let state = &self.connection.0;
        state
            .read_found_nothing
            .store(polled.is_pending(), Ordering::Release);
        if state.watch_reads && buf.filled().len() > before {
            state.read_something.store(true, Ordering::Relaxed);
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
    type Addr = PeerAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.next_connection().await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        BalancedListener::local_addr(self)
    }
}
