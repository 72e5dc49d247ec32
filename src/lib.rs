//! canmv-rtsp: the RTSP server behind CanMV K230 MicroPython's `multimedia` module.
//!
//! Layout (see docs/ARCHITECTURE.md):
//! Dependencies run one way, `ffi` → `net` → `server` → `session` → the
//! protocol pieces:
//! - [`ffi`]: the C ABI used by `micropython/modmultimedia.c`;
//! - [`net`]: the only place that talks to the OS (sockets, poll, thread,
//!   clock, entropy) and the producer's inbox with its wake-up policy;
//! - [`server`]: the sans-IO RTSP server (events in; transmits, closes and
//!   one deadline out);
//! - [`session`]: a media session (tracks, GOP cache, clocks) and the
//!   media-input check;
//! - [`rtp`] (Annex-B; H.264, H.265, JPEG and G.711 packetizers; RTCP),
//!   [`rtsp`] (requests, responses, Transport, URLs, auth), [`sdp`],
//!   [`clock`], [`access_unit`].
//!
//! The crate is `no_std` + `alloc` outside `cfg(test)`: the allocator is the C
//! `malloc`/`free` and a panic aborts.
#![cfg_attr(not(any(test, feature = "std")), no_std)]

extern crate alloc;

pub mod access_unit;
pub mod clock;
pub mod ffi;
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
