//! The ONVIF audio back channel (ONVIF Streaming Specification 5.3): offered
//! on `Require: www.onvif.org/ver20/backchannel` only, audio taken from the
//! one client that talks and only from where it said it would send.

use super::*;
use crate::rtp::{PacketBuf, RtpStream};
use crate::session::AudioCodec;

const TAG: &str = "www.onvif.org/ver20/backchannel";
const DOOR: &str = "rtsp://127.0.0.1:8554/door";

/// A rig with a session "door" (H.264 + PCMU) that has a back channel in `codec`.
fn door(codec: AudioCodec) -> Rig {
    let mut rig = Rig::new();
    let options = SessionOptions { gop_cache: true, backchannel: Some(codec) };
    rig.s.create_session("door", VideoCodec::H264, Some(AudioCodec::Pcmu), options).unwrap();
    rig
}

/// `count` RTP packets of 160 bytes (20 ms), the payload bytes counting up from `first`.
fn talk(stream: &mut RtpStream, ts: &mut u32, count: usize, first: u8) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let payload: Vec<u8> = (0..160).map(|j| first.wrapping_add((i * 160 + j) as u8)).collect();
            let mut out = PacketBuf::new();
            stream.write_packet(&mut out, *ts, false, &[&payload]);
            *ts = ts.wrapping_add(160);
            out.packet(0).to_vec()
        })
        .collect()
}

fn payloads(packets: &[Vec<u8>]) -> Vec<u8> {
    packets.iter().flat_map(|p| p[12..].to_vec()).collect()
}

fn interleaved(channel: u8, packet: &[u8]) -> Vec<u8> {
    let mut out = vec![b'$', channel];
    out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    out.extend_from_slice(packet);
    out
}

fn heard(rig: &mut Rig) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = rig.s.recv_backchannel("door", &mut buf).unwrap();
    buf.truncate(n);
    buf
}

impl Rig {
    /// SETUP of the video and the back channel over TCP (interleaved 0-1 and 4-5), then PLAY.
    fn tcp_talker(&mut self, id: Tid) -> String {
        self.open(id);
        let require = [("Require", TAG)];
        let d = self.request(id, "DESCRIBE", DOOR, &require);
        assert_eq!(d.status, 200);
        let r = self.request(id, "SETUP", &format!("{DOOR}/trackID=0"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
        let sid = r.session();
        let r = self.request(
            id,
            "SETUP",
            &format!("{DOOR}/trackID=2"),
            &[("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5"), ("Session", &sid), ("Require", TAG)],
        );
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("Transport"), Some("RTP/AVP/TCP;unicast;interleaved=4-5"), "no SSRC: the client sends");
        self.play(id, "door", &sid);
        sid
    }

    /// SETUP of the back channel alone over UDP from `client_rtp`, then PLAY.
    fn udp_talker(&mut self, id: Tid, client_rtp: u16) -> String {
        self.open(id);
        let transport = format!("RTP/AVP;unicast;client_port={}-{}", client_rtp, client_rtp + 1);
        let r = self.request(id, "SETUP", &format!("{DOOR}/trackID=2"), &[("Transport", &transport), ("Require", TAG)]);
        assert_eq!(r.status, 200, "{r:?}");
        let sid = r.session();
        let play = self.play(id, "door", &sid);
        // It is sent nothing: no RTP-Info (RFC 2326 12.33 describes the streams sent).
        assert_eq!(play.header("RTP-Info"), None);
        sid
    }

    fn rtp_in(&mut self, from: SocketAddr, data: &[u8]) {
        self.s.handle_input(Input::Rtp { from, data }, self.now);
    }

    fn door_stats(&self) -> Stats {
        self.s.stats(Some("door")).unwrap()
    }

    fn talking(&self) -> Vec<bool> {
        self.s.client_stats(Some("door")).unwrap().iter().map(|c| c.talking).collect()
    }
}

#[test]
fn describe_offers_the_back_channel_only_to_those_who_require_it() {
    let mut rig = door(AudioCodec::Pcma);
    rig.open(1);
    let plain = rig.request(1, "DESCRIBE", DOOR, &[]);
    let text = String::from_utf8(plain.body).unwrap();
    assert_eq!(text.matches("m=").count(), 2, "video and audio only:\n{text}");
    assert!(!text.contains("sendonly") && !text.contains("trackID=2"), "{text}");

    let asked = rig.request(1, "DESCRIBE", DOOR, &[("Require", TAG)]);
    assert_eq!(asked.status, 200);
    let text = String::from_utf8(asked.body).unwrap();
    let back = &text[text.rfind("m=").unwrap()..];
    assert!(back.starts_with("m=audio 0 RTP/AVP 8\r\n"), "{text}");
    for line in ["a=rtpmap:8 PCMA/8000", "a=control:trackID=2", "a=sendonly"] {
        assert!(back.contains(&format!("{line}\r\n")), "{line} in:\n{back}");
    }

    // A session without one: 551 and the tag in Unsupported (RFC 2326 12.32).
    let no = rig.request(1, "DESCRIBE", URL, &[("Require", TAG)]);
    assert_eq!((no.status, no.header("Unsupported")), (551, Some(TAG)));
    // Nor may anyone set up a track it does not offer.
    let r = rig.request(1, "SETUP", &format!("{URL}/trackID=2"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5")]);
    assert_eq!(r.status, 404);
}

#[test]
fn an_option_we_do_not_have_is_551_whatever_the_method() {
    let mut rig = door(AudioCodec::Pcmu);
    rig.open(1);
    for method in ["OPTIONS", "DESCRIBE"] {
        let r = rig.request(
            1,
            method,
            DOOR,
            &[("Require", "funky-feature, www.onvif.org/ver20/backchannel"), ("Require", "play.basic")],
        );
        // Every option it lacks, in Unsupported (RFC 2326 12.43).
        assert_eq!((r.status, r.header("Unsupported")), (551, Some("funky-feature, play.basic")), "{method}");
    }
    assert_eq!(rig.request(1, "OPTIONS", DOOR, &[("Require", TAG)]).status, 200);
}

#[test]
fn interleaved_audio_from_the_talker_is_read_back_in_order_beside_its_video() {
    let mut rig = door(AudioCodec::Pcmu);
    rig.tcp_talker(1);
    assert_eq!(rig.talking(), vec![true]);
    let (mut stream, mut ts) = (RtpStream::new(0, 0x1234, 65530), 0);
    let packets = talk(&mut stream, &mut ts, 20, 7);
    // Pipelined with a keepalive, split at odd places: the parser finds them all.
    let mut bytes: Vec<u8> = packets.iter().flat_map(|p| interleaved(4, p)).collect();
    bytes.extend_from_slice(format!("GET_PARAMETER {DOOR} RTSP/1.0\r\nCSeq: 99\r\n\r\n").as_bytes());
    for chunk in bytes.chunks(333) {
        rig.conn_data(1, chunk, rig.now);
    }
    let replies: Vec<u16> = rig.read(1).into_iter().filter_map(|o| if let Out::Reply(r) = o { Some(r.status) } else { None }).collect();
    assert_eq!(replies, vec![200], "the keepalive after the audio is answered");
    assert_eq!(heard(&mut rig), payloads(&packets));
    assert_eq!((rig.door_stats().backchannel_bytes, rig.door_stats().backchannel_dropped), (3200, 0));
    assert!(heard(&mut rig).is_empty(), "read once");
    // The video still flows to it.
    rig.push_video("door", &annexb(&[SPS.to_vec(), PPS.to_vec(), idr(0, 100)]), 0, rig.now).unwrap();
    rig.flush();
    assert!(!rig.tcp_packets(1, 0).is_empty());
}

#[test]
fn udp_audio_is_taken_only_from_the_declared_port_of_the_client() {
    let mut rig = door(AudioCodec::Pcmu);
    rig.udp_talker(1, 5000);
    let (mut stream, mut ts) = (RtpStream::new(0, 9, 1), 0);
    let packets = talk(&mut stream, &mut ts, 3, 0);
    let own = SocketAddr::new(peer(1).ip(), 5000);
    rig.rtp_in(own, &packets[0]);
    // Another port of the same host, another host on the same port: not its audio.
    rig.rtp_in(SocketAddr::new(peer(1).ip(), 5002), &packets[1]);
    rig.rtp_in("127.0.0.2:5000".parse().unwrap(), &packets[1]);
    rig.rtp_in(own, &packets[1]);
    rig.rtp_in(own, &packets[2]);
    assert_eq!(heard(&mut rig), payloads(&packets));
    assert_eq!(rig.door_stats().backchannel_dropped, 0, "strangers count against nobody");
}

#[test]
fn one_talker_at_a_time_the_next_takes_over_when_it_leaves() {
    let mut rig = door(AudioCodec::Pcmu);
    let first = rig.tcp_talker(1);
    rig.tcp_talker(2);
    assert_eq!(rig.talking(), vec![true, false]);
    let (mut a, mut ta) = (RtpStream::new(0, 1, 0), 0);
    let (mut b, mut tb) = (RtpStream::new(0, 2, 0), 0);
    let from_a = talk(&mut a, &mut ta, 2, 0);
    let from_b = talk(&mut b, &mut tb, 2, 100);
    rig.conn_data(2, &interleaved(4, &from_b[0]), rig.now);
    rig.conn_data(1, &interleaved(4, &from_a[0]), rig.now);
    assert_eq!(heard(&mut rig), payloads(&from_a[..1]));
    assert_eq!(rig.door_stats().backchannel_dropped, 160, "the other's packet, counted");

    let r = rig.request(1, "TEARDOWN", &format!("{DOOR}/"), &[("Session", &first)]);
    assert_eq!(r.status, 200);
    rig.conn_data(2, &interleaved(4, &from_b[1]), rig.now);
    assert_eq!(heard(&mut rig), payloads(&from_b[1..]));
    assert_eq!(rig.talking(), vec![true]);
    // Gone with its connection, too.
    rig.conn_closed(2);
    rig.udp_talker(3, 6000);
    assert_eq!(rig.talking(), vec![true]);
}

#[test]
fn audio_before_play_or_while_paused_is_dropped() {
    let mut rig = door(AudioCodec::Pcmu);
    let sid = rig.tcp_talker(1);
    let r = rig.request(1, "PAUSE", &format!("{DOOR}/"), &[("Session", &sid)]);
    assert_eq!(r.status, 200);
    let (mut s, mut ts) = (RtpStream::new(0, 1, 0), 0);
    let p = talk(&mut s, &mut ts, 1, 0);
    rig.conn_data(1, &interleaved(4, &p[0]), rig.now);
    assert!(heard(&mut rig).is_empty());
    assert_eq!(rig.door_stats().backchannel_dropped, 160);
}

#[test]
fn a_client_that_only_talks_stays_alive() {
    let mut rig = door(AudioCodec::Pcmu);
    rig.udp_talker(1, 5000);
    let (mut s, mut ts) = (RtpStream::new(0, 1, 0), 0);
    let own = SocketAddr::new(peer(1).ip(), 5000);
    // Three session timeouts of audio and nothing else.
    for p in talk(&mut s, &mut ts, 180, 0) {
        rig.now += 1_000_000;
        rig.rtp_in(own, &p);
        rig.s.handle_timeout(rig.now);
        let _ = heard(&mut rig);
    }
    assert_eq!(rig.door_stats().clients, 1);
    assert_eq!(rig.door_stats().backchannel_bytes, 180 * 160);
}

#[test]
fn reads_name_a_session_with_a_back_channel() {
    let mut rig = door(AudioCodec::Pcmu);
    let mut buf = [0u8; 8];
    assert_eq!(rig.s.recv_backchannel("door", &mut buf), Ok(0));
    assert_eq!(rig.s.recv_backchannel("test", &mut buf), Err(RecvError::NoBackchannel));
    assert_eq!(rig.s.recv_backchannel("nope", &mut buf), Err(RecvError::NoSession));
}
