//! Thin wrappers over the POSIX calls the server needs. Each returns plain
//! Rust values and negative-errno errors; nothing here knows about RTSP.

use core::mem::{size_of, zeroed};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::sync::atomic::{AtomicBool, Ordering};

pub type Fd = i32;

/// The calling thread's errno, as a positive number.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot (glibc and musl).
    unsafe { *libc::__errno_location() }
}

/// Monotonic time in microseconds.
pub fn now_us() -> u64 {
    // SAFETY: `ts` is a valid out-pointer for clock_gettime.
    unsafe {
        let mut ts: libc::timespec = zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1000
    }
}

/// Wall-clock time in microseconds since 1970 (for RTCP sender reports).
pub fn wallclock_us() -> u64 {
    // SAFETY: `ts` is a valid out-pointer for clock_gettime (CLOCK_REALTIME).
    unsafe {
        let mut ts: libc::timespec = zeroed();
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
        (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1000
    }
}

/// A seed for the server's generator, drawn once per server from OS entropy.
pub fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    fill_random(&mut seed);
    seed
}

/// Fills `buf` with OS entropy: `getrandom`, else `/dev/urandom`, else the
/// clock mixed (only on a system with neither; logged nowhere, as we have no log).
pub fn fill_random(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most the remaining length into `buf`.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr() as *mut libc::c_void, buf.len() - done, 0) };
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
    if done == buf.len() {
        return;
    }
    // SAFETY: open takes a NUL-terminated literal; each read writes at most
    // the remaining length into `buf[done..]`; the descriptor is closed once.
    unsafe {
        let fd = libc::open(c"/dev/urandom".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            while done < buf.len() {
                let n = libc::read(fd, buf[done..].as_mut_ptr() as *mut libc::c_void, buf.len() - done);
                if n <= 0 {
                    break;
                }
                done += n as usize;
            }
            libc::close(fd);
        }
    }
    let mut x = now_us() ^ 0x9E37_79B9_7F4A_7C15;
    for b in &mut buf[done..] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

pub fn close(fd: Fd) {
    if fd >= 0 {
        // SAFETY: closing a descriptor this module opened and that its owner drops.
        unsafe { libc::close(fd) };
    }
}

fn set_nonblocking(fd: Fd) {
    // SAFETY: fcntl takes int arguments only; FIONBIO reads the c_int behind
    // a pointer to a live local. A bad descriptor is an error, not a hazard.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            // A system without fcntl (RT-Smart's syscall table may lack it): the socket ioctl.
            let on: libc::c_int = 1;
            libc::ioctl(fd, libc::FIONBIO as _, &on);
        }
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
}

/// Whether the system took the option.
fn setsockopt_int(fd: Fd, level: i32, name: i32, value: i32) -> bool {
    // SAFETY: the option value is a c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(fd, level, name, &value as *const i32 as *const libc::c_void, size_of::<i32>() as u32)
    };
    rc == 0
}

/// Slices per vectored send at most (also the kernel's UDP_MAX_SEGMENTS).
pub const MAX_IOV: usize = 64;

/// `parts` (the first `MAX_IOV` of them) as iovecs, and how many.
fn iovecs(parts: &[&[u8]]) -> ([libc::iovec; MAX_IOV], usize) {
    let mut iov = [libc::iovec { iov_base: core::ptr::null_mut(), iov_len: 0 }; MAX_IOV];
    for (slot, part) in iov.iter_mut().zip(parts.iter()) {
        slot.iov_base = part.as_ptr() as *mut libc::c_void;
        slot.iov_len = part.len();
    }
    (iov, parts.len().min(MAX_IOV))
}

/// A socket address in the C layout, big enough for IPv4 and IPv6.
struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    fn empty() -> Self {
        // SAFETY: sockaddr_storage is plain old data.
        RawAddr { storage: unsafe { zeroed() }, len: size_of::<libc::sockaddr_storage>() as libc::socklen_t }
    }

    fn from(addr: &SocketAddr) -> Self {
        let mut raw = RawAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
                let sin = unsafe { &mut *(&mut raw.storage as *mut _ as *mut libc::sockaddr_in) };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                raw.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
                let sin6 = unsafe { &mut *(&mut raw.storage as *mut _ as *mut libc::sockaddr_in6) };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_scope_id = a.scope_id();
                raw.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    fn to_socket_addr(&self) -> Option<SocketAddr> {
        match self.storage.ss_family as i32 {
            libc::AF_INET => {
                // SAFETY: sockaddr_storage is large and aligned enough for a
                // sockaddr_in, all plain integers; the family says it holds one.
                let sin = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: sockaddr_storage is large and aligned enough for a
                // sockaddr_in6, all plain integers; the family says it holds one.
                let sin6 = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), 0, sin6.sin6_scope_id)))
            }
            _ => None,
        }
    }

    fn ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }

    fn mut_ptr(&mut self) -> *mut libc::sockaddr {
        &mut self.storage as *mut _ as *mut libc::sockaddr
    }
}

fn socket(family: i32, kind: i32) -> Result<Fd, i32> {
    // SAFETY: socket(2) takes no pointers; the caller owns the descriptor.
    let fd = unsafe { libc::socket(family, kind, 0) };
    if fd < 0 {
        return Err(-errno());
    }
    set_nonblocking(fd);
    Ok(fd)
}

fn bind(fd: Fd, addr: &SocketAddr) -> Result<(), i32> {
    let raw = RawAddr::from(addr);
    // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes.
    if unsafe { libc::bind(fd, raw.ptr(), raw.len) } < 0 {
        return Err(-errno());
    }
    Ok(())
}

/// The local address a socket is bound to.
pub fn local_addr(fd: Fd) -> Option<SocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: `raw` has room for any address; getsockname writes its length.
    if unsafe { libc::getsockname(fd, raw.mut_ptr(), &mut raw.len) } < 0 {
        return None;
    }
    raw.to_socket_addr()
}

/// A non-blocking TCP listener on all IPv4 interfaces.
pub fn tcp_listen(port: u16) -> Result<Fd, i32> {
    let fd = socket(libc::AF_INET, libc::SOCK_STREAM)?;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let res = bind(fd, &addr).and_then(|_| {
        // SAFETY: listen(2) takes no pointers.
        if unsafe { libc::listen(fd, 64) } < 0 {
            Err(-errno())
        } else {
            Ok(())
        }
    });
    match res {
        Ok(()) => Ok(fd),
        Err(e) => {
            close(fd);
            Err(e)
        }
    }
}

/// Two UDP sockets on an even port and the next one (RTP, RTCP), any IPv4 interface.
pub fn udp_pair() -> Result<(Fd, Fd, u16), i32> {
    let mut last = -libc::EADDRINUSE;
    for _ in 0..64 {
        let rtp = socket(libc::AF_INET, libc::SOCK_DGRAM)?;
        if let Err(e) = bind(rtp, &SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)) {
            close(rtp);
            return Err(e);
        }
        let port = local_addr(rtp).map_or(0, |a| a.port());
        if port == 0 || port % 2 == 1 || port == u16::MAX {
            close(rtp);
            continue;
        }
        let rtcp = socket(libc::AF_INET, libc::SOCK_DGRAM)?;
        match bind(rtcp, &SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port + 1)) {
            Ok(()) => {
                // Bursts of a large keyframe to many clients must not overflow the send buffer.
                setsockopt_int(rtp, libc::SOL_SOCKET, libc::SO_SNDBUF, 1 << 20);
                return Ok((rtp, rtcp, port));
            }
            Err(e) => {
                last = e;
                close(rtp);
                close(rtcp);
            }
        }
    }
    Err(last)
}

/// Accepts one pending connection: (fd, peer, local address), or None when none is pending.
pub fn accept(listener: Fd) -> Option<(Fd, SocketAddr, SocketAddr)> {
    let mut raw = RawAddr::empty();
    // SAFETY: `raw` has room for any address; accept writes its length.
    let fd = unsafe { libc::accept(listener, raw.mut_ptr(), &mut raw.len) };
    if fd < 0 {
        return None;
    }
    set_nonblocking(fd);
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    match (raw.to_socket_addr(), local_addr(fd)) {
        (Some(peer), Some(local)) => Some((fd, peer, local)),
        _ => {
            close(fd);
            None
        }
    }
}

/// Outcome of a read or write on a non-blocking socket.
pub enum Io {
    Done(usize),
    WouldBlock,
    /// Peer closed (read of 0) or a fatal error.
    Closed,
}

fn classify(n: isize) -> Io {
    if n >= 0 {
        return Io::Done(n as usize);
    }
    match errno() {
        libc::EAGAIN | libc::EINTR => Io::WouldBlock,
        #[allow(unreachable_patterns)]
        libc::EWOULDBLOCK => Io::WouldBlock,
        _ => Io::Closed,
    }
}

pub fn recv(fd: Fd, buf: &mut [u8]) -> Io {
    // SAFETY: recv writes at most buf.len() bytes into buf.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n == 0 {
        return Io::Closed;
    }
    classify(n)
}

/// `sendmsg` answered ENOSYS once (a kernel without it, as RT-Smart may be):
/// from then on parts go out one `send` each.
static NO_SENDMSG: AtomicBool = AtomicBool::new(false);

/// Gathers `parts` into one `sendmsg` (MSG_NOSIGNAL: a closed peer never
/// raises SIGPIPE). Where the system has no `sendmsg`, falls back to `send`
/// per part, stopping at the first short write.
pub fn send_vectored(fd: Fd, parts: &[&[u8]]) -> Io {
    if !NO_SENDMSG.load(Ordering::Relaxed) {
        let (mut iov, count) = iovecs(parts);
        // SAFETY: msghdr points at `count` valid iovecs over live slices.
        let n = unsafe {
            let mut msg: libc::msghdr = zeroed();
            msg.msg_iov = iov.as_mut_ptr();
            msg.msg_iovlen = count as _;
            libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
        };
        if n >= 0 || errno() != libc::ENOSYS {
            return classify(n);
        }
        NO_SENDMSG.store(true, Ordering::Relaxed);
    }
    let mut total = 0;
    for part in parts {
        // SAFETY: sends at most part.len() bytes from a live slice.
        let n = unsafe { libc::send(fd, part.as_ptr() as *const libc::c_void, part.len(), libc::MSG_NOSIGNAL) };
        match classify(n) {
            Io::Done(k) => {
                total += k;
                if k < part.len() {
                    break;
                }
            }
            other if total == 0 => return other,
            _ => break,
        }
    }
    Io::Done(total)
}

pub fn send_to(fd: Fd, data: &[u8], to: &SocketAddr) -> Io {
    let raw = RawAddr::from(to);
    // SAFETY: data and address are valid for the lengths given.
    let n = unsafe {
        libc::sendto(fd, data.as_ptr() as *const libc::c_void, data.len(), libc::MSG_NOSIGNAL, raw.ptr(), raw.len)
    };
    classify(n)
}

/// Linux's UDP generic segmentation offload (`UDP_SEGMENT`, Linux 4.18).
const UDP_SEGMENT: i32 = 103;

/// Whether `fd` (a UDP socket) takes segmented sends: only a kernel that
/// knows `UDP_SEGMENT` accepts it as a socket option (0: no default size).
/// Elsewhere (RT-Smart's lwIP answers ENOPROTOOPT) datagrams go one by one.
pub fn udp_segmentation(fd: Fd) -> bool {
    setsockopt_int(fd, libc::SOL_UDP, UDP_SEGMENT, 0)
}

/// Sends `parts` (at most `MAX_IOV`) as that many datagrams to `to` in one
/// `sendmsg`: the kernel cuts the concatenation at the first part's length
/// (every part but the last is that long, the last at most). None when the
/// system cannot (`ENOSYS`, or `EIO` from a device without checksum offload):
/// the caller then sends them one by one, and from then on.
pub fn send_segments(fd: Fd, parts: &[&[u8]], to: &SocketAddr) -> Option<Io> {
    let segment = u16::try_from(parts.first()?.len()).ok()?;
    let raw = RawAddr::from(to);
    let (mut iov, count) = iovecs(parts);
    // Room for one cmsghdr carrying a u16, aligned as cmsghdr wants.
    let mut control = [0u64; 8];
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    const SPACE: usize = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
    const _: () = assert!(SPACE <= size_of::<[u64; 8]>(), "control buffer too small");
    // SAFETY: msghdr points at `count` valid iovecs over live slices, a
    // valid address, and a control buffer of at least CMSG_SPACE(2) bytes
    // (checked at compile time) that CMSG_FIRSTHDR/CMSG_DATA index within.
    let n = unsafe {
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = raw.ptr() as *mut libc::c_void;
        msg.msg_namelen = raw.len;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = count as _;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = SPACE as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
        core::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut u16, segment);
        libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
    };
    if n < 0 && !matches!(errno(), libc::EAGAIN | libc::EINTR | libc::ENOBUFS) {
        return None;
    }
    Some(classify(n))
}

pub fn recv_from(fd: Fd, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    let mut raw = RawAddr::empty();
    // SAFETY: recvfrom writes at most buf.len() bytes and the address into `raw`.
    let n =
        unsafe { libc::recvfrom(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0, raw.mut_ptr(), &mut raw.len) };
    if n < 0 {
        return None;
    }
    raw.to_socket_addr().map(|a| (n as usize, a))
}

/// A self-pipe to wake the poll loop from another thread.
pub fn pipe() -> Result<(Fd, Fd), i32> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(-errno());
    }
    set_nonblocking(fds[0]);
    set_nonblocking(fds[1]);
    Ok((fds[0], fds[1]))
}

pub fn wake(write_end: Fd) {
    let b = 1u8;
    // SAFETY: one byte from a live stack variable; a full pipe (EAGAIN) already means "awake".
    unsafe { libc::write(write_end, &b as *const u8 as *const libc::c_void, 1) };
}

pub fn drain(read_end: Fd) {
    let mut buf = [0u8; 64];
    // SAFETY: read into a stack buffer of the given size.
    while unsafe { libc::read(read_end, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) } > 0 {}
}

pub type PollFd = libc::pollfd;
pub const POLLIN: i16 = libc::POLLIN;
pub const POLLOUT: i16 = libc::POLLOUT;
pub const POLLERR: i16 = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;

pub fn pollfd(fd: Fd, events: i16) -> PollFd {
    libc::pollfd { fd, events, revents: 0 }
}

pub fn poll(fds: &mut [PollFd], timeout_ms: i32) {
    // SAFETY: `fds` is a valid array of pollfd of the given length.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
}

/// The IPv4 address clients reach this host on: the first interface that is
/// up and not loopback (SIOCGIFCONF/SIOCGIFFLAGS, no netlink), else 127.0.0.1.
pub fn primary_ipv4() -> Ipv4Addr {
    const MAX_IFS: usize = 32;
    let fallback = Ipv4Addr::LOCALHOST;
    let Ok(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM) else { return fallback };
    // SAFETY: ifconf points at a zeroed array of MAX_IFS ifreq and says so in
    // ifc_len, the most the kernel fills; each ifreq's union is read only as
    // plain integers (zeros where the kernel wrote nothing), its address as a
    // sockaddr_in (same size, and the union is aligned for it) after the
    // family check; SIOCGIFFLAGS gets a live, zeroed ifreq with a copied name.
    let found = unsafe {
        let mut reqs: [libc::ifreq; MAX_IFS] = zeroed();
        let mut conf: libc::ifconf = zeroed();
        conf.ifc_len = (size_of::<libc::ifreq>() * MAX_IFS) as i32;
        conf.ifc_ifcu.ifcu_req = reqs.as_mut_ptr();
        let mut found = None;
        if libc::ioctl(fd, libc::SIOCGIFCONF as _, &mut conf) == 0 {
            let n = (conf.ifc_len as usize / size_of::<libc::ifreq>()).min(MAX_IFS);
            for req in reqs.iter_mut().take(n) {
                let addr = &req.ifr_ifru.ifru_addr as *const libc::sockaddr as *const libc::sockaddr_in;
                if (*addr).sin_family as i32 != libc::AF_INET {
                    continue;
                }
                let ip = Ipv4Addr::from((*addr).sin_addr.s_addr.to_ne_bytes());
                let mut flags_req: libc::ifreq = zeroed();
                flags_req.ifr_name = req.ifr_name;
                if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut flags_req) != 0 {
                    continue;
                }
                let flags = flags_req.ifr_ifru.ifru_flags as i32;
                if flags & libc::IFF_UP != 0 && flags & libc::IFF_LOOPBACK == 0 && !ip.is_loopback() {
                    found = Some(ip);
                    break;
                }
            }
        }
        found
    };
    close(fd);
    found.unwrap_or(fallback)
}

/// Starts a non-blocking TCP connection to `to` (TCP_NODELAY: requests go
/// out at once). The connection is made when the socket polls writable;
/// `connect_result` then says how it went.
pub fn tcp_connect(to: &SocketAddr) -> Result<Fd, i32> {
    let family = if to.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let fd = socket(family, libc::SOCK_STREAM)?;
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    let raw = RawAddr::from(to);
    // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes.
    if unsafe { libc::connect(fd, raw.ptr(), raw.len) } < 0 {
        let e = errno();
        if e != libc::EINPROGRESS && e != libc::EINTR {
            close(fd);
            return Err(-e);
        }
    }
    Ok(fd)
}

/// 0 when a connection started by `tcp_connect` is up, else its negative errno.
pub fn connect_result(fd: Fd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_ERROR writes one c_int into `err`, whose size `len` gives.
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut err as *mut _ as *mut libc::c_void, &mut len)
    };
    if rc < 0 {
        return -errno();
    }
    if err != 0 {
        return -err;
    }
    // Writable with no error can still be a refused connection on some
    // systems: the peer's address tells.
    let mut raw = RawAddr::empty();
    // SAFETY: `raw` has room for any address; getpeername writes its length.
    if unsafe { libc::getpeername(fd, raw.mut_ptr(), &mut raw.len) } < 0 {
        return -libc::ECONNREFUSED;
    }
    0
}

/// The first address of `host` (an address, or a name, which may block on
/// DNS), with `port`, through getaddrinfo (which reads address literals
/// itself: no parser of ours on the board). -EHOSTUNREACH when the name does
/// not resolve.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, i32> {
    let mut name = alloc::vec::Vec::with_capacity(host.len() + 1);
    name.extend_from_slice(host.as_bytes());
    if name.contains(&0) {
        return Err(-libc::EHOSTUNREACH);
    }
    name.push(0);
    // SAFETY: `name` is NUL-terminated; hints is a zeroed addrinfo with the
    // fields getaddrinfo reads set; the list it returns is read (each entry's
    // address through its own length, as RawAddr) and freed once.
    unsafe {
        let mut hints: libc::addrinfo = zeroed();
        hints.ai_family = libc::AF_UNSPEC;
        hints.ai_socktype = libc::SOCK_STREAM;
        let mut list: *mut libc::addrinfo = core::ptr::null_mut();
        if libc::getaddrinfo(name.as_ptr() as *const libc::c_char, core::ptr::null(), &hints, &mut list) != 0 {
            return Err(-libc::EHOSTUNREACH);
        }
        let mut found = None;
        let mut entry = list;
        while !entry.is_null() && found.is_none() {
            let ai = &*entry;
            if !ai.ai_addr.is_null() && (ai.ai_addrlen as usize) <= size_of::<libc::sockaddr_storage>() {
                let mut raw = RawAddr::empty();
                core::ptr::copy_nonoverlapping(
                    ai.ai_addr as *const u8,
                    raw.mut_ptr() as *mut u8,
                    ai.ai_addrlen as usize,
                );
                raw.len = ai.ai_addrlen;
                found = raw.to_socket_addr();
            }
            entry = ai.ai_next;
        }
        libc::freeaddrinfo(list);
        found.map(|a| SocketAddr::new(a.ip(), port)).ok_or(-libc::EHOSTUNREACH)
    }
}
