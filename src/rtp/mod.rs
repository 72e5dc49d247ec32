//! RTP (RFC 3550) packetization, sans-IO.
//!
//! Packets are written once into a [`PacketBuf`] (one allocation for a whole
//! access unit) and shared by every client of a session by reference count.

pub mod annexb;
pub mod g711;
pub mod h264;
pub mod h265;
pub mod jpeg;
pub mod packet;
pub mod rtcp;
#[cfg(test)]
mod test_support;

pub use packet::{PacketBuf, RtpStream};
