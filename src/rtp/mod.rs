//! RTP (RFC 3550) packetization, sans-IO.
//!
//! Packets are written once into a [`PacketBuf`] (one allocation for a whole
//! access unit) and shared by every client of a session by reference count.

pub mod annexb;
pub mod h264;
pub mod packet;

pub use packet::{PacketBuf, PacketRef, RtpStream};
