# Fake media.pyaudio: CanMV's PyAudio. open(..., input=True) gives a stream
# whose read() returns frames_per_buffer samples of silence at the capture's
# pace; open(..., output=True) one whose write() takes exactly one buffer of
# PCM (the real one copies it into a frame of that size and plays the whole
# frame: other lengths play stale bytes, so here they are an error) and
# appends it to fake_config.SPEAKER.
import time

import fake_config

paInt16 = 0
paInt24 = 1
paInt32 = 2


class _Stream:
    def __init__(self, parent, rate, channels, format, input=False, output=False,
                 frames_per_buffer=1024, start=True, **kwargs):
        if input == output:
            raise ValueError("Must specify an input or output stream.")
        self._parent = parent
        self._rate = rate
        self._frame_bytes = frames_per_buffer * channels * 2
        self._period_us = frames_per_buffer * 1000000 // rate
        self._started = False
        self._due = None
        if start:
            self.start_stream()

    def start_stream(self):
        self._started = True

    def stop_stream(self):
        self._started = False

    def close(self):
        self._parent._remove_stream(self)


class _ReadStream(_Stream):
    def read(self, chn=0, block=True):
        if not self._started:
            return None
        now = time.ticks_us()
        if self._due is None:
            self._due = now
        self._due = time.ticks_add(self._due, self._period_us)
        wait = time.ticks_diff(self._due, now)
        if wait > 0:
            time.sleep_us(wait)
        return bytes(self._frame_bytes)


class _WriteStream(_Stream):
    def write(self, data):
        if not self._started:
            return None
        if len(data) != self._frame_bytes:
            raise ValueError("write: %d bytes, the frame holds %d" % (len(data), self._frame_bytes))
        if fake_config.SPEAKER is not None:
            with open(fake_config.SPEAKER, "ab") as f:
                f.write(data)
        return 0


class PyAudio:
    def __init__(self):
        self._streams = set()

    def initialize(self, chunk_size):
        pass

    def open(self, *args, **kwargs):
        cls = _WriteStream if kwargs.get("output") else _ReadStream
        stream = cls(self, *args, **kwargs)
        self._streams.add(stream)
        return stream

    def _remove_stream(self, stream):
        self._streams.discard(stream)

    def terminate(self):
        for stream in list(self._streams):
            stream.close()
        self._streams = set()
