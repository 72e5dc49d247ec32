//! A media session: one named stream (`rtsp://host:port/<name>`) with its
//! video track and optional audio track. It turns what the script pushes into
//! shared RTP packets, and keeps what a joining client needs: the parameter
//! sets (for the SDP) and the current GOP (for an instant, decodable start).
//! Sans-IO: time comes in as arguments.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::rtp::{annexb, h264, PacketBuf, RtpStream};
use crate::sdp::TrackFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
    Mjpeg,
}

impl VideoCodec {
    pub fn from_c(value: i32) -> Option<VideoCodec> {
        match value {
            0 => Some(VideoCodec::H264),
            1 => Some(VideoCodec::H265),
            2 => Some(VideoCodec::Mjpeg),
            _ => None,
        }
    }
}

/// Errors of the producer calls, mapped to negative errnos at the C boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// Empty or unusable data.
    Invalid,
    /// This codec or track is not implemented yet.
    Unsupported,
}

pub const TRACK_VIDEO: usize = 0;
pub const TRACK_AUDIO: usize = 1;

/// One producer call's worth of RTP packets, shared by every client.
#[derive(Debug)]
pub struct Frame {
    pub track: usize,
    pub packets: PacketBuf,
    /// RTP timestamp of these packets.
    pub rtp_time: u32,
    /// Sequence number of the first packet.
    pub first_seq: u16,
    /// Starts a GOP a decoder can begin with (holds an IDR picture).
    pub gop_start: bool,
}

pub type FrameRef = Arc<Frame>;

/// Bounds on the cached GOP: past them the cache is dropped until the next
/// keyframe (late joiners then wait for it instead).
const GOP_CACHE_MAX_FRAMES: usize = 600;
const GOP_CACHE_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Maps the script's timestamps, or arrival times, onto one monotonic clock
/// (µs) and from there onto an RTP clock. API.md: the script's µs timestamps
/// are used while they increase from one access unit to the next; once they
/// don't (CanMV's examples pass a constant), arrival time is used instead.
#[derive(Debug, Clone)]
pub struct MediaClock {
    rate: u32,
    rtp_base: u32,
    /// Added to a script timestamp to put it on the monotonic clock.
    offset: Option<i64>,
    last_script_ts: Option<u64>,
    use_arrival: bool,
    last_us: u64,
}

impl MediaClock {
    pub fn new(rate: u32, rtp_base: u32) -> Self {
        MediaClock { rate, rtp_base, offset: None, last_script_ts: None, use_arrival: false, last_us: 0 }
    }

    /// The monotonic time (µs) of a new access unit stamped `script_ts` arriving at `now_us`.
    pub fn stamp(&mut self, script_ts: u64, now_us: u64) -> u64 {
        if let Some(last) = self.last_script_ts {
            if script_ts <= last {
                self.use_arrival = true;
            }
        }
        self.last_script_ts = Some(script_ts);
        let offset = *self.offset.get_or_insert(now_us as i64 - script_ts as i64);
        let t = if self.use_arrival { now_us } else { (script_ts as i64 + offset).max(0) as u64 };
        // Never go back in time (a switch to arrival mode can't rewind).
        self.last_us = t.max(self.last_us);
        self.last_us
    }

    /// RTP timestamp of monotonic time `t_us`.
    pub fn rtp_time(&self, t_us: u64) -> u32 {
        let ticks = (t_us as u128 * self.rate as u128 / 1_000_000) as u64;
        self.rtp_base.wrapping_add(ticks as u32)
    }
}

/// H.264 access-unit tracking across producer calls.
#[derive(Debug, Default, Clone)]
struct AuState {
    /// The last NAL unit seen was a coded slice: the next AUD/SPS/PPS/SEI or
    /// first slice of a picture starts a new access unit.
    after_vcl: bool,
    /// RTP time of the current access unit.
    rtp_time: u32,
    /// Frames of the current access unit so far (parameter sets sent in an
    /// earlier call belong to the GOP that the IDR starts).
    frames: Vec<FrameRef>,
    started: bool,
}

pub struct MediaSession {
    pub id: u32,
    pub name: String,
    pub codec: VideoCodec,
    pub audio: bool,
    pub streams: [RtpStream; 2],
    pub video_clock: MediaClock,
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
    pub vps: Option<Vec<u8>>,
    /// Bumped whenever the SDP changes (new parameter sets).
    pub sdp_version: u64,
    /// The current GOP from its keyframe on; empty when none is cached.
    pub gop: Vec<FrameRef>,
    gop_bytes: usize,
    au: AuState,
}

impl MediaSession {
    /// `random` gives the SSRCs, first sequence numbers and RTP time bases.
    pub fn new(id: u32, name: &str, codec: VideoCodec, audio: bool, random: &mut dyn FnMut() -> u32) -> Self {
        let video_pt = match codec {
            VideoCodec::Mjpeg => 26,
            _ => 96,
        };
        let mut video = RtpStream::new(video_pt, random(), random() as u16);
        video.max_payload = 1400;
        let audio_stream = RtpStream::new(0, random(), random() as u16);
        MediaSession {
            id,
            name: name.into(),
            codec,
            audio,
            streams: [video, audio_stream],
            video_clock: MediaClock::new(90_000, random()),
            sps: None,
            pps: None,
            vps: None,
            sdp_version: 1,
            gop: Vec::new(),
            gop_bytes: 0,
            au: AuState::default(),
        }
    }

    /// The tracks as the SDP describes them, in track-index order.
    pub fn track_formats(&self) -> Vec<TrackFormat> {
        let mut tracks = Vec::new();
        tracks.push(match self.codec {
            VideoCodec::H264 => TrackFormat::H264 { pt: 96, sps: self.sps.clone(), pps: self.pps.clone() },
            VideoCodec::H265 => {
                TrackFormat::H265 { pt: 96, vps: self.vps.clone(), sps: self.sps.clone(), pps: self.pps.clone() }
            }
            VideoCodec::Mjpeg => TrackFormat::Jpeg,
        });
        if self.audio {
            tracks.push(TrackFormat::Pcmu);
        }
        tracks
    }

    pub fn track_count(&self) -> usize {
        if self.audio { 2 } else { 1 }
    }

    /// Takes one producer call of video and returns the frame to fan out.
    /// Takes one producer call of video and returns the frames to fan out:
    /// one per access unit the call touches (almost always exactly one).
    pub fn push_video(&mut self, data: &[u8], script_ts: u64, now_us: u64) -> Result<Vec<FrameRef>, PushError> {
        match self.codec {
            VideoCodec::H264 => self.push_h264(data, script_ts, now_us),
            VideoCodec::H265 | VideoCodec::Mjpeg => Err(PushError::Unsupported),
        }
    }

    fn push_h264(&mut self, data: &[u8], script_ts: u64, now_us: u64) -> Result<Vec<FrameRef>, PushError> {
        let nals: Vec<&[u8]> = annexb::nal_units(data).collect();
        if nals.is_empty() {
            return Err(PushError::Invalid);
        }
        // Split the call where access units begin: each part becomes one frame
        // with one timestamp, and a part followed by a new access unit is known
        // to be complete.
        let mut opens = Vec::with_capacity(nals.len());
        let (mut started, mut after_vcl) = (self.au.started, self.au.after_vcl);
        for nal in &nals {
            opens.push(!started || opens_access_unit(after_vcl, nal));
            started = true;
            after_vcl = h264::is_vcl(nal);
        }
        let mut frames = Vec::new();
        let mut call_time = None;
        let mut begin = 0;
        for end in 1..=nals.len() {
            if end == nals.len() || opens[end] {
                frames.push(self.h264_frame(&nals[begin..end], opens[begin], &mut call_time, script_ts, now_us));
                begin = end;
            }
        }
        Ok(frames)
    }

    /// Packetizes the NAL units of one access unit (or the part of it in this
    /// call). The call is stamped once: a second access unit in the same call
    /// shares its time rather than make the script's timestamps look constant.
    fn h264_frame(
        &mut self,
        nals: &[&[u8]],
        opens_au: bool,
        call_time: &mut Option<u32>,
        script_ts: u64,
        now_us: u64,
    ) -> FrameRef {
        if opens_au {
            let rtp_time = *call_time.get_or_insert_with(|| {
                let t = self.video_clock.stamp(script_ts, now_us);
                self.video_clock.rtp_time(t)
            });
            self.au = AuState { rtp_time, started: true, ..AuState::default() };
        }
        let mut packets = PacketBuf::new();
        let first_seq = self.streams[TRACK_VIDEO].seq;
        let mut gop_start = false;
        // The marker goes on the last slice: nothing after it in this call belongs to its picture.
        let last_slice = nals.iter().rposition(|n| h264::is_vcl(n));
        for (i, nal) in nals.iter().enumerate() {
            match h264::nal_type(nal) {
                h264::NAL_SPS => self.sdp_version += u64::from(replace_if_changed(&mut self.sps, nal)),
                h264::NAL_PPS => self.sdp_version += u64::from(replace_if_changed(&mut self.pps, nal)),
                h264::NAL_IDR => gop_start = true,
                _ => {}
            }
            let marker = Some(i) == last_slice;
            h264::packetize_nal(&mut self.streams[TRACK_VIDEO], nal, self.au.rtp_time, marker, &mut packets);
            self.au.after_vcl = h264::is_vcl(nal);
        }
        let frame =
            Arc::new(Frame { track: TRACK_VIDEO, packets, rtp_time: self.au.rtp_time, first_seq, gop_start });
        self.remember(&frame);
        frame
    }

    /// Keeps the GOP cache current: an IDR frame starts a new GOP together
    /// with the earlier frames of its access unit (parameter sets sent ahead).
    fn remember(&mut self, frame: &FrameRef) {
        if frame.gop_start {
            self.gop.clear();
            self.gop_bytes = 0;
            for f in &self.au.frames {
                self.gop_bytes += f.packets.data.len();
                self.gop.push(f.clone());
            }
        }
        self.au.frames.push(frame.clone());
        if frame.gop_start || !self.gop.is_empty() {
            self.gop_bytes += frame.packets.data.len();
            self.gop.push(frame.clone());
        }
        if self.gop.len() > GOP_CACHE_MAX_FRAMES || self.gop_bytes > GOP_CACHE_MAX_BYTES {
            self.gop.clear();
            self.gop_bytes = 0;
        }
    }

    /// The frames a client starting now receives first: parameter sets and the GOP so far.
    pub fn start_frames(&self) -> &[FrameRef] {
        &self.gop
    }

    /// Sequence number and RTP time of the first video packet a client that
    /// starts now receives (PLAY's RTP-Info): the cached GOP's first packet;
    /// with no GOP cached the client waits for the next IDR, which brings
    /// along the parameter sets already sent for its access unit.
    pub fn start_point(&self) -> (u16, u32) {
        let pending_au = if self.au.after_vcl { None } else { self.au.frames.first() };
        match self.gop.first().or(pending_au) {
            Some(f) => (f.first_seq, f.rtp_time),
            // Not known yet: a lower bound, which the next access unit's packets cannot precede.
            None => (self.streams[TRACK_VIDEO].seq, self.video_clock.rtp_time(self.video_clock.last_us)),
        }
    }
}

/// Whether `nal` opens a new access unit after a slice (H.264 7.4.1.2.3): an
/// AUD, SPS, PPS, SEI, types 14..18, or the first slice of a new picture.
fn opens_access_unit(after_vcl: bool, nal: &[u8]) -> bool {
    if !after_vcl {
        return false;
    }
    if h264::is_vcl(nal) {
        return h264::starts_picture(nal);
    }
    matches!(h264::nal_type(nal), h264::NAL_AUD | h264::NAL_SPS | h264::NAL_PPS | h264::NAL_SEI | 14..=18)
}

fn replace_if_changed(slot: &mut Option<Vec<u8>>, nal: &[u8]) -> bool {
    if slot.as_deref() == Some(nal) {
        return false;
    }
    *slot = Some(nal.into());
    true
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
