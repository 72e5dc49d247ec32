//! A media session on its own: what the script pushes in, RTP packets, parameter
//! sets, the GOP cache and timestamps out. Expected values come from RFC 6184,
//! RFC 3550, H.264 (access unit boundaries, 7.4.1.2.3) and API.md.

use super::*;
use crate::clock::{MediaClock, TimeBase};
use rtp_rs::RtpReader;

use crate::test_media::{annexb, idr, p_slice, slice, AUD, FRAME_US, PPS, SEI, SPS, SPS_MAIN};

fn counting_random() -> impl FnMut() -> u32 {
    let mut n = 0x1000u32;
    move || {
        n = n.wrapping_mul(2_654_435_761).wrapping_add(12_345);
        n
    }
}

fn h264() -> MediaSession {
    MediaSession::new(1, "test", VideoCodec::H264, None, &mut counting_random())
}

#[derive(Debug)]
struct Pkt {
    seq: u16,
    ts: u32,
    marker: bool,
    pt: u8,
    ssrc: u32,
    payload_len: usize,
    first_payload_byte: u8,
}

fn packets(frame: &Frame) -> Vec<Pkt> {
    (0..frame.packets.len())
        .map(|i| {
            let r = RtpReader::new(frame.packets.packet(i)).unwrap();
            Pkt {
                seq: u16::from(r.sequence_number()),
                ts: r.timestamp(),
                marker: r.mark(),
                pt: r.payload_type(),
                ssrc: r.ssrc(),
                payload_len: r.payload().len(),
                first_payload_byte: r.payload()[0],
            }
        })
        .collect()
}

/// A session fed one call per access unit at 30 fps (script time = arrival time).
struct Feed {
    m: MediaSession,
    k: u64,
}

impl Feed {
    fn new() -> Feed {
        Feed { m: h264(), k: 0 }
    }
    fn push(&mut self, nals: &[&[u8]]) -> FrameRef {
        let ts = self.k * FRAME_US;
        self.k += 1;
        only(self.m.push_video(&annexb(nals), ts, 10_000_000 + ts).unwrap())
    }
    /// A call that continues the current access unit (same script time).
    fn push_same_time(&mut self, nals: &[&[u8]]) -> FrameRef {
        let ts = (self.k - 1) * FRAME_US;
        only(self.m.push_video(&annexb(nals), ts, 10_000_000 + ts).unwrap())
    }
}

/// The one frame of a call that stays within one access unit.
fn only(mut frames: Vec<FrameRef>) -> FrameRef {
    assert_eq!(frames.len(), 1, "a call within one access unit makes one frame");
    frames.remove(0)
}

// ---------------------------------------------------------------- basics

#[test]
fn a_new_session_describes_its_tracks() {
    let m = h264();
    assert_eq!(m.track_count(), 1);
    assert!(m.start_frames().is_empty());
    let formats = m.track_formats();
    assert_eq!(formats.len(), 1);
    assert!(matches!(&formats[0], TrackFormat::H264 { pt: 96, sps: None, pps: None }));
    let with_audio = MediaSession::new(2, "cam", VideoCodec::H264, Some(AudioCodec::Pcmu), &mut counting_random());
    assert_eq!(with_audio.track_count(), 2);
    assert!(matches!(with_audio.track_formats()[1], TrackFormat::Pcmu));
    let mjpeg = MediaSession::new(3, "jpeg", VideoCodec::Mjpeg, None, &mut counting_random());
    assert!(matches!(mjpeg.track_formats()[0], TrackFormat::Jpeg));
}

#[test]
fn session_names_are_url_paths() {
    for good in ["test", "cam/main", "a.b", "trackIDx", "ü", &"n".repeat(255)] {
        assert!(valid_name(good), "{good:?}");
    }
    for bad in [
        "",
        "/a",
        "a/",
        "a//b",
        "a b",
        "a?b",
        "a#b",
        "a%b",
        "a\\b",
        "a\"b",
        "a\x7fb",
        "a\nb",
        ".",
        "a/..",
        "trackID=1",
        "cam/trackID=1",
        "cam/track2",
        "streamid=0",
        &"n".repeat(256),
    ] {
        assert!(!valid_name(bad), "{bad:?}");
    }
}

#[test]
fn unusable_data_is_refused_without_changing_the_stream() {
    let mut m = h264();
    let seq = m.streams[TRACK_VIDEO].seq;
    for data in [&b""[..], &[0, 0, 0, 1], &[0, 0, 1, 0, 0, 1], &[0, 0, 0, 0]] {
        assert_eq!(m.push_video(data, 0, 0).map(|_| ()), Err(PushError::Invalid), "{data:?}");
    }
    assert_eq!(m.streams[TRACK_VIDEO].seq, seq);
    assert!(m.sps.is_none());
    let mut mjpeg = MediaSession::new(1, "x", VideoCodec::Mjpeg, None, &mut counting_random());
    assert_eq!(mjpeg.push_video(&annexb(&[&idr(0, 100)]), 0, 0).map(|_| ()), Err(PushError::Invalid), "not a JPEG");
}

// ------------------------------------------------------ packets of a frame

#[test]
fn frame_fields_describe_its_packets() {
    let mut f = Feed::new();
    let first_seq = f.m.streams[TRACK_VIDEO].seq;
    let ssrc = f.m.streams[TRACK_VIDEO].ssrc;
    let big = idr(0, 200_000);
    let frame = f.push(&[SPS, PPS, &big]);
    assert_eq!(frame.track, TRACK_VIDEO);
    assert!(frame.gop_start);
    assert_eq!(frame.first_seq, first_seq);
    let pkts = packets(&frame);
    // SPS, PPS, then FU-A fragments of at most 1400 payload bytes (2 of them FU indicator and header).
    let fragments = (big.len() - 1).div_ceil(1400 - 2);
    assert_eq!(pkts.len(), 2 + fragments);
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.seq, first_seq.wrapping_add(i as u16));
        assert_eq!(p.ts, frame.rtp_time);
        assert_eq!((p.pt, p.ssrc), (96, ssrc));
        assert!(p.payload_len <= 1400);
        assert_eq!(p.marker, i == pkts.len() - 1, "packet {i}");
    }
    assert_eq!(pkts[0].first_payload_byte, SPS[0]);
    assert_eq!(pkts[1].first_payload_byte, PPS[0]);
    assert_eq!(pkts[2].first_payload_byte & 0x1f, 28, "FU-A");
    // The stream's next sequence number follows on.
    assert_eq!(f.m.streams[TRACK_VIDEO].seq, first_seq.wrapping_add(pkts.len() as u16));

    let p = f.push(&[&p_slice(1, 500)]);
    assert!(!p.gop_start);
    assert_eq!(p.first_seq, first_seq.wrapping_add(pkts.len() as u16));
    let pp = packets(&p);
    assert_eq!(pp.len(), 1);
    assert!(pp[0].marker);
    assert_eq!(pp[0].first_payload_byte, 0x41, "single NAL unit packet");
}

#[test]
fn access_unit_boundaries_across_calls() {
    let mut f = Feed::new();
    // Encoder packs: parameter sets alone, then the slice, pushed with the same pts.
    let params = f.push(&[SPS, PPS]);
    let idr_frame = f.push_same_time(&[&idr(0, 3000)]);
    assert_eq!(params.rtp_time, idr_frame.rtp_time, "one timestamp per access unit");
    assert!(packets(&params).iter().all(|p| !p.marker && p.ts == idr_frame.rtp_time));
    assert!(packets(&idr_frame).last().unwrap().marker);

    // Even when the script gives the parameter sets another pts than the slice,
    // they belong to the access unit that the slice completes.
    let params2 = f.push(&[SPS, PPS]);
    f.k += 1;
    let idr2 = f.push_same_time(&[&idr(1, 800)]);
    assert_eq!(params2.rtp_time, idr2.rtp_time);

    // A second slice of the same picture (first_mb_in_slice != 0) in its own call.
    let s1 = f.push(&[&p_slice(2, 700)]);
    let s2 = f.push(&[&slice(0x41, 0x40, 3, 700)]);
    assert_eq!(s1.rtp_time, s2.rtp_time, "two slices of one picture share its timestamp");

    // An AUD, an SEI or a new picture's first slice starts the next access unit.
    let aud = f.push(&[AUD]);
    assert_ne!(aud.rtp_time, s2.rtp_time);
    let after_aud = f.push(&[&p_slice(4, 300)]);
    assert_eq!(after_aud.rtp_time, aud.rtp_time);
    let sei = f.push(&[SEI, &p_slice(5, 300)]);
    assert_ne!(sei.rtp_time, after_aud.rtp_time);
    let next = f.push(&[&p_slice(6, 300)]);
    assert_ne!(next.rtp_time, sei.rtp_time);
    assert!(packets(&next)[0].marker);
}

#[test]
fn marker_only_after_the_last_slice_of_a_call() {
    let mut f = Feed::new();
    let frame = f.push(&[AUD, SPS, PPS, SEI, &idr(0, 2000), &slice(0x65, 0x40, 0, 2000)]);
    let pkts = packets(&frame);
    let marked: Vec<usize> = pkts.iter().enumerate().filter(|(_, p)| p.marker).map(|(i, _)| i).collect();
    assert_eq!(marked, vec![pkts.len() - 1]);
    assert!(pkts.iter().all(|p| p.ts == frame.rtp_time));
}

#[test]
fn a_call_spanning_two_access_units_becomes_two_frames() {
    let mut f = Feed::new();
    f.push(&[SPS, PPS, &idr(0, 500)]);
    let p = p_slice(1, 300);
    let next_idr = idr(2, 500);
    let frames = f.m.push_video(&annexb(&[&p, SPS, PPS, &next_idr]), 2 * FRAME_US, 10_000_000 + 2 * FRAME_US).unwrap();
    assert_eq!(frames.len(), 2);
    // The P picture ends where the next access unit begins: its slice carries the marker.
    let first = packets(&frames[0]);
    assert_eq!(first.len(), 1);
    assert!(first[0].marker);
    assert!(!frames[0].gop_start);
    // The second access unit opens a GOP that starts with its parameter sets.
    let second = packets(&frames[1]);
    assert!(frames[1].gop_start);
    assert_eq!(second[0].first_payload_byte & 0x1f, 7, "GOP starts at the SPS");
    assert_eq!(second.iter().filter(|p| p.marker).count(), 1);
    assert!(second.last().unwrap().marker);
    assert_eq!(second[0].seq, first[0].seq.wrapping_add(1));
    assert_eq!(f.m.start_frames()[0].first_seq, second[0].seq, "the cache starts at the new GOP, not the P slice");
}

#[test]
fn filler_after_the_slice_leaves_the_marker_on_the_slice() {
    let mut f = Feed::new();
    let filler: &[u8] = &[0x0c, 0xff, 0xff, 0x80];
    let frame = f.push(&[SPS, PPS, &idr(0, 500), filler]);
    let pkts = packets(&frame);
    let marked: Vec<usize> = pkts.iter().enumerate().filter(|(_, p)| p.marker).map(|(i, _)| i).collect();
    assert_eq!(marked, vec![2], "the IDR slice (third NAL unit) ends the picture");
}

#[test]
fn sequence_numbers_wrap() {
    let mut m = MediaSession::new(1, "w", VideoCodec::H264, None, &mut || u32::MAX);
    assert_eq!(m.streams[TRACK_VIDEO].seq, 0xffff);
    let frame = only(m.push_video(&annexb(&[SPS, PPS, &idr(0, 3000)]), 0, 0).unwrap());
    let seqs: Vec<u16> = packets(&frame).iter().map(|p| p.seq).collect();
    assert_eq!(&seqs[..3], &[0xffff, 0, 1]);
}

// ----------------------------------------------------- parameter sets, SDP

#[test]
fn parameter_sets_are_kept_and_a_change_bumps_the_sdp_version() {
    let mut f = Feed::new();
    let v0 = f.m.sdp_version;
    f.push(&[SPS, PPS, &idr(0, 500)]);
    assert_eq!(f.m.sps.as_deref(), Some(SPS), "without start code");
    assert_eq!(f.m.pps.as_deref(), Some(PPS));
    let v1 = f.m.sdp_version;
    assert!(v1 > v0);
    let TrackFormat::H264 { sps, pps, .. } = &f.m.track_formats()[0] else { panic!() };
    assert_eq!((sps.as_deref(), pps.as_deref()), (Some(SPS), Some(PPS)));
    // The same parameter sets with every IDR: no change.
    f.push(&[SPS, PPS, &idr(1, 500)]);
    assert_eq!(f.m.sdp_version, v1);
    f.push(&[SPS_MAIN, PPS, &idr(2, 500)]);
    assert_eq!(f.m.sps.as_deref(), Some(SPS_MAIN));
    assert!(f.m.sdp_version > v1);
}

// ---------------------------------------------------------------- GOP cache

fn cached_seqs(m: &MediaSession) -> Vec<u16> {
    m.start_frames().iter().map(|f| f.first_seq).collect()
}

#[test]
fn the_gop_cache_starts_at_the_parameter_sets_of_the_last_idr() {
    let mut f = Feed::new();
    // Nothing decodable yet: P slices, then parameter sets on their own.
    f.push(&[&p_slice(0, 300)]);
    assert!(f.m.start_frames().is_empty());
    let params = f.push(&[SPS, PPS]);
    assert!(f.m.start_frames().is_empty(), "no keyframe yet");
    let key = f.push_same_time(&[&idr(1, 3000)]);
    assert_eq!(cached_seqs(&f.m), vec![params.first_seq, key.first_seq]);
    let p1 = f.push(&[&p_slice(2, 300)]);
    let p2 = f.push(&[&p_slice(3, 300)]);
    assert_eq!(cached_seqs(&f.m), vec![params.first_seq, key.first_seq, p1.first_seq, p2.first_seq]);
    // The next IDR (a whole access unit in one call) replaces the GOP.
    let key2 = f.push(&[AUD, SPS, PPS, &idr(4, 3000)]);
    assert_eq!(cached_seqs(&f.m), vec![key2.first_seq]);
    // The cached frames are the very frames that were sent (shared, not copied).
    assert!(Arc::ptr_eq(&f.m.start_frames()[0], &key2));
}

#[test]
fn the_gop_cache_is_bounded_in_frames() {
    let mut f = Feed::new();
    f.push(&[SPS, PPS, &idr(0, 500)]);
    for k in 1..GOP_CACHE_MAX_FRAMES {
        f.push(&[&p_slice(k, 50)]);
    }
    assert_eq!(f.m.start_frames().len(), GOP_CACHE_MAX_FRAMES);
    f.push(&[&p_slice(0, 50)]);
    assert!(f.m.start_frames().is_empty(), "past the bound the cache is dropped");
    f.push(&[&p_slice(1, 50)]);
    assert!(f.m.start_frames().is_empty(), "and stays empty until the next keyframe");
    let key = f.push(&[SPS, PPS, &idr(1, 500)]);
    assert_eq!(cached_seqs(&f.m), vec![key.first_seq]);
}

#[test]
fn the_gop_cache_is_bounded_in_bytes() {
    let mut f = Feed::new();
    const MB: usize = 1 << 20;
    const { assert!(GOP_CACHE_MAX_BYTES > 7 * MB + MB / 2 && GOP_CACHE_MAX_BYTES < 9 * MB, "the test assumes 8 MB") };
    let big = p_slice(0, MB);
    f.push(&[SPS, PPS, &idr(0, MB)]);
    for _ in 0..6 {
        f.push(&[&big]);
    }
    assert_eq!(f.m.start_frames().len(), 7, "7 MB and their RTP headers fit");
    f.push(&[&big]);
    f.push(&[&big]);
    assert!(f.m.start_frames().is_empty(), "9 MB do not");
}

#[test]
fn start_point_is_the_first_packet_a_new_client_gets() {
    let mut f = Feed::new();
    // Nothing pushed: a lower bound for what comes.
    let (seq, ts) = f.m.start_point(TRACK_VIDEO, None, usize::MAX, 0);
    let first = f.push(&[&p_slice(0, 300)]);
    assert_eq!(seq, first.first_seq);
    assert!(first.rtp_time.wrapping_sub(ts) < 1 << 31);
    // After P slices only: the next packet, not before the last timestamp.
    let (seq, ts) = f.m.start_point(TRACK_VIDEO, None, usize::MAX, 0);
    assert_eq!(seq, f.m.streams[TRACK_VIDEO].seq);
    assert!(ts.wrapping_sub(first.rtp_time) < 1 << 31 && f.m.start_frames().is_empty());
    // Parameter sets pending for an IDR: a waiting client gets them first.
    let params = f.push(&[SPS, PPS]);
    assert_eq!(f.m.start_point(TRACK_VIDEO, None, usize::MAX, 0), (params.first_seq, params.rtp_time));
    f.push_same_time(&[&idr(1, 3000)]);
    assert_eq!(f.m.start_point(TRACK_VIDEO, None, usize::MAX, 0), (params.first_seq, params.rtp_time));
    f.push(&[&p_slice(2, 300)]);
    assert_eq!(f.m.start_point(TRACK_VIDEO, None, usize::MAX, 0), (params.first_seq, params.rtp_time), "mid-GOP: the GOP's start");
}

// ------------------------------------------------------------------- clock

/// RTP timestamps of access units pushed with (script µs, arrival µs).
fn au_times(pushes: &[(u64, u64)]) -> Vec<u32> {
    let mut m = h264();
    pushes
        .iter()
        .enumerate()
        .map(|(k, &(ts, now))| only(m.push_video(&annexb(&[&p_slice(k, 100)]), ts, now).unwrap()).rtp_time)
        .collect()
}

fn deltas(ts: &[u32]) -> Vec<i64> {
    ts.windows(2).map(|w| i64::from(w[1].wrapping_sub(w[0]) as i32)).collect()
}

#[test]
fn increasing_script_timestamps_set_the_pace() {
    // Arrivals in bursts and with stalls; the script's pts are 30 fps.
    let arrivals = [5u64, 5, 5, 90_000, 90_001, 300_000, 300_000, 300_000, 301_000, 302_000];
    let pushes: Vec<(u64, u64)> = arrivals.iter().enumerate().map(|(k, &a)| (k as u64 * 33_333, a)).collect();
    for d in deltas(&au_times(&pushes)) {
        assert!((2999..=3001).contains(&d), "{d}");
    }
    // Microseconds exactly: one second of script time is 90000 ticks.
    let t = au_times(&[(0, 7), (1_000_000, 8)]);
    assert_eq!(t[1].wrapping_sub(t[0]), 90_000);
}

#[test]
fn non_increasing_script_timestamps_switch_to_arrival_time() {
    let pushes: Vec<(u64, u64)> = (0..8u64).map(|k| (1000, 50_000_000 + k * 33_000)).collect();
    for d in deltas(&au_times(&pushes)) {
        assert!((2969..=2971).contains(&d), "{d}");
    }
    // Zero every time (another common way of not giving timestamps).
    let pushes: Vec<(u64, u64)> = (0..8u64).map(|k| (0, k * 40_000)).collect();
    for d in deltas(&au_times(&pushes)) {
        assert!((3599..=3601).contains(&d), "{d}");
    }
}

/// Apart from B-frame reordering (a step back under a second), the clock
/// runs forward: a script clock that restarts, or a repeated timestamp
/// (arrival time from then on), never rewinds the stream.
#[test]
fn the_rtp_clock_never_goes_back_beyond_reordering() {
    let script = [0u64, 33_333, 66_666, 5_000_000, 10, 20, 20, 30, 2_000_000, 5];
    let pushes: Vec<(u64, u64)> = script.iter().enumerate().map(|(k, &ts)| (ts, 100 + k as u64 * 33_333)).collect();
    for (i, d) in deltas(&au_times(&pushes)).into_iter().enumerate() {
        assert!(d >= 0, "went back by {d} at {}", i + 1);
    }
}

#[test]
fn media_clock_maps_microseconds_to_its_rate() {
    let mut audio = MediaClock::new(8000, u32::MAX);
    let t0 = audio.stamp(0, 1_000, &mut TimeBase::default());
    let t1 = audio.stamp(20_000, 1_001, &mut TimeBase::default());
    assert_eq!(t1 - t0, 20_000);
    assert_eq!(audio.rtp_time(t1).wrapping_sub(audio.rtp_time(t0)), 160, "20 ms at 8 kHz");
    // The RTP clock wraps at 2^32 (RFC 3550 5.1).
    let video = MediaClock::new(90_000, u32::MAX);
    assert_eq!(video.rtp_time(0), u32::MAX);
    assert_eq!(video.rtp_time(1_000_000), 89_999);
}
