//! Where access units begin and what their NAL units are, for the two Annex-B
//! codecs. The session packetizes through this, so H.264 and H.265 share one
//! path (RFC 6184 and RFC 7798 differ only in header layout).

use crate::rtp::{h264, h265, PacketBuf, RtpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalSyntax {
    H264,
    H265,
}

/// A parameter set the SDP carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSet {
    Vps,
    Sps,
    Pps,
}

impl NalSyntax {
    /// Coded slices: these carry the picture.
    pub fn is_vcl(self, nal: &[u8]) -> bool {
        match self {
            NalSyntax::H264 => h264::is_vcl(nal),
            NalSyntax::H265 => h265::is_vcl(nal),
        }
    }

    /// A picture a decoder can start from (H.264 IDR, H.265 IRAP).
    pub fn is_keyframe(self, nal: &[u8]) -> bool {
        match self {
            NalSyntax::H264 => h264::nal_type(nal) == h264::NAL_IDR,
            NalSyntax::H265 => h265::is_irap(nal),
        }
    }

    pub fn param_set(self, nal: &[u8]) -> Option<ParamSet> {
        match (self, self.nal_type(nal)) {
            (NalSyntax::H264, h264::NAL_SPS) => Some(ParamSet::Sps),
            (NalSyntax::H264, h264::NAL_PPS) => Some(ParamSet::Pps),
            (NalSyntax::H265, h265::NAL_VPS) => Some(ParamSet::Vps),
            (NalSyntax::H265, h265::NAL_SPS) => Some(ParamSet::Sps),
            (NalSyntax::H265, h265::NAL_PPS) => Some(ParamSet::Pps),
            _ => None,
        }
    }

    fn nal_type(self, nal: &[u8]) -> u8 {
        match self {
            NalSyntax::H264 => h264::nal_type(nal),
            NalSyntax::H265 => h265::nal_type(nal),
        }
    }

    /// Whether `nal` opens a new access unit after a slice: the first slice of
    /// a new picture, or a NAL unit type that may only precede a picture
    /// (H.264 7.4.1.2.3: AUD, SPS, PPS, SEI, 14..18; H.265 7.4.2.4.4: VPS,
    /// SPS, PPS, AUD, prefix SEI, 41..44, 48..55).
    pub fn opens_access_unit(self, after_vcl: bool, nal: &[u8]) -> bool {
        if !after_vcl {
            return false;
        }
        match self {
            NalSyntax::H264 if h264::is_vcl(nal) => h264::starts_picture(nal),
            NalSyntax::H264 => {
                matches!(h264::nal_type(nal), h264::NAL_AUD | h264::NAL_SPS | h264::NAL_PPS | h264::NAL_SEI | 14..=18)
            }
            NalSyntax::H265 if h265::is_vcl(nal) => h265::starts_picture(nal),
            NalSyntax::H265 => matches!(h265::nal_type(nal), 32..=35 | h265::NAL_PREFIX_SEI | 41..=44 | 48..=55),
        }
    }

    pub fn packetize(self, stream: &mut RtpStream, nal: &[u8], ts: u32, marker: bool, out: &mut PacketBuf) {
        match self {
            NalSyntax::H264 => h264::packetize_nal(stream, nal, ts, marker, out),
            NalSyntax::H265 => h265::packetize_nal(stream, nal, ts, marker, out),
        }
    }
}
