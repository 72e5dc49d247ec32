# MJPEG RTSP camera on the CanMV K230: the sensor feeds the hardware JPEG
# encoder, and every picture it makes goes out as one RTP/JPEG frame (RFC 2435,
# payload type 26). Each picture stands alone, so a viewer that joins or loses a
# packet recovers at the next picture; the price is a much higher bitrate than
# H.264 or H.265, hence the smaller picture here.
#
# Run it from CanMV IDE or the board's REPL once the board has a network
# address, then watch it on a PC:
#   ffplay rtsp://<board-ip>:8554/test
#   gst-launch-1.0 rtspsrc location=rtsp://<board-ip>:8554/test latency=0 ! \
#       rtpjpegdepay ! jpegdec ! videoconvert ! autovideosink
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
WIDTH = 640
HEIGHT = 480
QUALITY = 45         # the encoder's JPEG quality factor (1..99); higher: sharper and bigger
STREAM_SECONDS = 60  # how long the demo runs; None for ever

state = {"running": False, "worker_done": True}


def picture_bytes(stream):
    # The server takes exactly one whole JPEG per call. The encoder normally
    # delivers a picture as a single pack, which is passed as a view of the
    # encoder's buffer (the server copies it); should it ever split one, the
    # pieces are joined first.
    if stream.pack_cnt == 1:
        return uctypes.bytearray_at(stream.data[0], stream.data_size[0])
    whole = bytearray()
    for i in range(stream.pack_cnt):
        whole.extend(uctypes.bytearray_at(stream.data[i], stream.data_size[i]))
    return whole


def pump(server, encoder, chn):
    # The constant timestamp 1000, as CanMV's examples pass: the server stamps
    # each picture when it arrives.
    stream = StreamData()
    try:
        while state["running"]:
            os.exitpoint()
            if encoder.GetStream(chn, stream) != 0:
                time.sleep_ms(10)  # nothing this time; ask again shortly
                continue
            try:
                jpeg = picture_bytes(stream)
                rc = server.rtspserver_sendvideodata(SESSION, jpeg, len(jpeg), 1000)
                if rc < 0:
                    # e.g. a JPEG that RFC 2435 cannot carry; the next may be fine
                    print("picture not sent:", rc)
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
    if server.rtspserver_createsession(SESSION, mm.multi_media_type.media_mjpeg, False) != 0:
        server.rtspserver_deinit()
        raise OSError("cannot create session " + SESSION)

    sensor = Sensor()
    sensor.reset()
    sensor.set_framesize(width=width, height=HEIGHT, alignment=12)
    # YUV 4:2:0 in, so the encoder makes 4:2:0 JPEGs, which RFC 2435 carries.
    sensor.set_pixformat(Sensor.YUV420SP)
    encoder = Encoder()
    encoder.SetOutBufs(chn, 8, width, HEIGHT)
    link = MediaManager.link(sensor.bind_info()["src"], (VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, chn))
    MediaManager.init()  # the media buffers, once the link is made
    # The JPEG encoder has no profile, but ChnAttrStr still takes one; the
    # quality factor is its only rate setting (fixed QP).
    encoder.Create(chn, ChnAttrStr(encoder.PAYLOAD_TYPE_JPEG, encoder.H264_PROFILE_MAIN,
                                   width, HEIGHT, mjpeg_quality_factor=QUALITY))
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
        # The worker first (it holds encoder buffers), then the camera, then
        # the server.
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
