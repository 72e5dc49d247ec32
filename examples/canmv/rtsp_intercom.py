# RTSP intercom on the CanMV K230: the camera's H.264 and the microphone's
# G.711 u-law go out to every viewer (as in rtsp_server_audio.py), and one
# viewer at a time can talk back: the session offers the ONVIF audio back
# channel, and what the viewer sends comes out of the board's speaker
# (G.711 decoder -> audio output).
#
# Run it from CanMV IDE or the board's REPL once the board has a network
# address, then watch, listen and talk from a PC, e.g. with an ONVIF NVR or
# GStreamer's rtspsrc backchannel=onvif (a plain player still just watches):
#   ffplay rtsp://<board-ip>:8554/test
# The viewer's voice must be G.711 u-law at 8 kHz mono (PCMU); for A-law
# create the session with backchannel_codec="pcma" and the decoder with
# K_PT_G711A.
# Stop it with the IDE's stop button or Ctrl-C.

import os
import time
import _thread
import uctypes

import multimedia as mm
import media.g711 as g711          # the G.711 encoder and decoder
from media.media import *          # MediaManager, VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, ALIGN_UP
from media.pyaudio import *        # PyAudio, paInt16
from media.sensor import *         # Sensor
from media.vencoder import *       # Encoder, ChnAttrStr, StreamData, VENC_CHN_ID_0
from mpp.payload_struct import *   # K_PT_G711U, K_PT_G711A

SESSION = "test"
PORT = 8554
WIDTH = 1280
HEIGHT = 720
RATE = 8000                # G.711 is 8 kHz mono, both ways
CHUNK = RATE // 25         # 40 ms of samples per read or write: 320 bytes of G.711
TICK_MS = 20               # the main loop's turn: it plays what the viewer said
STATS_EVERY = 25           # turns between looks at who is talking (0.5 s)
STREAM_SECONDS = 60        # how long the demo runs; None for ever

state = {"running": False, "workers": 0}
lock = _thread.allocate_lock()


def worker_started():
    with lock:
        state["workers"] += 1


def worker_done():
    with lock:
        state["workers"] -= 1


def video_pump(server, encoder, chn):
    # Each encoded picture's packs go out as they come; the constant
    # timestamp 1000 asks the server to stamp each picture on arrival.
    stream = StreamData()
    try:
        while state["running"]:
            os.exitpoint()
            encoder.GetStream(chn, stream)
            try:
                for i in range(stream.pack_cnt):
                    size = stream.data_size[i]
                    pack = uctypes.bytearray_at(stream.data[i], size)
                    server.rtspserver_sendvideodata(SESSION, pack, size, 1000)
            finally:
                encoder.ReleaseStream(chn, stream)
    except BaseException as e:  # noqa: B036  (report anything; main() cleans up)
        import sys
        sys.print_exception(e)
    finally:
        worker_done()


def audio_pump(server, mic, encoder):
    # The microphone to the viewers, at the microphone's pace (see
    # rtsp_server_audio.py).
    try:
        while state["running"]:
            pcm = mic.read()
            if not pcm:
                continue
            ulaw = encoder.encode(pcm)
            server.rtspserver_sendaudiodata(SESSION, ulaw, len(ulaw), 1000)
    except BaseException as e:  # noqa: B036
        import sys
        sys.print_exception(e)
    finally:
        worker_done()


class BackChannel:
    """The viewer's voice to the speaker, in whole CHUNKs: the output stream
    plays one buffer of exactly CHUNK samples per write. The server keeps up
    to 2 s of it (losses already filled with silence) until it is read."""

    def __init__(self, server, speaker, decoder):
        self.server = server
        self.speaker = speaker
        self.decoder = decoder
        self.ulaw = bytearray(CHUNK)  # the chunk being gathered, read in place
        view = memoryview(self.ulaw)
        # tails[i]: ulaw from byte i on, made once, so that finishing a chunk
        # that came in pieces needs no new object either
        self.tails = [view[i:] for i in range(CHUNK)]
        self.have = 0                 # bytes of ulaw filled so far

    def play(self):
        """Plays every whole chunk waiting (at most 2 s of them); a partial
        one stays in ulaw for the next turn. The chunks played."""
        played = 0
        for _ in range(2 * 25):
            n = self.server.rtspserver_recvaudiodata(SESSION, self.tails[self.have])
            if n < 0:
                raise OSError(-n)  # no such session, or one without a back channel
            if n == 0:
                break
            self.have += n
            if self.have < CHUNK:
                break  # the rest has not arrived yet
            self.speaker.write(self.decoder.decode(self.ulaw))
            self.have = 0
            played += 1
        return played


def talker_of(server):
    """ "peer:port" of the viewer talking (its RTSP connection), or None."""
    client = server.rtspserver_getstats(SESSION)["backchannel_client"]
    return None if client is None else "%s:%d" % (client["peer"], client["port"])


def main(port=PORT, seconds=STREAM_SECONDS):
    os.exitpoint(os.EXITPOINT_ENABLE)
    width = ALIGN_UP(WIDTH, 16)  # the encoder wants 16-aligned widths
    chn = VENC_CHN_ID_0
    server = mm.rtsp_server()
    if server.rtspserver_init(port) != 0:
        raise OSError("cannot listen on port %d" % port)
    # enable_audio True: a PCMU track to the viewers; backchannel True: a
    # PCMU track from one of them (for viewers whose DESCRIBE asks for it)
    if server.rtspserver_createsession(SESSION, mm.multi_media_type.media_h264, True,
                                       backchannel=True) != 0:
        server.rtspserver_deinit()
        raise OSError("cannot create session " + SESSION)

    sensor = Sensor()
    sensor.reset()
    sensor.set_framesize(width=width, height=HEIGHT, alignment=12)
    sensor.set_pixformat(Sensor.YUV420SP)
    venc = Encoder()
    venc.SetOutBufs(chn, 8, width, HEIGHT)
    link = MediaManager.link(sensor.bind_info()["src"], (VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, chn))

    audio = PyAudio()
    audio.initialize(CHUNK)
    aenc = g711.Encoder(K_PT_G711U, CHUNK)
    adec = g711.Decoder(K_PT_G711U, CHUNK)
    MediaManager.init()  # the media buffers, once the link is made
    venc.Create(chn, ChnAttrStr(venc.PAYLOAD_TYPE_H264, venc.H264_PROFILE_MAIN, width, HEIGHT))
    aenc.create()
    adec.create()
    mic = audio.open(format=paInt16, channels=1, rate=RATE, input=True, frames_per_buffer=CHUNK)
    speaker = audio.open(format=paInt16, channels=1, rate=RATE, output=True, frames_per_buffer=CHUNK)
    back = BackChannel(server, speaker, adec)
    try:
        server.rtspserver_start()
        venc.Start(chn)
        sensor.run()
        state["running"] = True
        worker_started()
        _thread.start_new_thread(video_pump, (server, venc, chn))
        worker_started()
        _thread.start_new_thread(audio_pump, (server, mic, aenc))
        print("RTSP server ready:", server.rtspserver_getrtspurl(SESSION))
        talker = None
        turn = 0
        started = time.ticks_ms()
        while seconds is None or time.ticks_diff(time.ticks_ms(), started) < seconds * 1000:
            os.exitpoint()
            back.play()
            turn += 1
            if turn % STATS_EVERY == 0:
                now = talker_of(server)
                if now != talker:
                    print("talking:", now or "nobody")
                    talker = now
            time.sleep_ms(TICK_MS)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        state["running"] = False
        while state["workers"] > 0:
            time.sleep_ms(50)
        mic.stop_stream()
        mic.close()
        speaker.stop_stream()
        speaker.close()
        audio.terminate()
        aenc.destroy()
        adec.destroy()
        sensor.stop()
        del link
        venc.Stop(chn)
        venc.Destroy(chn)
        server.rtspserver_stop()
        server.rtspserver_destroysession(SESSION)
        server.rtspserver_deinit()
        MediaManager.deinit()
        print("done")


if __name__ == "__main__":
    main()
