//! retina-client: one strict RTSP player, for tests/python/test_retina.py.
//!
//!   retina-client URL [--transport tcp|udp] [--seconds N] [--max-frames N]
//!
//! Plays URL with the `retina` crate (the RTSP client of Moonfire NVR):
//! DESCRIBE, SETUP of every stream retina can depacketize (over TCP
//! interleaved or UDP), PLAY with timestamp enforcement on
//! (`enforce_timestamps_with_max_jump_secs(10)`: an RTP timestamp that goes
//! back, or forward by 10 s or more, is an error) and retina's default
//! `rtptime` policy (required in RTP-Info when more than one stream plays).
//! It then reads the demuxed frames until --seconds pass (default 30), the
//! video frame count reaches --max-frames, or the server ends the stream.
//!
//! Output on stdout: the line `PLAYING` once PLAY has been answered, and at
//! the end one JSON line (the summary):
//!   {"url", "transport", "end", "error", "elapsed_s", "streams": [{
//!     "index", "media", "encoding", "clock_rate", "set_up", "frames",
//!     "keyframes", "first_is_keyframe", "loss", "lossy_frames", "bytes",
//!     "backwards", "repeats", "first_ts", "last_ts", "first_npt", "last_npt",
//!     "first_frame_ms", "rtcp", "rtcp_before_first_frame", "frames_behind_sr",
//!     "behind_sr_ms"}]}
//! `end` is "server-closed", "seconds", "max-frames" or "error". `loss` sums
//! retina's per-frame count of RTP packets missing before each frame.
//! `backwards`/`repeats` count frames whose timestamp is below / equal to the
//! previous frame's on that stream (0 both unless enforcement is off).
//! Timestamps are retina's extended RTP timestamps; npt is seconds from the
//! stream's start (RTP-Info `rtptime`, else its first packet or sender report).
//! `frames_behind_sr` counts frames whose timestamp is below the RTP time of
//! the latest RTCP sender report received before the frame was complete;
//! `behind_sr_ms` is the largest such gap (0 if none). retina itself only
//! catches this when the report set the stream's time origin (one stream, so
//! no `rtptime` required); these figures catch it in every session.
//!
//! The end of the stream: the server closing the RTSP connection (EOF) once
//! media has been received is a normal end, not an error: the test streamer
//! tears its server down after the last frame, and retina reports that as the
//! end of its stream (not as an error). It is an error only if no frame at
//! all arrived first. Any error retina reports (timestamps, depacketization,
//! RTSP, I/O) ends the run with its text in `error`.
//!
//! Exit status: 0 when `error` is null, 1 otherwise, 2 for bad arguments.

use std::io::Write;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use retina::client::{PlayOptions, Session, SessionGroup, SessionOptions, SetupOptions, Transport};
use retina::codec::CodecItem;
use serde_json::{json, Value};

const USAGE: &str = "usage: retina-client URL [--transport tcp|udp] [--seconds N] [--max-frames N]";
const MAX_JUMP_SECS: u32 = 10;
/// How long a TEARDOWN may take when we stop while the server still streams.
const TEARDOWN_WAIT: Duration = Duration::from_secs(2);

struct Args {
    url: String,
    transport: String,
    seconds: f64,
    max_frames: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { url: String::new(), transport: "tcp".into(), seconds: 30.0, max_frames: None };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--transport" => args.transport = value("--transport")?,
            "--seconds" => {
                args.seconds = value("--seconds")?.parse().map_err(|_| "--seconds: not a number")?;
            }
            "--max-frames" => {
                let n = value("--max-frames")?.parse().map_err(|_| "--max-frames: not a count")?;
                args.max_frames = Some(n);
            }
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ if args.url.is_empty() => args.url = a,
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    if args.url.is_empty() {
        return Err("no URL".into());
    }
    if !(args.seconds > 0.0 && args.seconds < 86400.0) {
        return Err("--seconds must be in (0, 86400)".into());
    }
    Ok(args)
}

/// The (media, encoding) pairs retina 0.4.21 has a depacketizer for
/// (`retina::codec::Depacketizer::new`); others are described but not set up.
fn retina_depacketizes(media: &str, encoding: &str) -> bool {
    matches!(
        (media, encoding),
        ("video", "h264" | "h265" | "jpeg")
            | ("image", "jpeg")
            | ("audio", "pcmu" | "pcma" | "g722" | "u8" | "l16" | "dvi4" | "mpeg4-generic")
            | ("audio", "g723" | "g726-16" | "g726-24" | "g726-32" | "g726-40")
    )
}

#[derive(Default)]
struct StreamStats {
    media: String,
    encoding: String,
    clock_rate: u32,
    set_up: bool,
    frames: u64,
    keyframes: u64,
    first_is_keyframe: Option<bool>,
    loss: u64,
    lossy_frames: u64,
    bytes: u64,
    backwards: u64,
    repeats: u64,
    first: Option<retina::Timestamp>,
    last: Option<retina::Timestamp>,
    first_frame_ms: Option<f64>,
    rtcp: u64,
    rtcp_before_first_frame: u64,
    /// The RTP time of the latest sender report, and how far frames went behind it.
    last_sr: Option<retina::Timestamp>,
    frames_behind_sr: u64,
    behind_sr_max: i64,
}

impl StreamStats {
    /// One frame of this stream: its timestamp, size, loss and (video) keyframe flag.
    fn frame(&mut self, ts: retina::Timestamp, len: usize, loss: u16, key: Option<bool>, since_play: f64) {
        if let Some(prev) = self.last {
            if ts.timestamp() < prev.timestamp() {
                self.backwards += 1;
            } else if ts.timestamp() == prev.timestamp() {
                self.repeats += 1;
            }
        }
        if self.first.is_none() {
            self.first = Some(ts);
            self.first_is_keyframe = key;
            self.first_frame_ms = Some(since_play * 1000.0);
        }
        if let Some(sr) = self.last_sr {
            let behind = sr.timestamp() - ts.timestamp();
            if behind > 0 {
                self.frames_behind_sr += 1;
                self.behind_sr_max = self.behind_sr_max.max(behind);
            }
        }
        self.last = Some(ts);
        self.frames += 1;
        self.bytes += len as u64;
        self.loss += u64::from(loss);
        self.lossy_frames += u64::from(loss > 0);
        self.keyframes += u64::from(key == Some(true));
    }

    fn to_json(&self, index: usize) -> Value {
        json!({
            "index": index,
            "media": self.media,
            "encoding": self.encoding,
            "clock_rate": self.clock_rate,
            "set_up": self.set_up,
            "frames": self.frames,
            "keyframes": self.keyframes,
            "first_is_keyframe": self.first_is_keyframe,
            "loss": self.loss,
            "lossy_frames": self.lossy_frames,
            "bytes": self.bytes,
            "backwards": self.backwards,
            "repeats": self.repeats,
            "first_ts": self.first.map(|t| t.timestamp()),
            "last_ts": self.last.map(|t| t.timestamp()),
            "first_npt": self.first.map(|t| t.elapsed_secs()),
            "last_npt": self.last.map(|t| t.elapsed_secs()),
            "first_frame_ms": self.first_frame_ms,
            "rtcp": self.rtcp,
            "rtcp_before_first_frame": self.rtcp_before_first_frame,
            "frames_behind_sr": self.frames_behind_sr,
            "behind_sr_ms": self.behind_sr_max as f64 * 1000.0 / f64::from(self.clock_rate.max(1)),
        })
    }
}

/// Why reading stopped without an error.
enum End {
    ServerClosed,
    Seconds,
    MaxFrames,
}

#[derive(Default)]
struct Run {
    streams: Vec<StreamStats>,
}

impl Run {
    fn stats(&mut self, stream_id: usize) -> Result<&mut StreamStats, String> {
        self.streams.get_mut(stream_id).ok_or_else(|| format!("frame for unknown stream {stream_id}"))
    }

    fn video_frames(&self) -> u64 {
        self.streams.iter().filter(|s| s.media == "video" || s.media == "image").map(|s| s.frames).sum()
    }

    async fn play(&mut self, args: &Args, group: Arc<SessionGroup>) -> Result<End, String> {
        let url = url::Url::parse(&args.url).map_err(|e| format!("bad URL {}: {e}", args.url))?;
        let transport: Transport = args.transport.parse().map_err(|e| format!("{e}"))?;
        let options =
            SessionOptions::default().session_group(group).user_agent("canmv-rtsp tests/retina_client".into());
        let mut session = Session::describe(url, options).await.map_err(|e| e.to_string())?;
        for s in session.streams() {
            self.streams.push(StreamStats {
                media: s.media().to_string(),
                encoding: s.encoding_name().to_string(),
                clock_rate: s.clock_rate_hz(),
                ..StreamStats::default()
            });
        }
        for i in 0..self.streams.len() {
            if !retina_depacketizes(&self.streams[i].media, &self.streams[i].encoding) {
                continue;
            }
            let setup = SetupOptions::default().transport(transport.clone());
            session.setup(i, setup).await.map_err(|e| e.to_string())?;
            self.streams[i].set_up = true;
        }
        if !self.streams.iter().any(|s| s.set_up) {
            return Err("no stream retina can depacketize".into());
        }
        let max_jump = NonZeroU32::new(MAX_JUMP_SECS).ok_or("max jump is 0")?;
        let play = PlayOptions::default().enforce_timestamps_with_max_jump_secs(max_jump);
        let playing = session.play(play).await.map_err(|e| e.to_string())?;
        let mut demuxed = playing.demuxed().map_err(|e| e.to_string())?;
        let played = Instant::now();
        println!("PLAYING");
        let _ = std::io::stdout().flush();

        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds);
        loop {
            let item = match tokio::time::timeout_at(deadline, demuxed.next()).await {
                Err(_) => return Ok(End::Seconds),
                Ok(None) => return Ok(End::ServerClosed),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(item))) => item,
            };
            let since_play = played.elapsed().as_secs_f64();
            match item {
                CodecItem::VideoFrame(f) => {
                    let key = Some(f.is_random_access_point());
                    self.stats(f.stream_id())?.frame(f.timestamp(), f.data().len(), f.loss(), key, since_play);
                    if args.max_frames.is_some_and(|m| self.video_frames() >= m) {
                        return Ok(End::MaxFrames);
                    }
                }
                CodecItem::AudioFrame(f) => {
                    self.stats(f.stream_id())?.frame(f.timestamp(), f.data().len(), f.loss(), None, since_play);
                }
                CodecItem::Rtcp(r) => {
                    let s = self.stats(r.stream_id())?;
                    s.rtcp += 1;
                    s.rtcp_before_first_frame += u64::from(s.frames == 0);
                    if let Some(ts) = r.rtp_timestamp() {
                        s.last_sr = Some(ts);
                    }
                }
                _ => {} // ONVIF metadata and whatever later retina versions add
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("retina-client: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let group = Arc::new(SessionGroup::default());
    let mut run = Run::default();
    let result = run.play(&args, group.clone()).await;
    let (end, error) = match result {
        Ok(End::ServerClosed) if run.streams.iter().all(|s| s.frames == 0) => {
            ("error", Some("the server ended the stream before any frame arrived".to_string()))
        }
        Ok(End::ServerClosed) => ("server-closed", None),
        Ok(End::Seconds) => ("seconds", None),
        Ok(End::MaxFrames) => ("max-frames", None),
        Err(e) => ("error", Some(e)),
    };
    // The session was dropped when play() returned; while the server is still
    // there, give retina's TEARDOWN a moment (bounded) before the runtime ends.
    if matches!(end, "seconds" | "max-frames") {
        let _ = tokio::time::timeout(TEARDOWN_WAIT, group.await_teardown()).await;
    }
    let ok = error.is_none();
    let summary = json!({
        "url": args.url,
        "transport": args.transport,
        "end": end,
        "error": error,
        "elapsed_s": started.elapsed().as_secs_f64(),
        "streams": run.streams.iter().enumerate().map(|(i, s)| s.to_json(i)).collect::<Vec<_>>(),
    });
    println!("{summary}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
