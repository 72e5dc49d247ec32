//! The few Linux calls the load client needs: epoll, non-blocking sockets on
//! loopback, CLOCK_MONOTONIC and the process's own CPU time.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// CLOCK_MONOTONIC in microseconds: the clock the producers' logs use too
/// (MicroPython's `time.ticks_us()` on the unix port, CPython's `time.monotonic_ns()`).
pub fn now_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// User + system CPU seconds this process has used.
pub fn cpu_seconds() -> f64 {
    // SAFETY: zeroed rusage is a valid out-value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

pub struct Epoll {
    fd: RawFd,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    pub fn new(capacity: usize) -> io::Result<Epoll> {
        // SAFETY: plain syscall.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll { fd, events: vec![libc::epoll_event { events: 0, u64: 0 }; capacity] })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev outlives the call.
        check(unsafe { libc::epoll_ctl(self.fd, op, fd, &mut ev) }).map(|_| ())
    }

    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Waits up to `timeout_ms`; returns the ready (token, events) pairs.
    pub fn wait(&mut self, timeout_ms: i32) -> io::Result<impl Iterator<Item = (u64, u32)> + '_> {
        // SAFETY: the buffer holds events.len() entries.
        let n = unsafe {
            libc::epoll_wait(self.fd, self.events.as_mut_ptr(), self.events.len() as libc::c_int, timeout_ms)
        };
        let n = if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                0
            } else {
                return Err(e);
            }
        } else {
            n as usize
        };
        Ok(self.events[..n].iter().map(|e| (e.u64, e.events)))
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        close(self.fd);
    }
}

pub fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: fd is owned by the caller, closed once.
        unsafe { libc::close(fd) };
    }
}

fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(ip).to_be() },
        sin_zero: [0; 8],
    }
}

fn setsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> bool {
    // SAFETY: value lives across the call; its size is passed.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

/// Starts a non-blocking connect; completion is signalled by EPOLLOUT.
pub fn tcp_connect(ip: Ipv4Addr, port: u16) -> io::Result<RawFd> {
    // SAFETY: plain syscall.
    let fd = check(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
    })?;
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    let addr = sockaddr(ip, port);
    // SAFETY: addr is a valid sockaddr_in of the given size.
    let r = unsafe {
        libc::connect(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            close(fd);
            return Err(e);
        }
    }
    Ok(fd)
}

/// The pending error of a socket whose non-blocking connect finished.
pub fn socket_error(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err/len are valid out-pointers of the right size.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut err as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    err
}

/// A non-blocking UDP socket on 127.0.0.1:`port` (0: any); returns it and its port.
pub fn udp_bind(port: u16, rcvbuf: i32) -> io::Result<(RawFd, u16)> {
    // SAFETY: plain syscall.
    let fd = check(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
    })?;
    // Bursts of a whole keyframe wait here while the client serves other sockets.
    if !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, rcvbuf) {
        setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf);
    }
    let addr = sockaddr(Ipv4Addr::LOCALHOST, port);
    // SAFETY: addr is a valid sockaddr_in of the given size.
    let r = unsafe {
        libc::bind(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        close(fd);
        return Err(e);
    }
    let mut bound = sockaddr(Ipv4Addr::UNSPECIFIED, 0);
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: bound/len are valid out-pointers.
    unsafe { libc::getsockname(fd, &mut bound as *mut libc::sockaddr_in as *mut libc::sockaddr, &mut len) };
    Ok((fd, u16::from_be(bound.sin_port)))
}

/// read()/recv(): Ok(0) is end of stream, Err(WouldBlock) nothing now.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One non-blocking send; returns the bytes taken.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe {
        libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
