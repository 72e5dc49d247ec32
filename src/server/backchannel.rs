//! The ONVIF audio back channel on the server's side (ONVIF Streaming
//! Specification 5.3): which client talks, its RTP in, and the script's reads.
//!
//! A session made with a back channel offers it (`trackID=2`, `a=sendonly`)
//! to clients whose DESCRIBE requires `www.onvif.org/ver20/backchannel`.
//! One client talks at a time: the first to PLAY with the back channel set
//! up holds it until it leaves (the flag goes with the client, so nothing
//! outlives it); meanwhile the others' audio is dropped and counted. Audio
//! is taken only from the client that set the track up: over UDP from its
//! declared RTP port, over TCP on its RTP channel.

use core::net::SocketAddr;

use super::{ClientId, Server, SessionId, TrackTransport};

/// The option tag of ONVIF's back channel (the `Require` header).
pub const REQUIRE_TAG: &str = "www.onvif.org/ver20/backchannel";

/// Why `recv_backchannel` read nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    NoSession,
    /// The session was made without a back channel.
    NoBackchannel,
}

impl Server {
    /// A datagram on the server's RTP socket: back-channel audio when it
    /// comes from the RTP port a client declared for it, else ignored.
    pub(super) fn rtp_in(&mut self, from: SocketAddr, data: &[u8], now_us: u64) {
        let sender = self
            .clients
            .iter()
            .find(|(_, c)| matches!(c.backchannel, Some(TrackTransport::Udp { rtp, .. }) if rtp == from));
        if let Some((k, _)) = sender {
            self.backchannel_in(ClientId(k), data, now_us);
        }
    }

    /// One RTP packet from a client that set the back channel up. A sign of
    /// life; its audio is taken if it plays and holds the back channel (or
    /// nobody does), else dropped and counted.
    pub(super) fn backchannel_in(&mut self, ci: ClientId, data: &[u8], now_us: u64) {
        let Some(client) = self.clients.get(ci.0) else { return };
        let (media, playing, talking) = (client.media, client.playing, client.talking);
        let may_talk = playing && (talking || self.take_backchannel(ci, media));
        let Some(client) = self.clients.get_mut(ci.0) else { return };
        client.seen(now_us, &self.config);
        let Some(bc) = self.sessions.get_mut(media.0).and_then(|s| s.backchannel.as_mut()) else { return };
        if may_talk {
            let _ = bc.push_rtp(data);
        } else {
            bc.drop_payload(data);
        }
    }

    /// Gives `ci` its session's back channel if nobody of `media` holds it.
    pub(super) fn take_backchannel(&mut self, ci: ClientId, media: SessionId) -> bool {
        if self.clients.values().any(|c| c.media == media && c.talking) {
            return false;
        }
        let Some(client) = self.clients.get_mut(ci.0).filter(|c| c.backchannel.is_some()) else { return false };
        client.talking = true;
        if let Some(bc) = self.sessions.get_mut(media.0).and_then(|s| s.backchannel.as_mut()) {
            bc.new_talker();
        }
        true
    }

    /// Moves the oldest back-channel audio of session `name` into `out`: the
    /// G.711 payload in arrival order, losses filled with silence. How many bytes.
    pub fn recv_backchannel(&mut self, name: &str, out: &mut [u8]) -> Result<usize, RecvError> {
        let id = self.session_id(name).ok_or(RecvError::NoSession)?;
        let session = self.sessions.get_mut(id.0).ok_or(RecvError::NoSession)?;
        let bc = session.backchannel.as_mut().ok_or(RecvError::NoBackchannel)?;
        Ok(bc.read(out))
    }
}
