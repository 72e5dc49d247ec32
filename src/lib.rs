//! canmv-rtsp: the RTSP server behind CanMV K230 MicroPython's `multimedia` module.
//!
//! Layout (see docs/ARCHITECTURE.md):
//! - sans-IO core: [`rtsp`] (requests, responses, Transport, URLs), [`sdp`],
//!   [`rtp`] (Annex-B, H.264 packetizer), [`session`] (media sessions and
//!   clients), [`server`] (the RTSP state machine over connections),
//!   [`handoff`] (producer calls checked and queued for the loop thread);
//! - [`net`]: the only place that talks to the OS (sockets, poll, thread, clock);
//! - [`ffi`]: the C ABI used by `micropython/modmultimedia.c`.
//!
//! The crate is `no_std` + `alloc` outside `cfg(test)`: the allocator is the C
//! `malloc`/`free` and a panic aborts.
#![cfg_attr(not(any(test, feature = "std")), no_std)]

extern crate alloc;

pub mod access_unit;
pub mod clock;
pub mod ffi;
pub mod handoff;
pub mod net;
// The codecs' NAL type constants share names; they are no part of the C ABI.
/// cbindgen:ignore
pub mod rtp;
pub mod rtsp;
pub mod sdp;
pub mod server;
pub mod session;

// With `std` (the fuzz targets) the host std provides allocator and panic handler.
#[cfg(not(any(test, feature = "std")))]
mod runtime;

#[cfg(test)]
mod test_media;
