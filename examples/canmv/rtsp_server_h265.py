# H.265 RTSP camera on the CanMV K230: the same pipeline as rtsp_server.py
# (sensor -> hardware encoder -> RTSP), with the encoder set to HEVC, which
# needs about half the bitrate of H.264 for the same picture.
#
# Run it from CanMV IDE or the board's REPL once the board has a network
# address, then watch it on a PC:
#   ffplay rtsp://<board-ip>:8554/test
#   gst-launch-1.0 rtspsrc location=rtsp://<board-ip>:8554/test latency=0 ! \
#       rtph265depay ! h265parse ! avdec_h265 ! videoconvert ! autovideosink
# Stop it with the IDE's stop button or Ctrl-C.

import os
import time
import _thread
import uctypes

import multimedia as mm
from media.media import *      # MediaManager, VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, ALIGN_UP
from media.sensor import *     # Sensor
from media.vencoder import *   # Encoder, ChnAttrStr, StreamData, VENC_CHN_ID_0

SESSION = "test"
PORT = 8554
WIDTH = 1280
HEIGHT = 720
STREAM_SECONDS = 60  # how long the demo runs; None for ever

state = {"running": False, "worker_done": True}


def pump(server, encoder, chn):
    # Each encoded picture arrives as one or more packs (VPS/SPS/PPS, then the
    # slices); each pack is handed over as it is, and the server copies it
    # before the call returns. Timestamp 1000 for every pack, as CanMV's
    # examples do: the server then stamps each picture when it arrives.
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
        state["worker_done"] = True


def main():
    os.exitpoint(os.EXITPOINT_ENABLE)
    width = ALIGN_UP(WIDTH, 16)  # the encoder wants 16-aligned widths
    chn = VENC_CHN_ID_0
    server = mm.rtsp_server()
    if server.rtspserver_init(PORT) != 0:
        raise OSError("cannot listen on port %d" % PORT)
    if server.rtspserver_createsession(SESSION, mm.multi_media_type.media_h265, False) != 0:
        server.rtspserver_deinit()
        raise OSError("cannot create session " + SESSION)

    sensor = Sensor()
    sensor.reset()
    sensor.set_framesize(width=width, height=HEIGHT, alignment=12)
    sensor.set_pixformat(Sensor.YUV420SP)
    encoder = Encoder()
    encoder.SetOutBufs(chn, 8, width, HEIGHT)
    link = MediaManager.link(sensor.bind_info()["src"], (VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, chn))
    MediaManager.init()  # the media buffers, once the link is made
    encoder.Create(chn, ChnAttrStr(encoder.PAYLOAD_TYPE_H265, encoder.H265_PROFILE_MAIN,
                                   width, HEIGHT))
    try:
        server.rtspserver_start()
        encoder.Start(chn)
        sensor.run()
        state["running"] = True
        state["worker_done"] = False
        _thread.start_new_thread(pump, (server, encoder, chn))
        print("RTSP server ready:", server.rtspserver_getrtspurl(SESSION))
        started = time.ticks_ms()
        while STREAM_SECONDS is None or time.ticks_diff(time.ticks_ms(), started) < STREAM_SECONDS * 1000:
            os.exitpoint()
            time.sleep_ms(200)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        state["running"] = False
        while not state["worker_done"]:
            time.sleep_ms(50)
        sensor.stop()
        del link
        encoder.Stop(chn)
        encoder.Destroy(chn)
        MediaManager.deinit()
        server.rtspserver_stop()
        server.rtspserver_destroysession(SESSION)
        server.rtspserver_deinit()
        print("done")


if __name__ == "__main__":
    main()
