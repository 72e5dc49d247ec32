//! The I/O layer: the only code that talks to the OS (through the `libc`
//! crate). It owns the listening socket, client sockets, the UDP pair, a poll
//! loop, a wake pipe and the thread, and drives the sans-IO [`crate::server`]
//! core. Every OS facility sits behind one small function here so that a port
//! to another POSIX-like system (RT-Smart's musl userland) is a one-file change.

pub mod event_loop;
pub mod pusher;
pub mod inbox;
pub mod os;
pub mod sync;
pub mod thread;

pub use event_loop::Runtime;
