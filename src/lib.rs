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
//!   media-input check; [`backchannel`]: the receive buffer of the ONVIF
//!   audio back channel;
//! - [`rtp`] (Annex-B; H.264, H.265, JPEG and G.711 packetizers; RTCP),
//!   [`rtsp`] (requests, responses, Transport, URLs, auth), [`sdp`],
//!   [`clock`], [`access_unit`].
//!
//! The crate is `no_std` + `alloc` outside `cfg(test)`: the allocator is the C
//! `malloc`/`free` and a panic aborts.
#![cfg_attr(not(any(test, feature = "std")), no_std)]

extern crate alloc;

/// The C ABI is the crate's only public face.
pub mod ffi;

/// The core's modules are crate-private (so the compiler reports dead code),
/// and public with the `std` feature, for the fuzz targets in `fuzz/` that
/// drive the server, parsers and packetizers directly.
macro_rules! core_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "std")]
        pub mod $name;
        #[cfg(not(feature = "std"))]
        pub(crate) mod $name;
    )*};
}

core_modules!(access_unit, backchannel, clock, client, net, rtp, rtsp, sdp, server, session, small_map, timer);

// With `std` (the fuzz targets) the host std provides allocator and panic handler.
#[cfg(not(any(test, feature = "std")))]
mod runtime;

#[cfg(test)]
mod test_media;
