//! The producer's inbox: what a `send*data` call checks and queues without
//! taking the server's lock, and when the loop thread is woken to take it.
//!
//! The script's call must return in microseconds and never wait for the loop
//! thread, which holds the server's lock while it writes to every client. So
//! the call only looks the session up in a [`Directory`] (a copy of the
//! server's session list), checks the data with the core's pure
//! `session::validate`, and queues a copy of it as a `MediaInput`.
//! Everything else (Annex-B splitting, packetization, the GOP cache,
//! fan-out) happens in `Server::handle_media` on the loop thread, in the
//! order the calls were made. The batching and wake-up limits below are the
//! I/O layer's policy: the core knows nothing of threads.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::server::{MediaInput, Server, SessionId};
use crate::session::{validate, PushError, Track, VideoCodec};

/// Why a producer call is refused before anything is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoSession,
    Push(PushError),
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    session: SessionId,
    codec: VideoCodec,
    audio: bool,
}

/// The server's sessions as the producer sees them, rebuilt whenever they change.
#[derive(Debug, Default)]
pub struct Directory {
    entries: Vec<Entry>,
    /// `Server::session_generation` the entries were taken at; None: stale.
    generation: Option<u64>,
}

impl Directory {
    /// Takes the server's session list again if it changed since the last time.
    pub fn sync(&mut self, core: &Server) {
        if self.generation == Some(core.session_generation()) {
            return;
        }
        self.entries.clear();
        for (name, session, codec, audio) in core.session_list() {
            self.entries.push(Entry { name: String::from(name), session, codec, audio });
        }
        self.generation = Some(core.session_generation());
    }

    /// Forgets every session (the server was replaced).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.generation = None;
    }

    /// The session's id, after the checks whose failure the call must report
    /// (`session::validate`): an unknown name, audio for a session without
    /// it, data with nothing to send, a JPEG that RFC 2435 cannot carry.
    pub fn check(&self, name: &str, track: Track, data: &[u8]) -> Result<SessionId, Refusal> {
        let entry = self.entries.iter().find(|e| e.name == name).ok_or(Refusal::NoSession)?;
        validate(entry.codec, entry.audio, track, data).map_err(Refusal::Push)?;
        Ok(entry.session)
    }
}

/// With nobody playing, calls queue up to these before the loop is woken to
/// take them: few wake-ups, and the copies' memory is soon reused.
const BATCH_CALLS: usize = 8;
const BATCH_BYTES: usize = 256 * 1024;
/// Calls queued past these limits are handed over by the producer itself (it
/// takes the server's lock): the queue stays bounded if the loop falls behind.
const MAX_QUEUED_CALLS: usize = 64;
const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;
/// Buffers handed back for the next calls' copies, at most: a call then
/// neither allocates nor touches fresh pages.
const MAX_SPARE_BYTES: usize = 1024 * 1024;

/// The producer calls not yet taken by the loop thread, and the directory they are checked against.
#[derive(Debug, Default)]
pub struct Inbox {
    pub directory: Directory,
    queue: VecDeque<MediaInput>,
    queued_bytes: usize,
    /// Emptied copies from earlier calls, and the bytes they hold.
    spare: Vec<Vec<u8>>,
    spare_bytes: usize,
}

impl Inbox {
    /// Checks one call and queues a copy of its data.
    pub fn accept(
        &mut self,
        name: &str,
        track: Track,
        data: &[u8],
        script_ts: u64,
        now_us: u64,
    ) -> Result<(), Refusal> {
        let session = self.directory.check(name, track, data)?;
        let mut copy = match self.spare.pop() {
            Some(buf) => {
                self.spare_bytes -= buf.capacity();
                buf
            }
            None => Vec::new(),
        };
        copy.extend_from_slice(data);
        self.queued_bytes += data.len();
        self.queue.push_back(MediaInput { session, track, data: copy, script_ts, now_us });
        Ok(())
    }

    /// Takes back the buffers of calls the core has had, within `MAX_SPARE_BYTES`.
    pub fn recycle(&mut self, done: VecDeque<MediaInput>) {
        for push in done {
            let mut buf = push.data;
            if self.spare_bytes + buf.capacity() <= MAX_SPARE_BYTES {
                buf.clear();
                self.spare_bytes += buf.capacity();
                self.spare.push(buf);
            }
        }
    }

    /// Everything queued, oldest first.
    pub fn take(&mut self) -> VecDeque<MediaInput> {
        self.queued_bytes = 0;
        core::mem::take(&mut self.queue)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Enough is queued for the loop to take it even with nobody playing.
    pub fn batch_full(&self) -> bool {
        self.queue.len() >= BATCH_CALLS || self.queued_bytes >= BATCH_BYTES
    }

    /// More is queued than the loop should be left to catch up with.
    pub fn over_limit(&self) -> bool {
        self.queue.len() > MAX_QUEUED_CALLS || self.queued_bytes > MAX_QUEUED_BYTES
    }

    /// Drops every queued call and forgets the sessions (the server was replaced).
    pub fn reset(&mut self) {
        self.queue.clear();
        self.queued_bytes = 0;
        self.spare.clear();
        self.spare_bytes = 0;
        self.directory.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Config;
    use crate::session::{AudioCodec, SessionOptions};
    use crate::test_media::TEST_SEED;
    use crate::test_media::{annexb, idr, PPS, SPS};

    fn server_with(sessions: &[(&str, VideoCodec, Option<AudioCodec>)]) -> Server {
        let mut core = Server::new(Config::default(), TEST_SEED);
        for (name, codec, audio) in sessions {
            core.create_session(name, *codec, *audio, SessionOptions::default()).unwrap();
        }
        core
    }

    fn inbox_for(core: &Server) -> Inbox {
        let mut inbox = Inbox::default();
        inbox.directory.sync(core);
        inbox
    }

    #[test]
    fn refusals_are_the_ones_the_call_reports() {
        let core = server_with(&[("v", VideoCodec::H264, None), ("m", VideoCodec::Mjpeg, Some(AudioCodec::Pcmu))]);
        let mut inbox = inbox_for(&core);
        let au = annexb(&[SPS, PPS, &idr(0, 200)]);
        assert_eq!(inbox.accept("nope", Track::Video, &au, 0, 0), Err(Refusal::NoSession));
        assert_eq!(inbox.accept("v", Track::Audio, b"\xff\xff", 0, 0), Err(Refusal::Push(PushError::Invalid)));
        assert_eq!(
            inbox.accept("v", Track::Video, &[0, 0, 1, 0, 0, 0, 1], 0, 0),
            Err(Refusal::Push(PushError::Invalid))
        );
        assert_eq!(inbox.accept("v", Track::Video, &[], 0, 0), Err(Refusal::Push(PushError::Invalid)));
        assert_eq!(inbox.accept("m", Track::Video, &au, 0, 0), Err(Refusal::Push(PushError::Invalid)));
        assert_eq!(inbox.accept("m", Track::Audio, &[], 0, 0), Err(Refusal::Push(PushError::Invalid)));
        assert!(inbox.is_empty(), "nothing refused is queued");
        assert_eq!(inbox.accept("v", Track::Video, &au, 5, 6), Ok(()));
        assert_eq!(inbox.accept("m", Track::Audio, b"\x7f", 7, 8), Ok(()));
        let queued: Vec<(Track, Vec<u8>, u64, u64)> =
            inbox.take().into_iter().map(|p| (p.track, p.data, p.script_ts, p.now_us)).collect();
        assert_eq!(queued, [(Track::Video, au, 5, 6), (Track::Audio, b"\x7f".to_vec(), 7, 8)]);
        assert!(inbox.is_empty());
    }

    #[test]
    fn copies_reuse_the_buffers_handed_back_within_a_megabyte() {
        let core = server_with(&[("v", VideoCodec::H264, None)]);
        let mut inbox = inbox_for(&core);
        let frame = annexb(&[idr(0, 300 * 1024)]);
        for _ in 0..5 {
            inbox.accept("v", Track::Video, &frame, 0, 0).unwrap();
        }
        let done = inbox.take();
        let buffers: Vec<*const u8> = done.iter().map(|p| p.data.as_ptr()).collect();
        inbox.recycle(done);
        assert_eq!(inbox.spare.len(), 3, "three 300 KB buffers fit in 1 MB");
        assert!(inbox.spare_bytes <= MAX_SPARE_BYTES);
        let small = annexb(&[idr(1, 100)]);
        inbox.accept("v", Track::Video, &small, 0, 0).unwrap();
        let again = inbox.take();
        assert!(buffers.contains(&again[0].data.as_ptr()), "a spare buffer was reused");
        assert_eq!(again[0].data, small, "and holds only the new call's bytes");
        inbox.reset();
        assert!(inbox.spare.is_empty() && inbox.spare_bytes == 0);
    }

    #[test]
    fn jpegs_are_checked_as_the_packetizer_would() {
        let core = server_with(&[("m", VideoCodec::Mjpeg, None)]);
        let mut inbox = inbox_for(&core);
        let baseline = include_bytes!("../../tests/data/jpeg/420.jpg");
        let yuv444 = include_bytes!("../../tests/data/jpeg/444.jpg");
        assert_eq!(inbox.accept("m", Track::Video, yuv444, 0, 0), Err(Refusal::Push(PushError::Unsupported)));
        assert_eq!(inbox.accept("m", Track::Video, &baseline[..20], 0, 0), Err(Refusal::Push(PushError::Invalid)));
        assert_eq!(inbox.accept("m", Track::Video, baseline, 0, 0), Ok(()));
    }

    #[test]
    fn the_directory_follows_the_server() {
        let mut core = server_with(&[("a", VideoCodec::H264, None)]);
        let mut inbox = inbox_for(&core);
        let au = annexb(&[SPS, PPS, &idr(0, 200)]);
        assert_eq!(inbox.accept("b", Track::Video, &au, 0, 0), Err(Refusal::NoSession));
        core.create_session("b", VideoCodec::H265, None, SessionOptions::default()).unwrap();
        inbox.directory.sync(&core);
        assert_eq!(inbox.accept("b", Track::Video, &au, 0, 0), Ok(()));
        assert!(core.destroy_session("a"));
        inbox.directory.sync(&core);
        assert_eq!(inbox.accept("a", Track::Video, &au, 0, 0), Err(Refusal::NoSession));
        inbox.reset();
        assert!(inbox.is_empty());
        assert_eq!(inbox.accept("b", Track::Video, &au, 0, 0), Err(Refusal::NoSession));
    }

    #[test]
    fn a_batch_is_full_at_8_calls_and_the_queue_over_its_limit_past_64() {
        let core = server_with(&[("v", VideoCodec::H264, None)]);
        let mut inbox = inbox_for(&core);
        for k in 0..=MAX_QUEUED_CALLS {
            assert_eq!(inbox.batch_full(), k >= BATCH_CALLS, "{k} calls");
            assert!(!inbox.over_limit());
            inbox.accept("v", Track::Video, &annexb(&[idr(0, 200)]), 0, 0).unwrap();
        }
        assert!(inbox.over_limit());
        inbox.take();
        assert!(!inbox.over_limit() && !inbox.batch_full());
    }

    #[test]
    fn a_batch_is_full_at_256_kb_and_the_queue_over_its_limit_past_4_mb() {
        let core = server_with(&[("v", VideoCodec::H264, None)]);
        let mut inbox = inbox_for(&core);
        let big = annexb(&[idr(0, BATCH_BYTES)]);
        inbox.accept("v", Track::Video, &big, 0, 0).unwrap();
        assert!(inbox.batch_full() && !inbox.over_limit());
        for _ in 0..MAX_QUEUED_BYTES / big.len() {
            inbox.accept("v", Track::Video, &big, 0, 0).unwrap();
        }
        assert!(inbox.over_limit());
    }
}
