//! Async client: a [`Connection`] future plus a cloneable [`Handle`], in the style of rtnetlink.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ipvs::Error> {
//! use futures::TryStreamExt;
//! use ipvs::{Destination, Service, ServiceKey};
//! let (conn, handle) = ipvs::new_connection()?;
//! tokio::spawn(conn);
//! let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
//! handle.add_service(&Service::new(key)).await?;
//! // Or with request builders, rtnetlink style:
//! let rs = Destination::new("10.0.0.2".parse().unwrap(), 80);
//! handle.destination(key).add(rs).execute().await?;
//! let dests: Vec<_> = handle.destination(key).list().try_collect().await?;
//! assert_eq!(dests.len(), 1);
//! let services: Vec<_> = handle.services().try_collect().await?;
//! assert_eq!(services.len(), 1);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt, TryStreamExt};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_proto::sys::{SocketAddr, TokioSocket};
use netlink_proto::{NetlinkProtoError, ReplyExpectation};
use netlink_sys::Socket;
use netlink_sys::protocols::NETLINK_GENERIC;

use crate::codec::{self, CmdAttr, Command, IpvsMessage, Message};
use crate::diff::Op;
use crate::error::{Error, Operation, ReplyError, Result, Target};
use crate::model::{
    Daemon, DaemonState, Destination, DestinationEntry, Family, Forwarding, Info, Service,
    ServiceEntry, ServiceKey, Timeouts, TunnelType,
};

type Proto = netlink_proto::Connection<GenlMessage<IpvsMessage>, TokioSocket>;
type ProtoHandle = netlink_proto::ConnectionHandle<GenlMessage<IpvsMessage>>;

/// The connection future: drives the netlink socket. Spawn it (`tokio::spawn(conn)`); it ends when
/// every [`Handle`] is dropped.
pub struct Connection {
    inner: Proto,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Future for Connection {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// What the running kernel supports, from its release number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Features {
    /// `uname -r`.
    pub release: String,
    /// `(major, minor)` parsed from the release (`(0, 0)` if unparsable: everything is assumed).
    pub version: (u32, u32),
}

impl Features {
    /// From a release string such as `6.1.0-18-amd64`.
    pub fn from_release(release: &str) -> Self {
        let mut it = release
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        Features {
            release: release.to_string(),
            version: (major, minor),
        }
    }
    /// The running kernel's features.
    pub fn detect() -> Self {
        // SAFETY: uname fills a zeroed struct utsname; release is NUL-terminated.
        let release = unsafe {
            let mut u: libc::utsname = std::mem::zeroed();
            if libc::uname(&mut u) != 0 {
                return Features::from_release("");
            }
            std::ffi::CStr::from_ptr(u.release.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        Features::from_release(&release)
    }
    fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version == (0, 0) || self.version >= (major, minor)
    }
    /// `DEST_ATTR_TUN_TYPE`/`TUN_PORT` (IPIP/GUE): 5.2.
    pub fn tunnel_type(&self) -> bool {
        self.at_least(5, 2)
    }
    /// `DEST_ATTR_TUN_FLAGS` and GRE: 5.3.
    pub fn tunnel_flags(&self) -> bool {
        self.at_least(5, 3)
    }
    /// Mixed-family destinations (`DEST_ATTR_ADDR_FAMILY`): 3.18.
    pub fn mixed_family(&self) -> bool {
        self.at_least(3, 18)
    }
}

/// How large batches are split. Made with [`BatchOptions::new`] or from the default; more
/// settings may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Requests per `sendmsg`.
    pub chunk: usize,
    /// Chunks in flight at once.
    pub in_flight: usize,
}

impl BatchOptions {
    /// `chunk` requests per `sendmsg`, `in_flight` chunks in flight at once.
    pub fn new(chunk: usize, in_flight: usize) -> Self {
        BatchOptions { chunk, in_flight }
    }
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            chunk: 128,
            in_flight: 2,
        }
    }
}

/// A cloneable handle to send IPVS requests through a [`Connection`].
#[derive(Clone, Debug)]
pub struct Handle {
    nl: ProtoHandle,
    family_id: u16,
    features: Features,
    batch: BatchOptions,
    errors: Arc<Mutex<Unsolicited>>,
    dumpers: Arc<[Mutex<Dumper>]>,
}

/// A blocking socket for bulk dumps ([`Handle::table`]): a whole-table dump is one GET_DEST dump
/// per service, and doing them with plain `send`/`recv` on a blocking socket (inside
/// `spawn_blocking`) takes 3 system calls per service instead of the ~6 of the async path. A
/// connection has one per CPU (two to [`MAX_DUMP_SOCKETS`]): a socket runs one dump at a time,
/// so large tables are dumped in parallel slices, one per socket.
struct Dumper {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Dumper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dumper").finish_non_exhaustive()
    }
}

impl Dumper {
    /// One dump request; returns the IPVS messages, or the kernel's errno.
    fn dump(
        &mut self,
        family_id: u16,
        msg: IpvsMessage,
    ) -> std::result::Result<Vec<IpvsMessage>, DumpError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        if self.buf.is_empty() {
            self.buf = vec![0; 256 * 1024];
        }
        let bytes = codec::encode_request(&msg, family_id, NLM_F_DUMP, seq);
        self.sock.send(&bytes, 0).map_err(DumpError::Io)?;
        let mut out = Vec::new();
        loop {
            let n = self
                .sock
                .recv(&mut &mut self.buf[..], 0)
                .map_err(DumpError::Io)?;
            let msgs = codec::decode_datagram(&self.buf[..n.min(self.buf.len())])
                .map_err(DumpError::Decode)?;
            for m in msgs {
                if m.header.sequence_number != seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(g) => out.push(g.payload),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => match e.code {
                        Some(c) => return Err(DumpError::Errno(-c.get())),
                        None => return Ok(out),
                    },
                    _ => {}
                }
            }
        }
    }
}

/// The most dump sockets a connection opens (one per CPU up to this).
const MAX_DUMP_SOCKETS: usize = 4;

/// Tables with fewer services are dumped on one socket: a thread is not worth it.
const PARALLEL_DUMP_MIN: usize = 256;

/// How many dump sockets to open: one per CPU this process may run on, at least two (so the
/// parallel path is the one every large dump takes, on any machine) and at most the maximum.
fn dump_sockets() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(2, MAX_DUMP_SOCKETS)
}

enum DumpError {
    Errno(i32),
    Io(io::Error),
    Decode(netlink_packet_core::DecodeError),
}

type UnsolicitedRx = futures::channel::mpsc::UnboundedReceiver<(Message, SocketAddr)>;

/// Errors of batched requests sent without `NLM_F_ACK`: netlink-proto delivers them as
/// unsolicited messages; they are collected here by sequence number.
struct Unsolicited {
    rx: UnsolicitedRx,
    by_seq: BTreeMap<u32, i32>,
}

impl std::fmt::Debug for Unsolicited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unsolicited")
            .field("pending", &self.by_seq.len())
            .finish()
    }
}

impl Unsolicited {
    /// Moves every error received so far into `by_seq`.
    fn drain(&mut self) {
        while let Ok((m, _)) = self.rx.try_recv() {
            let seq = m.header.sequence_number;
            if let NetlinkPayload::Error(e) = m.payload
                && let Some(c) = e.code
            {
                self.by_seq.insert(seq, -c.get());
            }
        }
    }
}

/// Opens a connection in the calling thread's network namespace. Must be called inside a Tokio
/// runtime.
pub fn new_connection() -> Result<(Connection, Handle)> {
    let (sock, dump_socks, family_id) = open_socket()?;
    finish(sock, dump_socks, family_id)
}

/// As [`new_connection`], but while IPVS is not available ([`Error::IpvsNotAvailable`]: `ip_vs`
/// not loaded and not loadable yet, e.g. on a host whose modules come later in its boot) it
/// waits `every` and tries again, calling `waiting` with the error and the number of the attempt
/// that failed (1, 2, …) so that the caller can say why it waits. Any other error returns at
/// once.
///
/// ```no_run
/// # async fn f() -> ipvs::Result<()> {
/// let (conn, handle) =
///     ipvs::new_connection_when_available(std::time::Duration::from_secs(5), |e, attempt| {
///         if attempt == 1 {
///             eprintln!("{e}: waiting for it");
///         }
///     })
///     .await?;
/// tokio::spawn(conn);
/// # drop(handle); Ok(()) }
/// ```
pub async fn new_connection_when_available(
    every: std::time::Duration,
    mut waiting: impl FnMut(&Error, u32),
) -> Result<(Connection, Handle)> {
    let mut attempt = 0u32;
    loop {
        match new_connection() {
            Err(e @ Error::IpvsNotAvailable { .. }) => {
                attempt = attempt.saturating_add(1);
                waiting(&e, attempt);
                tokio::time::sleep(every).await;
            }
            other => return other,
        }
    }
}

/// Opens a connection in the network namespace at `path` (e.g. `/run/netns/NAME` or
/// `/proc/PID/ns/net`). The socket is created on a short-lived thread that joins the namespace.
pub fn new_connection_in_netns(path: impl AsRef<Path>) -> Result<(Connection, Handle)> {
    let path = path.as_ref().to_path_buf();
    let joined = std::thread::spawn(move || -> Result<(Socket, Vec<Socket>, u16)> {
        let io = |source| Error::Io {
            op: Operation::Connect,
            source,
        };
        let f = std::fs::File::open(&path).map_err(io)?;
        // SAFETY: setns on a valid fd affects only this (dedicated, short-lived) thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io(io::Error::last_os_error()));
        }
        open_socket()
    })
    .join()
    .map_err(|payload| panicked(Operation::Connect, "the netns thread", payload))??;
    finish(joined.0, joined.1, joined.2)
}

/// Opens the connection's socket and the blocking sockets for bulk dumps (all in the calling
/// thread's network namespace), and resolves the family.
fn open_socket() -> Result<(Socket, Vec<Socket>, u16)> {
    let io = |source| Error::Io {
        op: Operation::Connect,
        source,
    };
    let bound = || -> Result<Socket> {
        let mut s = Socket::new(NETLINK_GENERIC).map_err(io)?;
        s.bind_auto().map_err(io)?;
        Ok(s)
    };
    let first = bound()?;
    let family_id = resolve_family(&first)?;
    let mut dump_socks = vec![first];
    for _ in 1..dump_sockets() {
        dump_socks.push(bound()?);
    }
    Ok((bound()?, dump_socks, family_id))
}

fn finish(sock: Socket, dump_socks: Vec<Socket>, family_id: u16) -> Result<(Connection, Handle)> {
    let io = |source| Error::Io {
        op: Operation::Connect,
        source,
    };
    // Large receive buffer so batches of ACKs never overrun; SO_RCVBUFFORCE needs CAP_NET_ADMIN,
    // which IPVS needs anyway; fall back to SO_RCVBUF.
    let size: libc::c_int = 32 << 20;
    // SAFETY: setsockopt with a valid fd and a c_int option value.
    let forced = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    } == 0;
    if !forced {
        let _ = sock.set_rx_buf_sz(size);
    }
    let rcvbuf = sock.get_rx_buf_sz().unwrap_or(212_992);
    sock.set_non_blocking(true).map_err(io)?;
    let fd = sock.into_raw_fd();
    // SAFETY: `fd` is an owned, open netlink socket we just released. TokioSocket::from_raw_fd
    // panics outside a Tokio runtime; check first.
    if tokio::runtime::Handle::try_current().is_err() {
        // SAFETY: re-own the fd so it is closed.
        drop(unsafe { Socket::from_raw_fd(fd) });
        return Err(io(io::Error::other(
            "new_connection must be called inside a Tokio runtime",
        )));
    }
    // SAFETY: see above.
    let tsock = unsafe { TokioSocket::from_raw_fd(fd) };
    let (mut conn, nl, unsolicited) =
        netlink_proto::from_socket_with_codec::<_, _, netlink_proto::NetlinkCodec>(tsock);
    conn.set_forward_ack(true);
    conn.set_forward_done(true);
    // Batched ops ask for no ACK (only the last of each datagram does), so the receive buffer
    // only needs room for errors: about 1 KiB each, in the worst case every op failing.
    let in_flight_msgs = (rcvbuf / 1024).clamp(32, 8192);
    let chunk = 512.min(in_flight_msgs);
    let batch = BatchOptions {
        chunk,
        in_flight: (in_flight_msgs / chunk).clamp(1, 4),
    };
    Ok((
        Connection { inner: conn },
        Handle {
            nl,
            family_id,
            features: Features::detect(),
            batch,
            // Buffers are allocated on first use: most connections never dump in parallel.
            dumpers: dump_socks
                .into_iter()
                .map(|sock| {
                    Mutex::new(Dumper {
                        sock,
                        seq: 1,
                        buf: Vec::new(),
                    })
                })
                .collect(),
            errors: Arc::new(Mutex::new(Unsolicited {
                rx: unsolicited,
                by_seq: BTreeMap::new(),
            })),
        },
    ))
}

/// Synchronous `CTRL_CMD_GETFAMILY "IPVS"` on a fresh blocking socket.
fn resolve_family(sock: &Socket) -> Result<u16> {
    let io = |source| Error::Io {
        op: Operation::Connect,
        source,
    };
    let mut genl = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(codec::FAMILY_NAME.to_string())],
    });
    genl.finalize();
    let mut hdr = NetlinkHeader::default();
    hdr.flags = NLM_F_REQUEST;
    hdr.sequence_number = 1;
    let mut msg = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(genl));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    sock.send(&buf, 0).map_err(io)?;
    loop {
        let mut rbuf = vec![0u8; 65536];
        let n = sock.recv(&mut &mut rbuf[..], 0).map_err(io)?;
        let reply = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&rbuf[..n])
            .map_err(|e| io(io::Error::other(e)))?;
        if reply.header.sequence_number != 1 {
            continue;
        }
        return match reply.payload {
            NetlinkPayload::InnerMessage(m) => m
                .payload
                .nlas
                .iter()
                .find_map(|a| match a {
                    GenlCtrlAttrs::FamilyId(id) => Some(*id),
                    _ => None,
                })
                .ok_or_else(|| io(io::Error::other("nlctrl reply without family id"))),
            NetlinkPayload::Error(e) => match e.code {
                Some(c) if -c.get() == libc::ENOENT => Err(Error::IpvsNotAvailable {
                    source: io::Error::from_raw_os_error(libc::ENOENT),
                }),
                Some(c) => Err(Error::from_errno(
                    Operation::Connect,
                    Target::None,
                    -c.get(),
                    None,
                )),
                None => Err(io(io::Error::other("unexpected ACK from nlctrl"))),
            },
            _ => Err(io(io::Error::other("unexpected nlctrl reply"))),
        };
    }
}

/// One decoded response item.
enum Item {
    Msg(IpvsMessage),
    Ack,
    Done,
    Err(i32),
}

fn classify(m: Message) -> Option<Item> {
    match m.payload {
        NetlinkPayload::InnerMessage(g) => Some(Item::Msg(g.payload)),
        NetlinkPayload::Error(e) => Some(match e.code {
            None => Item::Ack,
            Some(c) => Item::Err(-c.get()),
        }),
        NetlinkPayload::Done(_) => Some(Item::Done),
        NetlinkPayload::Overrun(_) => Some(Item::Err(libc::ENOBUFS)),
        _ => None,
    }
}

fn sched_of(s: &Service) -> Option<(String, Option<String>)> {
    Some((s.scheduler.name().to_string(), s.persistence_engine.clone()))
}

/// A dump socket, for this thread alone.
fn lock_dumper(m: &Mutex<Dumper>) -> Result<std::sync::MutexGuard<'_, Dumper>> {
    // A poisoned lock carries no cause, only the guard: the panic that poisoned it was reported
    // where it happened. The socket may hold half a dump, so it is not used again.
    m.lock().map_err(|_poisoned| Error::ConnectionClosed {
        op: Operation::GetService,
        target: Target::None,
    })
}

/// A thread of the client that panicked, as an error. A panic's payload is no error type, so
/// its message is what there is to keep.
fn panicked(op: Operation, thread: &str, payload: Box<dyn std::any::Any + Send>) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    Error::Io {
        op,
        source: io::Error::other(format!("{thread} panicked: {message}")),
    }
}

/// How a request that netlink-proto could not send becomes an [`Error`]. It fails only once the
/// connection future is gone, which has no cause to keep; the other arms keep theirs.
fn not_sent(op: Operation, target: Target) -> impl FnOnce(NetlinkProtoError) -> Error {
    move |e| match e {
        NetlinkProtoError::ConnectionClosed => Error::ConnectionClosed { op, target },
        NetlinkProtoError::SocketIo(source) => Error::Io { op, source },
        NetlinkProtoError::NetlinkError(m) => match m.code {
            Some(c) => Error::from_errno(op, target, -c.get(), None),
            None => Error::ConnectionClosed { op, target },
        },
    }
}

/// The destinations of each of `services`, in order, dumped on `d`.
/// The destinations of each of `services`; `None` for a service deleted since it was listed
/// (a dump racing someone else's changes).
fn destinations_of(
    d: &mut Dumper,
    family_id: u16,
    services: &[ServiceEntry],
) -> Result<Vec<Option<Vec<DestinationEntry>>>> {
    let op = Operation::GetDest;
    let mut out = Vec::with_capacity(services.len());
    for s in services {
        let key = s.service.key;
        let target = Target::Service(key);
        let msgs = match d.dump(
            family_id,
            IpvsMessage::new(Command::GetDest, vec![CmdAttr::Service(key.to_attrs())]),
        ) {
            Ok(msgs) => msgs,
            Err(e) => match dump_err(op, target.clone())(e) {
                Error::NotFound { .. } => {
                    out.push(None);
                    continue;
                }
                e => return Err(e),
            },
        };
        let mut dests: Vec<DestinationEntry> = Vec::with_capacity(msgs.len());
        for m in msgs {
            let attrs = m
                .dest()
                .ok_or_else(|| decode_err(op, target.clone())(ReplyError::MissingNest("dest")))?;
            let dest = DestinationEntry::from_attrs(attrs, key.family())
                .map_err(decode_err(op, target.clone()))?;
            // A dump resumes by position: one racing changes may list a destination twice.
            let at = (dest.destination.addr, dest.destination.port);
            if !dests
                .iter()
                .any(|d| (d.destination.addr, d.destination.port) == at)
            {
                dests.push(dest);
            }
        }
        out.push(Some(dests));
    }
    Ok(out)
}

/// How a failed blocking dump becomes an [`Error`].
fn dump_err(op: Operation, target: Target) -> impl Fn(DumpError) -> Error {
    move |e| match e {
        DumpError::Errno(n) => Error::from_errno(op, target.clone(), n, None),
        DumpError::Io(source) => Error::Io { op, source },
        DumpError::Decode(e) => Error::Decode {
            op,
            target: target.clone(),
            source: e.into(),
        },
    }
}

/// How a reply that does not decode becomes an [`Error`].
fn decode_err<E: Into<ReplyError>>(op: Operation, target: Target) -> impl Fn(E) -> Error {
    move |e| Error::Decode {
        op,
        target: target.clone(),
        source: e.into(),
    }
}

impl Handle {
    /// The detected kernel features.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Overrides the detected kernel features (e.g. to test against an older kernel's rules).
    pub fn set_features(&mut self, f: Features) {
        self.features = f;
    }

    /// The batch splitting in use.
    pub fn batch_options(&self) -> BatchOptions {
        self.batch
    }

    /// Sets the batch splitting.
    pub fn set_batch_options(&mut self, b: BatchOptions) {
        self.batch = BatchOptions {
            chunk: b.chunk.max(1),
            in_flight: b.in_flight.max(1),
        };
    }

    /// The resolved generic-netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    fn message(&self, msg: IpvsMessage, flags: u16) -> Message {
        codec::request(msg, self.family_id, flags, 0)
    }

    /// Sends one request and collects its replies.
    async fn call(
        &self,
        op: Operation,
        target: Target,
        msg: IpvsMessage,
        flags: u16,
        sched: Option<(String, Option<String>)>,
    ) -> Result<Vec<IpvsMessage>> {
        let mut s = self
            .nl
            .request(self.message(msg, flags), SocketAddr::new(0, 0))
            .map_err(not_sent(op, target.clone()))?;
        let mut out = Vec::new();
        let mut finished = false;
        while let Some(m) = s.next().await {
            match classify(m) {
                Some(Item::Msg(m)) => out.push(m),
                Some(Item::Ack | Item::Done) => finished = true,
                Some(Item::Err(e)) => return Err(Error::from_errno(op, target, e, sched)),
                None => finished = true,
            }
        }
        if !finished && out.is_empty() {
            return Err(Error::ConnectionClosed { op, target });
        }
        Ok(out)
    }

    async fn set(
        &self,
        op: Operation,
        target: Target,
        msg: IpvsMessage,
        sched: Option<(String, Option<String>)>,
    ) -> Result<()> {
        self.call(op, target, msg, NLM_F_ACK, sched).await.map(drop)
    }

    /// A dump as a stream of raw messages.
    fn dump(
        &self,
        op: Operation,
        target: Target,
        msg: IpvsMessage,
    ) -> impl Stream<Item = Result<IpvsMessage>> + use<> {
        let req = self
            .nl
            .request(self.message(msg, NLM_F_DUMP), SocketAddr::new(0, 0));
        let t2 = target.clone();
        match req {
            Ok(s) => s
                .filter_map(move |m| {
                    let target = target.clone();
                    async move {
                        match classify(m)? {
                            Item::Msg(m) => Some(Ok(m)),
                            Item::Ack | Item::Done => None,
                            Item::Err(e) => Some(Err(Error::from_errno(op, target, e, None))),
                        }
                    }
                })
                .left_stream(),
            Err(e) => futures::stream::once(async move { Err(not_sent(op, t2)(e)) }).right_stream(),
        }
    }

    /// GET_INFO: IPVS version and connection table size.
    pub async fn info(&self) -> Result<Info> {
        let m = self.get_one(Operation::GetInfo, Command::GetInfo).await?;
        Ok(Info::from_attrs(&m.attrs))
    }

    /// GET_CONFIG: the connection timeouts.
    pub async fn timeouts(&self) -> Result<Timeouts> {
        let m = self
            .get_one(Operation::GetTimeouts, Command::GetConfig)
            .await?;
        Ok(Timeouts::from_attrs(&m.attrs))
    }

    /// A GET command without attributes whose reply is one message.
    async fn get_one(&self, op: Operation, cmd: Command) -> Result<IpvsMessage> {
        let replies = self
            .call(op, Target::None, IpvsMessage::new(cmd, vec![]), 0, None)
            .await?;
        replies
            .into_iter()
            .next()
            .ok_or_else(|| decode_err(op, Target::None)(ReplyError::NoReply))
    }

    /// SET_CONFIG: sets the timeouts (0 keeps a value).
    pub async fn set_timeouts(&self, t: &Timeouts) -> Result<()> {
        let op = Operation::SetTimeouts;
        t.validate().map_err(|source| Error::InvalidArgument {
            op,
            target: Target::None,
            source,
        })?;
        self.set(
            op,
            Target::None,
            IpvsMessage::new(Command::SetConfig, t.to_attrs()),
            None,
        )
        .await
    }

    /// GET_SERVICE dump: every service with stats.
    pub fn services(&self) -> impl Stream<Item = Result<ServiceEntry>> + use<> {
        let op = Operation::GetService;
        self.dump(
            op,
            Target::None,
            IpvsMessage::new(Command::GetService, vec![]),
        )
        .map(move |m| {
            let m = m?;
            let attrs = m
                .service()
                .ok_or_else(|| decode_err(op, Target::None)(ReplyError::MissingNest("service")))?;
            ServiceEntry::from_attrs(attrs).map_err(decode_err(op, Target::None))
        })
    }

    /// GET_SERVICE do: one service.
    pub async fn get_service(&self, key: &ServiceKey) -> Result<ServiceEntry> {
        let op = Operation::GetService;
        let target = Target::Service(*key);
        let msg = IpvsMessage::new(Command::GetService, vec![CmdAttr::Service(key.to_attrs())]);
        let r = self.call(op, target.clone(), msg, 0, None).await?;
        let attrs = r
            .first()
            .and_then(|m| m.service())
            .ok_or_else(|| decode_err(op, target.clone())(ReplyError::MissingNest("service")))?;
        ServiceEntry::from_attrs(attrs).map_err(decode_err(op, target))
    }

    fn check_service(&self, op: Operation, s: &Service) -> Result<()> {
        s.validate().map_err(|source| Error::InvalidArgument {
            op,
            target: Target::Service(s.key),
            source,
        })
    }

    /// NEW_SERVICE.
    pub async fn add_service(&self, s: &Service) -> Result<()> {
        self.one(Op::AddService(s.clone())).await
    }

    /// SET_SERVICE (a full replace of the settings).
    pub async fn edit_service(&self, s: &Service) -> Result<()> {
        self.one(Op::EditService(s.clone())).await
    }

    /// DEL_SERVICE.
    pub async fn del_service(&self, key: &ServiceKey) -> Result<()> {
        self.one(Op::DelService(*key)).await
    }

    /// GET_DEST dump: the destinations of a service. A missing service gives
    /// [`Error::NotFound`] (checked first, since the kernel would return an empty dump).
    pub async fn destinations(&self, key: &ServiceKey) -> Result<Vec<DestinationEntry>> {
        self.get_service(key).await.map_err(|e| match e {
            Error::NotFound { source, .. } => Error::NotFound {
                op: Operation::GetDest,
                target: Target::Service(*key),
                source,
            },
            e => e,
        })?;
        self.destinations_stream(key).try_collect().await
    }

    /// GET_DEST dump as a stream, without the existence check.
    pub fn destinations_stream(
        &self,
        key: &ServiceKey,
    ) -> impl Stream<Item = Result<DestinationEntry>> + use<> {
        let op = Operation::GetDest;
        let target = Target::Service(*key);
        let fam = key.family();
        let msg = IpvsMessage::new(Command::GetDest, vec![CmdAttr::Service(key.to_attrs())]);
        self.dump(op, target.clone(), msg).map(move |m| {
            let m = m?;
            let attrs = m
                .dest()
                .ok_or_else(|| decode_err(op, target.clone())(ReplyError::MissingNest("dest")))?;
            DestinationEntry::from_attrs(attrs, fam).map_err(decode_err(op, target.clone()))
        })
    }

    fn check_dest(&self, op: Operation, svc: &ServiceKey, d: &Destination) -> Result<()> {
        let target = Target::Destination {
            service: *svc,
            addr: d.addr,
            port: d.port,
        };
        d.validate(svc).map_err(|source| Error::InvalidArgument {
            op,
            target: target.clone(),
            source,
        })?;
        let unsupported = |feature, needs| Error::Unsupported {
            op,
            target: target.clone(),
            feature,
            needs,
            running: self.features.release.clone(),
        };
        if Family::of(&d.addr) != svc.family() && !self.features.mixed_family() {
            return Err(unsupported(
                "a real server of another address family",
                "3.18",
            ));
        }
        if let Forwarding::Tunnel {
            tun_type,
            tun_port,
            csum,
            remcsum,
        } = d.forwarding
        {
            if (tun_type != TunnelType::Ipip || tun_port != 0) && !self.features.tunnel_type() {
                return Err(unsupported("tunnel type and port", "5.2"));
            }
            if (tun_type == TunnelType::Gre || csum || remcsum) && !self.features.tunnel_flags() {
                return Err(unsupported("GRE tunnels and tunnel checksum flags", "5.3"));
            }
        }
        Ok(())
    }

    /// NEW_DEST.
    pub async fn add_destination(&self, svc: &ServiceKey, d: &Destination) -> Result<()> {
        self.one(Op::AddDest(*svc, d.clone())).await
    }

    /// SET_DEST.
    pub async fn edit_destination(&self, svc: &ServiceKey, d: &Destination) -> Result<()> {
        self.one(Op::EditDest(*svc, d.clone())).await
    }

    /// DEL_DEST.
    pub async fn del_destination(
        &self,
        svc: &ServiceKey,
        addr: std::net::IpAddr,
        port: u16,
    ) -> Result<()> {
        self.one(Op::DelDest(*svc, addr, port)).await
    }

    /// GET_DAEMON dump: the running sync daemons (0 to 2).
    pub async fn daemons(&self) -> Result<Vec<Daemon>> {
        let op = Operation::GetDaemon;
        let r = self
            .call(
                op,
                Target::None,
                IpvsMessage::new(Command::GetDaemon, vec![]),
                NLM_F_DUMP,
                None,
            )
            .await?;
        r.iter()
            .filter_map(|m| m.daemon())
            .map(|a| Daemon::from_attrs(a).map_err(decode_err(op, Target::None)))
            .collect()
    }

    /// NEW_DAEMON: starts a sync daemon.
    pub async fn add_daemon(&self, d: &Daemon) -> Result<()> {
        let op = Operation::AddDaemon;
        let target = Target::Daemon(d.state);
        d.validate().map_err(|source| Error::InvalidArgument {
            op,
            target: target.clone(),
            source,
        })?;
        self.set(
            op,
            target,
            IpvsMessage::new(Command::NewDaemon, vec![CmdAttr::Daemon(d.to_attrs())]),
            None,
        )
        .await
    }

    /// DEL_DAEMON: stops a sync daemon.
    pub async fn del_daemon(&self, state: DaemonState) -> Result<()> {
        // The kernel answers nothing at all (no ACK) when stopping a thread that has not run yet
        // makes the op return -EINTR (netlink_rcv_skb skips the ACK then), although the daemon is
        // stopped. So a GET_DAEMON dump follows in the same datagram as a fence: once its DONE
        // arrives, a missing ACK means EINTR, and the dump tells whether the daemon is gone.
        let op = Operation::DelDaemon;
        let target = Target::Daemon(state);
        let d = Daemon::new(state, "", 0);
        let attrs = d.to_attrs().into_iter().take(1).collect();
        let del = self.message(
            IpvsMessage::new(Command::DelDaemon, vec![CmdAttr::Daemon(attrs)]),
            NLM_F_ACK,
        );
        let get = self.message(IpvsMessage::new(Command::GetDaemon, vec![]), NLM_F_DUMP);
        let mut s = self
            .nl
            .request_batch([del, get], SocketAddr::new(0, 0))
            .map_err(not_sent(op, target.clone()))?;
        let mut del_result: Option<std::result::Result<(), i32>> = None;
        let mut still_running = false;
        let mut done = false;
        while let Some(m) = s.next().await {
            match classify(m) {
                Some(Item::Msg(m)) => {
                    if let Some(a) = m.daemon() {
                        still_running |= Daemon::from_attrs(a).is_ok_and(|d| d.state == state);
                    }
                }
                Some(Item::Ack) if del_result.is_none() => del_result = Some(Ok(())),
                Some(Item::Err(e)) if del_result.is_none() => del_result = Some(Err(e)),
                Some(Item::Done) => {
                    done = true;
                    break;
                }
                _ => {}
            }
        }
        match del_result {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(Error::from_errno(op, target, e, None)),
            None if !done => Err(Error::ConnectionClosed { op, target }),
            None if still_running => Err(Error::from_errno(op, target, libc::EINTR, None)),
            None => Ok(()),
        }
    }

    /// ZERO: zeroes the counters of one service, or of all with `None`.
    pub async fn zero(&self, key: Option<&ServiceKey>) -> Result<()> {
        let op = Operation::Zero;
        let (target, attrs) = match key {
            Some(k) => (Target::Service(*k), vec![CmdAttr::Service(k.to_attrs())]),
            None => (Target::None, vec![]),
        };
        self.set(op, target, IpvsMessage::new(Command::Zero, attrs), None)
            .await
    }

    /// FLUSH: deletes every service of the namespace.
    pub async fn flush(&self) -> Result<()> {
        self.set(
            Operation::Flush,
            Target::None,
            IpvsMessage::new(Command::Flush, vec![]),
            None,
        )
        .await
    }

    /// The whole table (services with destinations, stats and counters): one service dump and
    /// one destination dump per service, on blocking sockets inside `spawn_blocking`; a large
    /// table's destination dumps run in parallel slices, one per dump socket (one per CPU).
    ///
    /// IPVS dumps resume by position, so a dump racing changes made by someone else may see a
    /// table that never existed at any one instant: a service or destination listed twice is
    /// returned once, and a service deleted between its listing and its destinations' is left
    /// out, but one added or deleted meanwhile may be missing or present. The reconciler copes:
    /// a request that fails against such a view makes its next apply read the kernel again.
    pub async fn table(&self) -> Result<Vec<(ServiceEntry, Vec<DestinationEntry>)>> {
        let dumpers = self.dumpers.clone();
        let family_id = self.family_id;
        tokio::task::spawn_blocking(move || {
            let mut first = lock_dumper(dumpers.first().ok_or(Error::ConnectionClosed {
                op: Operation::GetService,
                target: Target::None,
            })?)?;
            let op = Operation::GetService;
            let msgs = first
                .dump(family_id, IpvsMessage::new(Command::GetService, vec![]))
                .map_err(dump_err(op, Target::None))?;
            let mut services = Vec::with_capacity(msgs.len());
            let mut seen = std::collections::HashSet::with_capacity(msgs.len());
            for m in msgs {
                let attrs = m.service().ok_or_else(|| {
                    decode_err(op, Target::None)(ReplyError::MissingNest("service"))
                })?;
                let service =
                    ServiceEntry::from_attrs(attrs).map_err(decode_err(op, Target::None))?;
                if seen.insert(service.service.key) {
                    services.push(service);
                }
            }
            let slices = if services.len() >= PARALLEL_DUMP_MIN {
                dumpers.len()
            } else {
                1
            };
            let per = services.len().div_ceil(slices).max(1);
            let mut chunks = services.chunks(per);
            let head = chunks.next().unwrap_or(&[]);
            let dests =
                std::thread::scope(|scope| -> Result<Vec<Option<Vec<DestinationEntry>>>> {
                    let rest: Vec<_> = chunks
                        .zip(dumpers.iter().skip(1))
                        .map(|(chunk, dumper)| {
                            scope.spawn(move || {
                                destinations_of(&mut *lock_dumper(dumper)?, family_id, chunk)
                            })
                        })
                        .collect();
                    let mut all = destinations_of(&mut first, family_id, head)?;
                    for t in rest {
                        let part = t.join().map_err(|payload| {
                            panicked(Operation::GetDest, "a dump thread", payload)
                        })??;
                        all.extend(part);
                    }
                    Ok(all)
                })?;
            Ok(services
                .into_iter()
                .zip(dests)
                .filter_map(|(s, d)| Some((s, d?)))
                .collect())
        })
        .await
        .map_err(|e| Error::Io {
            op: Operation::GetService,
            source: io::Error::other(e),
        })?
    }

    /// Sends one add/edit/delete and waits for its acknowledgement.
    async fn one(&self, op: Op) -> Result<()> {
        let (operation, msg) = self.op_message(&op)?;
        self.set(operation, op_target(&op), msg, op_sched(&op))
            .await
    }

    /// Validates `op` and builds its message.
    fn op_message(&self, op: &Op) -> Result<(Operation, IpvsMessage)> {
        Ok(match op {
            Op::AddService(s) | Op::EditService(s) => {
                let (o, c) = if matches!(op, Op::AddService(_)) {
                    (Operation::AddService, Command::NewService)
                } else {
                    (Operation::EditService, Command::SetService)
                };
                self.check_service(o, s)?;
                (o, IpvsMessage::new(c, vec![CmdAttr::Service(s.to_attrs())]))
            }
            Op::DelService(k) => (
                Operation::DelService,
                IpvsMessage::new(Command::DelService, vec![CmdAttr::Service(k.to_attrs())]),
            ),
            Op::AddDest(k, d) | Op::EditDest(k, d) => {
                let (o, c) = if matches!(op, Op::AddDest(..)) {
                    (Operation::AddDest, Command::NewDest)
                } else {
                    (Operation::EditDest, Command::SetDest)
                };
                self.check_dest(o, k, d)?;
                (
                    o,
                    IpvsMessage::new(
                        c,
                        vec![
                            CmdAttr::Service(k.to_attrs()),
                            CmdAttr::Dest(d.to_attrs(self.features.tunnel_type())),
                        ],
                    ),
                )
            }
            Op::DelDest(k, a, p) => (
                Operation::DelDest,
                IpvsMessage::new(
                    Command::DelDest,
                    vec![
                        CmdAttr::Service(k.to_attrs()),
                        CmdAttr::Dest(Destination::key_attrs(a, *p)),
                    ],
                ),
            ),
        })
    }

    /// Executes `ops` in order, several per `sendmsg` and several `sendmsg`s in flight
    /// ([`BatchOptions`]). Returns one result per op. Ops that fail validation are not sent.
    pub async fn execute_batch(&self, ops: &[Op]) -> Vec<Result<()>> {
        let mut results: Vec<Option<Result<()>>> = Vec::with_capacity(ops.len());
        let mut prepared: Vec<(usize, Operation, Message)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match self.op_message(op) {
                Ok((o, m)) => {
                    results.push(None);
                    prepared.push((i, o, self.message(m, NLM_F_ACK)));
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let chunk = self.batch.chunk.max(1);
        let mut chunks: Vec<Vec<(usize, Operation, Message)>> = Vec::new();
        for p in prepared {
            match chunks.last_mut() {
                Some(c) if c.len() < chunk => c.push(p),
                _ => chunks.push(vec![p]),
            }
        }
        let futs = chunks.into_iter().map(|c| {
            let nl = self.nl.clone();
            let errors = self.errors.clone();
            async move {
                let meta: Vec<(usize, Operation)> = c.iter().map(|(i, o, _)| (*i, *o)).collect();
                let n = meta.len();
                // Only the last message asks for an ACK: it is the fence. The kernel processes a
                // datagram in order, so when the fence's answer (ACK or error) arrives, the errors
                // of the earlier messages (sent unacknowledged) have arrived too. netlink-proto
                // numbers a batch's messages consecutively, so the fence's sequence number gives
                // every message's.
                let msgs = c.into_iter().enumerate().map(|(k, (_, _, mut m))| {
                    if k + 1 < n {
                        m.header.flags &= !NLM_F_ACK;
                        (m, ReplyExpectation::NotExpected)
                    } else {
                        (m, ReplyExpectation::Expected)
                    }
                });
                let mut out: Vec<std::result::Result<(), i32>> = Vec::with_capacity(n);
                let mut fence = None;
                // netlink-proto refuses a request only once the connection is gone, which has no
                // cause to keep: every op of the chunk is then reported ConnectionClosed below.
                if let Ok(mut s) = nl.request_batch_with_expectation(msgs, SocketAddr::new(0, 0)) {
                    while let Some(m) = s.next().await {
                        let seq = m.header.sequence_number;
                        match classify(m) {
                            Some(Item::Ack) => fence = Some((seq, Ok(()))),
                            Some(Item::Err(e)) => fence = Some((seq, Err(e))),
                            _ => continue,
                        }
                        break;
                    }
                }
                if let Some((last, r)) = fence {
                    let mut u = errors.lock().unwrap_or_else(|p| p.into_inner());
                    u.drain();
                    for k in 0..n - 1 {
                        let seq = last.wrapping_sub((n - 1 - k) as u32);
                        out.push(u.by_seq.remove(&seq).map_or(Ok(()), Err));
                    }
                    out.push(r);
                }
                (meta, out)
            }
        });
        let mut st = futures::stream::iter(futs).buffered(self.batch.in_flight.max(1));
        while let Some((meta, out)) = st.next().await {
            let mut out = out.into_iter();
            for (i, o) in meta {
                let target = op_target(&ops[i]);
                results[i] = Some(match out.next() {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err(Error::from_errno(o, target, e, op_sched(&ops[i]))),
                    None => Err(Error::ConnectionClosed { op: o, target }),
                });
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(Error::ConnectionClosed {
                    op: Operation::Connect,
                    target: Target::None,
                }))
            })
            .collect()
    }
}

fn op_sched(op: &Op) -> Option<(String, Option<String>)> {
    match op {
        Op::AddService(s) | Op::EditService(s) => sched_of(s),
        _ => None,
    }
}

/// The error target of an op.
pub(crate) fn op_target(op: &Op) -> Target {
    match op {
        Op::AddService(s) | Op::EditService(s) => Target::Service(s.key),
        Op::DelService(k) => Target::Service(*k),
        Op::AddDest(k, d) | Op::EditDest(k, d) => Target::Destination {
            service: *k,
            addr: d.addr,
            port: d.port,
        },
        Op::DelDest(k, a, p) => Target::Destination {
            service: *k,
            addr: *a,
            port: *p,
        },
    }
}

/// rtnetlink-style request builders: `handle.service().add(svc).execute().await`.
#[derive(Clone, Debug)]
pub struct ServiceHandle(Handle);

/// rtnetlink-style request builders for the destinations of one service.
#[derive(Clone, Debug)]
pub struct DestinationHandle(Handle, ServiceKey);

/// A validated set request (NEW/SET/DEL of a service or destination), ready to execute. The
/// message can be adjusted before sending with [`SetRequest::message_mut`].
#[derive(Debug)]
pub struct SetRequest {
    handle: Handle,
    target: Target,
    sched: Option<(String, Option<String>)>,
    msg: Result<(Operation, IpvsMessage)>,
}

impl SetRequest {
    fn new(handle: &Handle, op: Op) -> Self {
        SetRequest {
            handle: handle.clone(),
            target: op_target(&op),
            sched: op_sched(&op),
            msg: handle.op_message(&op),
        }
    }

    /// The message that will be sent (the escape hatch for attributes the model lacks), or
    /// `None` if validation already failed.
    pub fn message_mut(&mut self) -> Option<&mut IpvsMessage> {
        self.msg.as_mut().ok().map(|(_, m)| m)
    }

    /// Sends the request and waits for the kernel's answer.
    pub async fn execute(self) -> Result<()> {
        let (op, msg) = self.msg?;
        self.handle.set(op, self.target, msg, self.sched).await
    }
}

impl Handle {
    /// Request builders for services.
    pub fn service(&self) -> ServiceHandle {
        ServiceHandle(self.clone())
    }

    /// Request builders for the destinations of service `key`.
    pub fn destination(&self, key: ServiceKey) -> DestinationHandle {
        DestinationHandle(self.clone(), key)
    }
}

impl ServiceHandle {
    /// NEW_SERVICE.
    pub fn add(&self, s: Service) -> SetRequest {
        SetRequest::new(&self.0, Op::AddService(s))
    }
    /// SET_SERVICE.
    pub fn edit(&self, s: Service) -> SetRequest {
        SetRequest::new(&self.0, Op::EditService(s))
    }
    /// DEL_SERVICE.
    pub fn del(&self, key: ServiceKey) -> SetRequest {
        SetRequest::new(&self.0, Op::DelService(key))
    }
    /// GET_SERVICE dump.
    pub fn list(&self) -> impl Stream<Item = Result<ServiceEntry>> + use<> {
        self.0.services()
    }
    /// GET_SERVICE do.
    pub async fn get(&self, key: &ServiceKey) -> Result<ServiceEntry> {
        self.0.get_service(key).await
    }
}

impl DestinationHandle {
    /// NEW_DEST.
    pub fn add(&self, d: Destination) -> SetRequest {
        SetRequest::new(&self.0, Op::AddDest(self.1, d))
    }
    /// SET_DEST.
    pub fn edit(&self, d: Destination) -> SetRequest {
        SetRequest::new(&self.0, Op::EditDest(self.1, d))
    }
    /// DEL_DEST.
    pub fn del(&self, addr: std::net::IpAddr, port: u16) -> SetRequest {
        SetRequest::new(&self.0, Op::DelDest(self.1, addr, port))
    }
    /// GET_DEST dump (an empty stream if the service does not exist, as the kernel answers).
    pub fn list(&self) -> impl Stream<Item = Result<DestinationEntry>> + use<> {
        self.0.destinations_stream(&self.1)
    }
}
