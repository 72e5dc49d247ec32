//! What the virtual camera encodes: H.264 and H.265 access units (parameter
//! sets, keyframes, P-frames, as an encoder's packs or whole), baseline
//! JPEGs, and G.711 chunks. The slices are filler behind real NAL headers:
//! the core packetizes and splits access units by headers alone.

use canmv_rtsp::session::{AudioCodec, VideoCodec};

use crate::rng::Rng;

const H264_SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44];
const H264_PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
const H265_VPS: &[u8] = &[0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90];
const H265_SPS: &[u8] = &[0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03];
const H265_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
const JPEG: &[u8] = include_bytes!("../../tests/data/jpeg/420.jpg");

/// Filler with no zero byte (no start code can appear in it), made once:
/// the simulator spends its time in the core, not in making bytes.
fn filler() -> &'static [u8] {
    static FILLER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    FILLER.get_or_init(|| (0..70_000u32).map(|i| ((i * 31) % 255 + 1) as u8).collect())
}

/// A NAL unit of `len` bytes behind `header`, whose first payload bit is set
/// (first_mb_in_slice = 0 / first_slice_segment_in_pic_flag = 1) and with no
/// zero byte, so no start code can appear inside. `n` varies the content.
fn slice(header: &[u8], len: usize, n: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    v.extend_from_slice(header);
    v.push(0x88);
    let start = (n % 251) as usize;
    let want = len.max(v.len() + 1) - v.len();
    v.extend_from_slice(&filler()[start..start + want.min(65_000)]);
    v
}

fn annexb(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&[0, 0, 0, 1]);
    out.extend_from_slice(nal);
}

/// One video frame: the producer calls it makes (one, or an encoder's packs).
pub struct VideoFrame {
    pub calls: Vec<Vec<u8>>,
}

pub struct Encoder {
    pub codec: VideoCodec,
    pub audio: Option<AudioCodec>,
    gop: u64,
    frame: u64,
    /// Parameter sets in a call of their own before the keyframe (CanMV's encoder packs).
    packs: bool,
    key_len: usize,
    delta_len: usize,
}

impl Encoder {
    pub fn new(rng: &mut Rng, codec: VideoCodec, audio: Option<AudioCodec>, fps: u64) -> Encoder {
        Encoder {
            codec,
            audio,
            gop: rng.range(fps.max(2), fps.max(2) * 4),
            frame: 0,
            packs: rng.chance(0.5),
            key_len: rng.range(1500, 6000) as usize,
            delta_len: rng.range(100, 1200) as usize,
        }
    }

    /// The next frame; `force_key` when the script was asked for an IDR.
    pub fn next(&mut self, force_key: bool) -> VideoFrame {
        let key = self.frame.is_multiple_of(self.gop) || force_key;
        if key {
            self.frame = 0;
        }
        self.frame += 1;
        let n = self.frame;
        let (sets, key_header, delta_header): (&[&[u8]], &[u8], &[u8]) = match self.codec {
            VideoCodec::H264 => (&[H264_SPS, H264_PPS], &[0x65], &[0x41]),
            VideoCodec::H265 => (&[H265_VPS, H265_SPS, H265_PPS], &[0x26, 0x01], &[0x02, 0x01]),
            VideoCodec::Mjpeg => return VideoFrame { calls: vec![JPEG.to_vec()] },
        };
        let mut calls = Vec::new();
        let mut call = Vec::new();
        if key {
            for set in sets {
                annexb(&mut call, set);
            }
            if self.packs {
                calls.push(std::mem::take(&mut call));
            }
            annexb(&mut call, &slice(key_header, self.key_len, n));
        } else {
            annexb(&mut call, &slice(delta_header, self.delta_len, n));
        }
        calls.push(call);
        VideoFrame { calls }
    }

    /// G.711 for `us` of audio: one byte per sample at 8 kHz.
    pub fn audio_chunk(&self, us: u64, n: u64) -> Vec<u8> {
        let samples = (us * 8 / 1000).clamp(1, 16_000) as usize;
        let start = (n % 251) as usize;
        filler()[start..start + samples].to_vec()
    }
}

/// Whether an RTP payload starts a picture a decoder can begin with: a
/// parameter set or IDR (whole, or the first fragment), or a JPEG's first fragment.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::H264 => match payload {
            [h, ..] if matches!(h & 0x1f, 5 | 7 | 8) => true,
            [h, fu, ..] if h & 0x1f == 28 => fu & 0x80 != 0 && fu & 0x1f == 5,
            _ => false,
        },
        VideoCodec::H265 => match payload {
            [h, _, ..] if matches!((h >> 1) & 0x3f, 19 | 20 | 32 | 33 | 34) => true,
            [h, _, fu, ..] if (h >> 1) & 0x3f == 49 => fu & 0x80 != 0 && matches!(fu & 0x3f, 19 | 20),
            _ => false,
        },
        VideoCodec::Mjpeg => matches!(payload, [_, 0, 0, 0, ..]),
    }
}
