//! The pusher's C ABI (`mm.rtsp_pusher`): an opaque handle from
//! `canmv_rtsp_pusher_new`, the same pointer contract as the server's (see
//! the parent module), 0 or a negative errno. Only `open` and `close` wait
//! (for the handshake, bounded by the configured timeout, and for the
//! TEARDOWN to go out); every push copies its data and returns at once.

use alloc::boxed::Box;
use core::ffi::c_char;

use super::{audio_codec, data_arg, text_arg, video_codec};
use crate::client::{PushConfig, PushState};
use crate::net::pusher::{PushRefusal, PusherRuntime};
use crate::rtsp::url::parse_push_url;
use crate::rtsp::Lower;
use crate::session::{PushError, Track};

/// Opaque pusher handle: a boxed [`PusherRuntime`].
pub struct CanmvRtspPusher {
    runtime: PusherRuntime,
}

/// `state` of [`CanmvRtspPusherStats`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum CanmvRtspPusherState {
    /// Not initialised.
    CANMV_RTSP_PUSHER_IDLE = 0,
    /// Initialised, not open (or closed, or the open failed).
    CANMV_RTSP_PUSHER_READY = 1,
    /// `open` in progress.
    CANMV_RTSP_PUSHER_CONNECTING = 2,
    CANMV_RTSP_PUSHER_RECORDING = 3,
    /// The link died after an open: reconnecting with a backoff.
    CANMV_RTSP_PUSHER_RECONNECTING = 4,
}

/// Settings of `rtsppusher_init` (its positional arguments and keywords).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CanmvRtspPusherOptions {
    /// Accepted as CanMV takes them; the stream itself tells receivers its size and rate.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// RTP over the RTSP connection (else UDP).
    pub tcp: bool,
    /// A `CanmvRtspVideoType`.
    pub video_type: i32,
    /// A `CanmvRtspAudioCodec` (NONE: no audio track).
    pub audio_codec: i32,
    /// How long `open` may take, ms (at least 1).
    pub timeout_ms: u32,
    /// Bytes of media queued for the link at most (at least 64 KiB).
    pub queue_bytes: u32,
}

/// What `rtsppusher_getstats` reports.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct CanmvRtspPusherStats {
    /// A `CanmvRtspPusherState`.
    pub state: i32,
    pub frames_sent: u64,
    pub bytes_sent: u64,
    pub frames_dropped: u64,
    pub reconnects: u64,
    /// The last error, a negative errno (0: none).
    pub last_error: i32,
}

/// The smallest `queue_bytes` taken: one large keyframe must fit.
pub const CANMV_RTSP_PUSHER_MIN_QUEUE: u32 = 64 * 1024;

/// The defaults: 25 fps over TCP, H.264 without audio, a 5 s open, a 2 MiB queue.
#[no_mangle]
pub extern "C" fn canmv_rtsp_pusher_default_options() -> CanmvRtspPusherOptions {
    CanmvRtspPusherOptions {
        width: 0,
        height: 0,
        fps: 25,
        tcp: true,
        video_type: super::CanmvRtspVideoType::CANMV_RTSP_VIDEO_H264 as i32,
        audio_codec: super::CanmvRtspAudioCodec::CANMV_RTSP_AUDIO_NONE as i32,
        timeout_ms: 5000,
        queue_bytes: 2 * 1024 * 1024,
    }
}

/// A new pusher, not yet initialised. NULL when out of memory or descriptors.
#[no_mangle]
pub extern "C" fn canmv_rtsp_pusher_new() -> *mut CanmvRtspPusher {
    match PusherRuntime::new() {
        Ok(runtime) => Box::into_raw(Box::new(CanmvRtspPusher { runtime })),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Closes (TEARDOWN) if open, stops its thread and frees everything. NULL
/// is ignored. No other call on `pusher` may be in progress or follow.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_free(pusher: *mut CanmvRtspPusher) {
    if !pusher.is_null() {
        // SAFETY: `pusher` came from Box::into_raw in canmv_rtsp_pusher_new; the shim
        // calls this once per handle with no call in progress, as for the server.
        drop(unsafe { Box::from_raw(pusher) });
    }
}

/// The runtime behind a handle, or None for NULL.
/// `pusher`: NULL or a live handle (the module's pointer contract).
unsafe fn pusher_ref<'a>(pusher: *mut CanmvRtspPusher) -> Option<&'a PusherRuntime> {
    // SAFETY: a non-null `pusher` is a Box allocation that stays live until
    // the call that asked for it returns, by the caller's contract.
    unsafe { pusher.as_ref() }.map(|p| &p.runtime)
}

/// 0 when `url` is one the pusher takes (`rtsp://[user:pass@]host[:port]/path`);
/// else -EINVAL, with the reason (NUL-terminated, cut to fit) in `reason`
/// when it is not NULL and `cap` > 0.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_check_url(
    url: *const c_char,
    url_len: usize,
    reason: *mut c_char,
    cap: usize,
) -> i32 {
    // SAFETY: `url_len` readable bytes or NULL (the module's pointer contract).
    let text = unsafe { text_arg(url, url_len) };
    let why = match text.map(parse_push_url) {
        Some(Ok(_)) => return 0,
        Some(Err(e)) => e.reason(),
        None => "url must be text",
    };
    if !reason.is_null() && cap > 0 {
        let n = why.len().min(cap - 1);
        // SAFETY: `reason` has `cap` writable bytes (the module's pointer
        // contract); n + 1 <= cap bytes are written.
        unsafe {
            core::ptr::copy_nonoverlapping(why.as_ptr(), reason as *mut u8, n);
            *reason.add(n) = 0;
        }
    }
    -libc::EINVAL
}

/// Sets the pusher up for `url` with `options` (NULL: the defaults) and
/// starts its thread. 0, -EINVAL (a bad URL or option: see
/// `canmv_rtsp_pusher_check_url`), -EALREADY (initialised: `deinit` first),
/// or the error starting the thread.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_init(
    pusher: *mut CanmvRtspPusher,
    url: *const c_char,
    url_len: usize,
    options: *const CanmvRtspPusherOptions,
) -> i32 {
    // SAFETY: the handle, `url_len` readable bytes, and NULL or a readable
    // options struct (the module's pointer contract).
    let (rt, url, options) = unsafe { (pusher_ref(pusher), text_arg(url, url_len), options.as_ref()) };
    let (Some(rt), Some(url)) = (rt, url) else { return -libc::EINVAL };
    let o = options.copied().unwrap_or_else(|| canmv_rtsp_pusher_default_options());
    let (Ok(url), Some(codec), Some(audio)) = (parse_push_url(url), video_codec(o.video_type), audio_codec(o.audio_codec))
    else {
        return -libc::EINVAL;
    };
    if !(1..=120).contains(&o.fps) || o.timeout_ms == 0 || o.queue_bytes < CANMV_RTSP_PUSHER_MIN_QUEUE {
        return -libc::EINVAL;
    }
    rt.init(PushConfig {
        url,
        lower: if o.tcp { Lower::Tcp } else { Lower::Udp },
        codec,
        audio,
        open_timeout_us: u64::from(o.timeout_ms) * 1000,
        queue_bytes: o.queue_bytes as usize,
    })
}

/// Closes if open and forgets the setup; `init` may follow. 0, or -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_deinit(pusher: *mut CanmvRtspPusher) -> i32 {
    // SAFETY: NULL or a live handle (the module's pointer contract).
    let Some(rt) = (unsafe { pusher_ref(pusher) }) else { return -libc::EINVAL };
    rt.deinit();
    0
}

/// Connects and publishes (OPTIONS, ANNOUNCE, SETUP, RECORD), waiting at
/// most the configured timeout. 0 (also when already open), -ENOTCONN (not
/// initialised), -ECONNREFUSED, -ETIMEDOUT, -EACCES (refused after the URL's
/// credentials were tried, or none given), -ENOENT (404), -EPROTO (another
/// status, or a reply that is not RTSP), -ECONNRESET (closed during the
/// handshake), -EHOSTUNREACH (the host name does not resolve).
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_open(pusher: *mut CanmvRtspPusher) -> i32 {
    // SAFETY: NULL or a live handle (the module's pointer contract).
    let Some(rt) = (unsafe { pusher_ref(pusher) }) else { return -libc::EINVAL };
    rt.open()
}

/// TEARDOWN (when a session is set up), then disconnects. Idempotent. 0, or -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_close(pusher: *mut CanmvRtspPusher) -> i32 {
    // SAFETY: NULL or a live handle (the module's pointer contract).
    let Some(rt) = (unsafe { pusher_ref(pusher) }) else { return -libc::EINVAL };
    rt.close();
    0
}

fn refusal_errno(r: PushRefusal) -> i32 {
    match r {
        PushRefusal::NotInitialised | PushRefusal::NotOpen => -libc::ENOTCONN,
        PushRefusal::Push(PushError::Invalid) => -libc::EINVAL,
        PushRefusal::Push(PushError::Unsupported) => -libc::ENOTSUP,
    }
}

/// Parameter sets (VPS, SPS, PPS in Annex-B) for the SDP and the first
/// keyframes; copied. 0, -ENOTCONN (not initialised), -EINVAL (none in the data).
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_push_header(
    pusher: *mut CanmvRtspPusher,
    data: *const u8,
    size: usize,
) -> i32 {
    // SAFETY: NULL or a live handle, `size` readable bytes (the module's pointer contract).
    let (Some(rt), Some(data)) = (unsafe { pusher_ref(pusher) }, unsafe { data_arg(data, size) }) else {
        return -libc::EINVAL;
    };
    match rt.push_header(data) {
        Ok(()) => 0,
        Err(r) => refusal_errno(r),
    }
}

/// One producer call: checked, copied and queued. 0; -ENOTCONN (not
/// initialised, or not open: nothing is sent, though parameter sets in the
/// data are kept); -EINVAL (no usable data, or audio not enabled); -ENOTSUP
/// (a JPEG that RFC 2435 cannot carry).
unsafe fn push(pusher: *mut CanmvRtspPusher, track: Track, data: *const u8, size: usize, timestamp_us: u64) -> i32 {
    // SAFETY: the caller's own arguments, under the module's pointer contract.
    let (Some(rt), Some(data)) = (unsafe { pusher_ref(pusher) }, unsafe { data_arg(data, size) }) else {
        return -libc::EINVAL;
    };
    match rt.push(track, data, timestamp_us) {
        Ok(()) => 0,
        Err(r) => refusal_errno(r),
    }
}

/// Annex-B NAL units (H.264, H.265) or one JPEG; see `push` above for the results.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_push_video(
    pusher: *mut CanmvRtspPusher,
    data: *const u8,
    size: usize,
    timestamp_us: u64,
) -> i32 {
    // SAFETY: passed through under the same contract.
    unsafe { push(pusher, Track::Video, data, size, timestamp_us) }
}

/// G.711 bytes, 8000 Hz mono; see `push` above for the results.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_push_audio(
    pusher: *mut CanmvRtspPusher,
    data: *const u8,
    size: usize,
    timestamp_us: u64,
) -> i32 {
    // SAFETY: passed through under the same contract.
    unsafe { push(pusher, Track::Audio, data, size, timestamp_us) }
}

/// 1 when the link waits for a keyframe (ask the encoder for an IDR), else 0; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_need_keyframe(pusher: *mut CanmvRtspPusher) -> i32 {
    // SAFETY: NULL or a live handle (the module's pointer contract).
    let Some(rt) = (unsafe { pusher_ref(pusher) }) else { return -libc::EINVAL };
    i32::from(rt.need_keyframe())
}

/// Fills `out` (state IDLE and zeros when not initialised). 0, or -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn canmv_rtsp_pusher_get_stats(
    pusher: *mut CanmvRtspPusher,
    out: *mut CanmvRtspPusherStats,
) -> i32 {
    // SAFETY: NULL or a live handle; NULL or a writable stats struct (the module's pointer contract).
    let (Some(rt), Some(out)) = (unsafe { pusher_ref(pusher) }, unsafe { out.as_mut() }) else {
        return -libc::EINVAL;
    };
    use CanmvRtspPusherState::*;
    *out = match rt.stats() {
        None => CanmvRtspPusherStats { state: CANMV_RTSP_PUSHER_IDLE as i32, ..Default::default() },
        Some(s) => CanmvRtspPusherStats {
            state: match s.state {
                PushState::Ready => CANMV_RTSP_PUSHER_READY,
                PushState::Connecting => CANMV_RTSP_PUSHER_CONNECTING,
                PushState::Recording => CANMV_RTSP_PUSHER_RECORDING,
                PushState::Reconnecting => CANMV_RTSP_PUSHER_RECONNECTING,
            } as i32,
            frames_sent: s.frames_sent,
            bytes_sent: s.bytes_sent,
            frames_dropped: s.frames_dropped,
            reconnects: s.reconnects,
            last_error: s.last_error,
        },
    };
    0
}
