//! RTP (RFC 3550) packetization, sans-IO.
//!
//! Packets are written once into a [`PacketBuf`] (one growable buffer for a
//! whole access unit), then frozen into [`Packets`] (`bytes::Bytes`): every
//! client of a session is sent slices of that one buffer.

pub mod annexb;
pub mod g711;
pub mod h264;
pub mod h265;
pub mod jpeg;
pub mod packet;
pub mod rtcp;
#[cfg(test)]
mod test_support;

pub use packet::{PacketBuf, Packets, RtpStream};
