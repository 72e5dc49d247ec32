//! A media session: one named stream (`rtsp://host:port/<name>`) with its
//! video track and optional audio track. It turns what the script pushes into
//! shared RTP packets, and keeps what a joining client needs: the parameter
//! sets (for the SDP) and the current GOP with the audio since its start (for
//! an instant, decodable start). Sans-IO: time comes in as arguments.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::access_unit::{NalSyntax, ParamSet};
use crate::backchannel::Backchannel;
use crate::clock::{MediaClock, TimeBase};
use crate::rtp::{annexb, g711, jpeg, PacketBuf, Packets, RtpStream};
use crate::sdp::TrackFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
    Mjpeg,
}

impl VideoCodec {
    fn nal_syntax(self) -> Option<NalSyntax> {
        match self {
            VideoCodec::H264 => Some(NalSyntax::H264),
            VideoCodec::H265 => Some(NalSyntax::H265),
            VideoCodec::Mjpeg => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    Pcmu,
    Pcma,
}

impl AudioCodec {
    pub fn payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => g711::PT_PCMU,
            AudioCodec::Pcma => g711::PT_PCMA,
        }
    }
}

/// What a script chooses for a new session besides its codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Late joiners get the cached GOP (else they wait for the next keyframe).
    pub gop_cache: bool,
    /// An ONVIF audio back channel in this codec: clients that ask for it
    /// may send the camera audio (the script reads it).
    pub backchannel: Option<AudioCodec>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { gop_cache: true, backchannel: None }
    }
}

/// Whether `name` can name a session. It becomes a URL path
/// (`rtsp://host:port/<name>`): 1..=255 bytes, no control characters, spaces,
/// `?`, `#`, `%`, `\\` or `"`, no empty, `.` or `..` segments, and no segment
/// a player would take for a track control of ours (`trackID=1`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//")
        && !name.bytes().any(|b| b <= b' ' || b == 0x7f || matches!(b, b'?' | b'#' | b'%' | b'\\' | b'"'))
        && !name.split('/').any(|seg| {
            seg == "."
                || seg == ".."
                || crate::rtsp::url::parse_target(&alloc::format!("/{}", seg)).is_some_and(|t| t.track.is_some())
        })
}

/// Errors of the producer calls, mapped to negative errnos at the C boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// Empty or unusable data, or a track the session does not have.
    Invalid,
    /// Valid media this payload format cannot carry (e.g. a progressive JPEG).
    Unsupported,
}

/// What RFC 2435 cannot carry is `Unsupported`; anything else wrong, `Invalid`.
impl From<jpeg::JpegError> for PushError {
    fn from(e: jpeg::JpegError) -> Self {
        match e {
            jpeg::JpegError::Malformed(_) => PushError::Invalid,
            jpeg::JpegError::Unsupported(_) => PushError::Unsupported,
        }
    }
}

pub const TRACK_VIDEO: usize = 0;
pub const TRACK_AUDIO: usize = 1;
/// The ONVIF back channel's control (`trackID=2`): audio a client sends the camera.
pub const TRACK_BACKCHANNEL: usize = crate::sdp::BACKCHANNEL_TRACK;

/// Which track a producer call feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Video,
    Audio,
}

/// Whether a producer call has something to send, checked as far as the
/// call's answer needs (the full split is the packetizer's, later, on the
/// loop thread): audio for a session that has an audio track, at least one
/// NAL unit for H.264/H.265, a JPEG that RFC 2435 can carry for MJPEG.
pub fn validate(codec: VideoCodec, has_audio: bool, track: Track, data: &[u8]) -> Result<(), PushError> {
    let usable = match (track, codec) {
        (Track::Audio, _) => has_audio && !data.is_empty(),
        (Track::Video, VideoCodec::Mjpeg) => {
            jpeg::parse(data)?;
            true
        }
        (Track::Video, VideoCodec::H264 | VideoCodec::H265) => annexb::has_nal_unit(data),
    };
    if usable {
        Ok(())
    } else {
        Err(PushError::Invalid)
    }
}

/// What the server sent of a session to its clients, and what it held back.
#[derive(Debug, Default, Clone, Copy)]
pub struct FanoutCounters {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub frames_dropped: u64,
    pub keyframe_waits: u64,
}

/// One batch of RTP (or RTCP) packets, kept by the GOP cache; clients are
/// queued slices of its buffer.
#[derive(Debug)]
pub struct Frame {
    pub track: usize,
    pub packets: Packets,
    /// RTCP rather than RTP: goes to the client's RTCP port or odd channel.
    pub rtcp: bool,
    /// RTP timestamp of these packets.
    pub rtp_time: u32,
    /// Monotonic time (µs) the RTP timestamp stands for.
    pub time_us: u64,
    /// Sequence number of the first packet.
    pub first_seq: u16,
    /// Starts a GOP a decoder can begin with (holds a keyframe).
    pub gop_start: bool,
}

pub type FrameRef = Arc<Frame>;

/// The interleaved channel players pick for a track's RTP (RTCP: the next one).
pub fn default_channel(track: usize, rtcp: bool) -> u8 {
    (2 * track + usize::from(rtcp)) as u8
}

impl Frame {
    /// The packets' interleaved headers get the channel players pick for this
    /// track (2 × track, +1 for RTCP): TCP clients on that channel are sent
    /// the frame's buffer as it is, without a header of their own per packet.
    pub fn new(
        track: usize,
        mut packets: PacketBuf,
        rtcp: bool,
        time: (u32, u64),
        first_seq: u16,
        gop_start: bool,
    ) -> FrameRef {
        packets.set_channel(default_channel(track, rtcp));
        let (rtp_time, time_us) = time;
        Arc::new(Frame { track, packets: packets.freeze(), rtcp, rtp_time, time_us, first_seq, gop_start })
    }

    /// The interleaved channel the frame's headers carry.
    pub fn default_channel(&self) -> u8 {
        default_channel(self.track, self.rtcp)
    }

    /// One RTCP compound packet for `track`, as a frame the fan-out can queue.
    pub fn rtcp(track: usize, bytes: Vec<u8>) -> FrameRef {
        Frame::new(track, PacketBuf::from_packet(&bytes), true, (0, 0), 0, false)
    }
}

/// Bounds on the cached GOP: past them the cache is dropped until the next
/// keyframe (late joiners then wait for it instead).
const GOP_CACHE_MAX_FRAMES: usize = 600;
const GOP_CACHE_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Audio chunks cached beside the GOP at most.
const AUDIO_CACHE_MAX_FRAMES: usize = 1024;
/// Audio whose sample count runs this far behind its clock (a gap in what the
/// script sent) is re-anchored to the clock; ahead of it (a burst) is kept.
const AUDIO_RESYNC_US: u64 = 100_000;

/// Access-unit tracking across producer calls.
#[derive(Debug, Default, Clone)]
struct AuState {
    /// The last NAL unit seen was a coded slice: the next parameter set, AUD,
    /// SEI or first slice of a picture starts a new access unit.
    after_vcl: bool,
    rtp_time: u32,
    time_us: u64,
    /// Frames of the current access unit so far (parameter sets sent in an
    /// earlier call belong to the GOP that the keyframe starts).
    frames: Vec<FrameRef>,
    started: bool,
}

/// Per-stream totals for RTCP sender reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct SentCount {
    pub packets: u32,
    pub octets: u32,
}

pub struct MediaSession {
    pub id: u32,
    pub name: String,
    pub codec: VideoCodec,
    pub audio: Option<AudioCodec>,
    pub streams: [RtpStream; 2],
    pub clocks: [MediaClock; 2],
    /// What each stream has sent (RTP packets and payload octets), for SRs.
    pub sent: [SentCount; 2],
    time_base: TimeBase,
    pub vps: Option<Vec<u8>>,
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
    /// Bumped whenever the SDP changes (new parameter sets).
    pub sdp_version: u64,
    /// What the fan-out did with this session's frames (`getstats`).
    pub counters: FanoutCounters,
    /// Keep the current GOP for late joiners (else they wait for the next keyframe).
    gop_cache: bool,
    /// The current GOP from its keyframe on; empty when none is cached.
    gop: Vec<FrameRef>,
    gop_bytes: usize,
    /// Audio since the cached GOP's start, so a joining client starts both tracks together.
    audio_cache: VecDeque<FrameRef>,
    au: AuState,
    /// RTP time the next audio sample gets (audio advances by samples sent).
    audio_next: Option<(u32, u64)>,
    /// What a client says to the camera, when the session offers a back channel.
    pub backchannel: Option<Backchannel>,
}

impl MediaSession {
    /// `random` gives the SSRCs, first sequence numbers and RTP time bases.
    pub fn new(
        id: u32,
        name: &str,
        codec: VideoCodec,
        audio: Option<AudioCodec>,
        random: &mut dyn FnMut() -> u32,
    ) -> Self {
        let video_pt = if codec == VideoCodec::Mjpeg { 26 } else { 96 };
        let audio_pt = audio.map_or(g711::PT_PCMU, AudioCodec::payload_type);
        let streams =
            [RtpStream::new(video_pt, random(), random() as u16), RtpStream::new(audio_pt, random(), random() as u16)];
        let clocks = [MediaClock::new(90_000, random()), MediaClock::new(g711::CLOCK_RATE, random())];
        MediaSession {
            id,
            name: name.into(),
            codec,
            audio,
            streams,
            clocks,
            sent: [SentCount::default(); 2],
            time_base: TimeBase::default(),
            vps: None,
            sps: None,
            pps: None,
            sdp_version: 1,
            counters: FanoutCounters::default(),
            gop_cache: true,
            gop: Vec::new(),
            gop_bytes: 0,
            audio_cache: VecDeque::new(),
            au: AuState::default(),
            audio_next: None,
            backchannel: None,
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
        match self.audio {
            Some(AudioCodec::Pcmu) => tracks.push(TrackFormat::Pcmu),
            Some(AudioCodec::Pcma) => tracks.push(TrackFormat::Pcma),
            None => {}
        }
        tracks
    }

    /// The back channel's format for the SDP, when the session has one.
    pub fn backchannel_format(&self) -> Option<TrackFormat> {
        match self.backchannel.as_ref()?.payload_type {
            g711::PT_PCMA => Some(TrackFormat::Pcma),
            _ => Some(TrackFormat::Pcmu),
        }
    }

    pub fn track_count(&self) -> usize {
        if self.audio.is_some() {
            2
        } else {
            1
        }
    }

    /// Takes one producer call of video and returns the frames to fan out:
    /// one per access unit the call touches (almost always exactly one).
    pub fn push_video(&mut self, data: &[u8], script_ts: u64, now_us: u64) -> Result<Vec<FrameRef>, PushError> {
        let frames = match self.codec.nal_syntax() {
            Some(syntax) => self.push_annexb(syntax, data, script_ts, now_us)?,
            None => alloc::vec![self.push_jpeg(data, script_ts, now_us)?],
        };
        for f in &frames {
            self.count_sent(f);
        }
        Ok(frames)
    }

    fn push_annexb(
        &mut self,
        syntax: NalSyntax,
        data: &[u8],
        script_ts: u64,
        now_us: u64,
    ) -> Result<Vec<FrameRef>, PushError> {
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
            opens.push(!started || syntax.opens_access_unit(after_vcl, nal));
            started = true;
            after_vcl = syntax.is_vcl(nal);
        }
        let mut frames = Vec::new();
        let mut call_time = None;
        let mut begin = 0;
        for end in 1..=nals.len() {
            if end == nals.len() || opens[end] {
                let part = &nals[begin..end];
                frames.push(self.annexb_frame(syntax, part, opens[begin], &mut call_time, script_ts, now_us));
                begin = end;
            }
        }
        Ok(frames)
    }

    /// Packetizes the NAL units of one access unit (or the part of it in this
    /// call). The call is stamped once: a second access unit in the same call
    /// shares its time rather than make the script's timestamps look constant.
    fn annexb_frame(
        &mut self,
        syntax: NalSyntax,
        nals: &[&[u8]],
        opens_au: bool,
        call_time: &mut Option<(u32, u64)>,
        script_ts: u64,
        now_us: u64,
    ) -> FrameRef {
        if opens_au {
            let (rtp_time, time_us) = *call_time.get_or_insert_with(|| self.stamp(TRACK_VIDEO, script_ts, now_us));
            self.au = AuState { rtp_time, time_us, started: true, ..AuState::default() };
        }
        let mut packets = PacketBuf::new();
        let first_seq = self.streams[TRACK_VIDEO].seq;
        let mut gop_start = false;
        // The marker goes on the last slice: nothing after it in this call belongs to its picture.
        let last_slice = nals.iter().rposition(|n| syntax.is_vcl(n));
        for (i, nal) in nals.iter().enumerate() {
            self.keep_parameter_set(syntax, nal);
            gop_start |= syntax.is_keyframe(nal);
            let marker = Some(i) == last_slice;
            syntax.packetize(&mut self.streams[TRACK_VIDEO], nal, self.au.rtp_time, marker, &mut packets);
            self.au.after_vcl = syntax.is_vcl(nal);
        }
        let frame = Frame::new(TRACK_VIDEO, packets, false, (self.au.rtp_time, self.au.time_us), first_seq, gop_start);
        self.remember(&frame);
        frame
    }

    /// One JPEG per call: every image is a keyframe.
    fn push_jpeg(&mut self, data: &[u8], script_ts: u64, now_us: u64) -> Result<FrameRef, PushError> {
        let image = jpeg::parse(data)?;
        let (rtp_time, time_us) = self.stamp(TRACK_VIDEO, script_ts, now_us);
        let first_seq = self.streams[TRACK_VIDEO].seq;
        let mut packets = PacketBuf::new();
        jpeg::packetize(&mut self.streams[TRACK_VIDEO], &image, rtp_time, &mut packets);
        self.au = AuState { rtp_time, time_us, started: true, ..AuState::default() };
        let frame = Frame::new(TRACK_VIDEO, packets, false, (rtp_time, time_us), first_seq, true);
        self.remember(&frame);
        Ok(frame)
    }

    /// G.711 bytes (one per sample) for the audio track. RTP time advances by
    /// samples sent; it follows the clock again only after a gap.
    pub fn push_audio(&mut self, data: &[u8], script_ts: u64, now_us: u64) -> Result<FrameRef, PushError> {
        if self.audio.is_none() || data.is_empty() {
            return Err(PushError::Invalid);
        }
        let (stamped_rtp, stamped_us) = self.stamp(TRACK_AUDIO, script_ts, now_us);
        let (rtp_time, time_us) = match self.audio_next {
            Some((rtp, t)) if t + AUDIO_RESYNC_US >= stamped_us => (rtp, t),
            _ => (stamped_rtp, stamped_us),
        };
        let samples = data.len() as u64;
        self.audio_next =
            Some((rtp_time.wrapping_add(samples as u32), time_us + samples * 1_000_000 / u64::from(g711::CLOCK_RATE)));
        let first_seq = self.streams[TRACK_AUDIO].seq;
        let mut packets = PacketBuf::new();
        g711::packetize(&mut self.streams[TRACK_AUDIO], data, rtp_time, &mut packets);
        let frame = Frame::new(TRACK_AUDIO, packets, false, (rtp_time, time_us), first_seq, false);
        self.count_sent(&frame);
        if !self.gop.is_empty() {
            if self.audio_cache.len() >= AUDIO_CACHE_MAX_FRAMES {
                self.audio_cache.pop_front();
            }
            self.audio_cache.push_back(frame.clone());
        }
        Ok(frame)
    }

    /// RTP time and monotonic time of a new access unit or audio chunk on `track`.
    fn stamp(&mut self, track: usize, script_ts: u64, now_us: u64) -> (u32, u64) {
        let clock = &mut self.clocks[track];
        let t = clock.stamp(script_ts, now_us, &mut self.time_base);
        (clock.rtp_time(t), t)
    }

    fn count_sent(&mut self, frame: &Frame) {
        let sent = &mut self.sent[frame.track];
        for i in 0..frame.packets.len() {
            sent.packets = sent.packets.wrapping_add(1);
            let payload = frame.packets.packet(i).len().saturating_sub(crate::rtp::packet::RTP_HEADER_LEN);
            sent.octets = sent.octets.wrapping_add(payload as u32);
        }
    }

    /// Keeps the GOP cache current: a keyframe starts a new GOP together with
    /// the earlier frames of its access unit (parameter sets sent ahead).
    fn remember(&mut self, frame: &FrameRef) {
        if frame.gop_start {
            self.gop.clear();
            self.gop_bytes = 0;
            for f in &self.au.frames {
                self.gop_bytes += f.packets.data.len();
                self.gop.push(f.clone());
            }
            // Audio from before the new GOP is no use to a joining client.
            while self.audio_cache.front().is_some_and(|a| a.time_us < frame.time_us) {
                self.audio_cache.pop_front();
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
            self.audio_cache.clear();
        }
    }

    /// Takes the parameter sets (VPS, SPS, PPS) among `data`'s NAL units for
    /// the SDP and for later keyframes, without sending anything (the
    /// pusher's `pushvideoheader`). Whether there was one.
    pub fn learn_parameter_sets(&mut self, data: &[u8]) -> bool {
        let Some(syntax) = self.codec.nal_syntax() else { return false };
        let mut found = false;
        for nal in annexb::nal_units(data) {
            found |= self.keep_parameter_set(syntax, nal);
        }
        found
    }

    /// Keeps `nal` if it is a parameter set (a change bumps the SDP version). Whether it was one.
    fn keep_parameter_set(&mut self, syntax: NalSyntax, nal: &[u8]) -> bool {
        let slot = match syntax.param_set(nal) {
            Some(ParamSet::Vps) => &mut self.vps,
            Some(ParamSet::Sps) => &mut self.sps,
            Some(ParamSet::Pps) => &mut self.pps,
            None => return false,
        };
        self.sdp_version += u64::from(replace_if_changed(slot, nal));
        true
    }

    /// `data` with the known parameter sets (VPS, SPS, PPS, Annex-B) in front
    /// when it holds a keyframe but no SPS of its own: what a receiver that
    /// starts (or restarts) at this keyframe needs to decode it. None when
    /// nothing needs adding (or nothing is known to add).
    pub fn with_parameter_sets(&self, data: &[u8]) -> Option<Vec<u8>> {
        let syntax = self.codec.nal_syntax()?;
        let mut keyframe = false;
        for nal in annexb::nal_units(data) {
            if syntax.param_set(nal) == Some(ParamSet::Sps) {
                return None;
            }
            keyframe |= syntax.is_keyframe(nal);
        }
        let sets = [&self.vps, &self.sps, &self.pps];
        if !keyframe || self.sps.is_none() || self.pps.is_none() {
            return None;
        }
        let mut out = Vec::with_capacity(data.len() + 64);
        for set in sets.into_iter().flatten() {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(set);
        }
        out.extend_from_slice(data);
        Some(out)
    }

    /// Drops the cached GOP (the pusher keeps none: a keyframe starts a new one
    /// with the frames of its access unit, which is all a restart needs).
    pub fn forget_gop(&mut self) {
        self.gop.clear();
        self.gop_bytes = 0;
        self.audio_cache.clear();
    }

    /// Bytes held by the GOP cache and the audio beside it (for the simulator's bounds).
    #[cfg(feature = "std")]
    pub fn cached_bytes(&self) -> usize {
        self.gop_bytes + self.audio_cache.iter().map(|f| f.packets.data.len()).sum::<usize>()
    }

    pub fn set_gop_cache(&mut self, enabled: bool) {
        self.gop_cache = enabled;
    }

    /// The video frames a client starting now receives first: parameter sets and the GOP so far.
    pub fn start_frames(&self) -> &[FrameRef] {
        if self.gop_cache {
            &self.gop
        } else {
            &[]
        }
    }

    /// The GOP so far, from its keyframe: what a client waiting for a keyframe
    /// gets when one arrives (the keyframe frame and the parameter sets sent
    /// ahead of it), whether or not late joiners are served from the cache.
    pub fn current_gop(&self) -> &[FrameRef] {
        &self.gop
    }

    /// The audio a client starting now receives first: what was sent since the cached GOP began.
    pub fn start_audio(&self) -> impl Iterator<Item = &FrameRef> {
        self.audio_cache.iter().filter(|_| self.gop_cache)
    }

    /// The video frames a client gets when it starts (`resume_from` None) or
    /// resumes after a pause before sequence number `resume_from`: the
    /// cached frames from there on. Empty when the cache cannot serve it, or
    /// when they are more than `room` bytes (the client's queue would be cut
    /// back at once, mid-GOP, a gap nobody told it of: it waits for the next
    /// keyframe instead, which RTP-Info then says).
    pub fn start_frames_from(&self, resume_from: Option<u16>, room: usize) -> &[FrameRef] {
        let frames = self.start_frames();
        let frames = match resume_from {
            None => frames,
            // Sequence numbers wrap: "at or after" is a signed 16-bit distance (RFC 3550 A.1).
            Some(seq) => match frames.iter().position(|f| f.first_seq.wrapping_sub(seq) as i16 >= 0) {
                Some(i) => &frames[i..],
                None => &[],
            },
        };
        let bytes: usize = frames.iter().map(|f| f.packets.data.len()).sum();
        if bytes > room {
            &[]
        } else {
            frames
        }
    }

    /// Sequence number and RTP time of the first packet a client that starts
    /// (or resumes, see `start_frames_from`) now receives on `track`, for
    /// PLAY's RTP-Info. Video: the first cached frame it gets; with none the
    /// client waits for the next keyframe, which brings along the parameter
    /// sets already sent for its access unit. Audio: the first cached chunk
    /// for a new player, else the next one.
    pub fn start_point(&self, track: usize, resume_from: Option<u16>, room: usize, now_us: u64) -> (u16, u32) {
        let first = if track == TRACK_VIDEO {
            let pending_au = if self.au.after_vcl { None } else { self.au.frames.first() };
            self.start_frames_from(resume_from, room).first().or(pending_au)
        } else if resume_from.is_none() {
            self.start_audio().next()
        } else {
            None
        };
        match first {
            Some(f) => (f.first_seq, f.rtp_time),
            None => self.live_point(track, now_us),
        }
    }

    /// Sequence number and RTP time of the next packet on `track` (the time a
    /// lower bound): where a client that does not get the cache starts.
    pub fn live_point(&self, track: usize, now_us: u64) -> (u16, u32) {
        let clock = &self.clocks[track];
        match (track, self.audio_next) {
            (TRACK_AUDIO, Some((rtp, _))) => (self.streams[track].seq, rtp),
            _ => (self.streams[track].seq, clock.rtp_time(clock.next_lower_bound(now_us))),
        }
    }
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
