# RTSP camera with sound on the CanMV K230: H.264 video from the sensor and
# the hardware encoder, plus the on-board microphone encoded to G.711 u-law
# (PCMU, 8 kHz mono) on a second track. Players keep the two in sync from
# the server's RTCP sender reports.
#
# Run it from CanMV IDE or the board's REPL once the board has a network
# address, then watch and listen on a PC:
#   ffplay rtsp://<board-ip>:8554/test
#   ffmpeg -i rtsp://<board-ip>:8554/test -map 0 -c copy -f matroska out.mkv
# For A-law instead, create the session with audio_codec="pcma" and the
# encoder with K_PT_G711A.
# Stop it with the IDE's stop button or Ctrl-C.

import os
import time
import _thread
import uctypes

import multimedia as mm
import media.g711 as g711          # the G.711 encoder
from media.media import *          # MediaManager, VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, ALIGN_UP
from media.pyaudio import *        # PyAudio, paInt16
from media.sensor import *         # Sensor
from media.vencoder import *       # Encoder, ChnAttrStr, StreamData, VENC_CHN_ID_0
from mpp.payload_struct import *   # K_PT_G711U, K_PT_G711A

SESSION = "test"
PORT = 8554
WIDTH = 1280
HEIGHT = 720
RATE = 8000                # G.711 is 8 kHz mono
CHUNK = RATE // 25         # 40 ms of samples per read: 320 bytes of G.711
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
    # stream.read() blocks until CHUNK samples were captured, so this loop
    # runs at the microphone's pace. The server stamps the first chunk on
    # arrival (timestamp 1000, as for the video) and then advances the audio
    # clock by the samples sent, so capture jitter never reaches the player.
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


def main():
    os.exitpoint(os.EXITPOINT_ENABLE)
    width = ALIGN_UP(WIDTH, 16)  # the encoder wants 16-aligned widths
    chn = VENC_CHN_ID_0
    server = mm.rtsp_server()
    if server.rtspserver_init(PORT) != 0:
        raise OSError("cannot listen on port %d" % PORT)
    # enable_audio True: a second, PCMU track (audio_codec="pcma" for A-law)
    if server.rtspserver_createsession(SESSION, mm.multi_media_type.media_h264, True) != 0:
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
    MediaManager.init()  # the media buffers, once the link is made
    venc.Create(chn, ChnAttrStr(venc.PAYLOAD_TYPE_H264, venc.H264_PROFILE_MAIN, width, HEIGHT))
    aenc.create()
    mic = audio.open(format=paInt16, channels=1, rate=RATE, input=True, frames_per_buffer=CHUNK)
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
        started = time.ticks_ms()
        while STREAM_SECONDS is None or time.ticks_diff(time.ticks_ms(), started) < STREAM_SECONDS * 1000:
            os.exitpoint()
            time.sleep_ms(200)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        state["running"] = False
        while state["workers"] > 0:
            time.sleep_ms(50)
        mic.stop_stream()
        mic.close()
        audio.terminate()
        aenc.destroy()
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
