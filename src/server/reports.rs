//! RTCP from the server: sender reports and BYE (RFC 3550 6.4.1, 6.6).

use alloc::vec::Vec;

use super::output::Sent;
use super::timers::ClientTimer;
use super::{ClientId, Server};
use crate::rtp::rtcp::CNAME;
use crate::rtp::rtcp;
use crate::session::Frame;

impl Server {
    /// RTCP sender reports for each track of a playing client: an NTP time
    /// beside the RTP time of the same instant on that track's clock, which
    /// is what lets a player line audio up with video. The first report on a
    /// track describes the first frame the client was sent on it (see
    /// `Client::media_queued`: nothing it reads after the report is older),
    /// later ones `now`. Both lie on the one monotonic time base, so every
    /// report gives the same mapping.
    pub(super) fn send_sender_reports(&mut self, ci: ClientId, now_us: u64) {
        let wall_offset_us = self.wall_offset_us;
        let Some(client) = self.clients.get_mut(ci.0) else { return };
        client.timers.set(ClientTimer::Report, now_us.saturating_add(self.config.sender_report_interval_us));
        let Some(media) = self.sessions.get(client.media.0) else { return };
        for (track, transport) in client.tracks.iter().enumerate() {
            // None before the track's first packet.
            let (Some(transport), Some(first)) = (*transport, client.first_media[track]) else { continue };
            let (rtp_time, at_us) = if client.reported[track] {
                (media.clocks[track].rtp_time(now_us), now_us)
            } else {
                client.reported[track] = true;
                first
            };
            let wall_us = (at_us as i64 + wall_offset_us).max(0) as u64;
            let info = rtcp::SenderInfo {
                ssrc: media.streams[track].ssrc,
                ntp: rtcp::ntp_from_unix_us(wall_us),
                rtp_time,
                packets: media.sent[track].packets,
                octets: media.sent[track].octets,
            };
            let mut bytes = Vec::new();
            rtcp::sender_report(&mut bytes, &info, CNAME);
            let _: Sent = self.wire.enqueue(client.conn, transport, &Frame::rtcp(track, bytes));
        }
    }

    /// RTCP BYE on each of a client's tracks: its stream ends here.
    pub(super) fn send_bye(&mut self, ci: ClientId) {
        let Some(client) = self.clients.get(ci.0) else { return };
        let Some(media) = self.sessions.get(client.media.0) else { return };
        for (track, transport) in client.tracks.iter().enumerate() {
            let Some(transport) = *transport else { continue };
            let mut bytes = Vec::new();
            rtcp::bye(&mut bytes, media.streams[track].ssrc, CNAME);
            // RTCP adds nothing to the RTP counters.
            let _: Sent = self.wire.enqueue(client.conn, transport, &Frame::rtcp(track, bytes));
        }
    }
}
