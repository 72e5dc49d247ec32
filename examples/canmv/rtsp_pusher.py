# Camera -> H.264 encoder -> RTSP pusher on the CanMV K230: the board pushes
# its stream to a media server (mediamtx, ZLMediaKit, gst-rtsp-server...),
# which fans it out to many viewers. CanMV's own rtsp_pusher flow, unchanged:
#   1. start the encoder;
#   2. on the first pack holding SPS/PPS: init, pushvideoheader(SPS/PPS), open;
#   3. every pack: pushvideodata(nals, len, is_idr, time.ticks_us()).
#
# Set PUSH_URL to your server (ZLMediaKit wants two levels: /app/stream), start
# the server, run this from CanMV IDE, then watch the server's URL, e.g.
#   ffplay rtsp://<server>:8554/live/cam
# Stop it with the IDE's stop button or Ctrl-C.

import os
import time
import uctypes

import multimedia as mm
from media.media import *      # MediaManager, VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, ALIGN_UP
from media.sensor import *     # Sensor
from media.vencoder import *   # Encoder, ChnAttrStr, StreamData, VENC_CHN_ID_0

PUSH_URL = "rtsp://192.168.1.100:8554/live/cam"
WIDTH = 1280
HEIGHT = 720
FPS = 30
STREAM_SECONDS = 60  # how long the demo runs; None for ever


def main(url=PUSH_URL, seconds=STREAM_SECONDS):
    os.exitpoint(os.EXITPOINT_ENABLE)
    width = ALIGN_UP(WIDTH, 16)
    chn = VENC_CHN_ID_0

    # 1. camera and encoder
    sensor = Sensor()
    sensor.reset()
    sensor.set_framesize(width=width, height=HEIGHT, alignment=12)
    sensor.set_pixformat(Sensor.YUV420SP)
    encoder = Encoder()
    encoder.SetOutBufs(chn, 8, width, HEIGHT)
    link = MediaManager.link(sensor.bind_info()["src"], (VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, chn))
    MediaManager.init()
    encoder.Create(chn, ChnAttrStr(encoder.PAYLOAD_TYPE_H264, encoder.H264_PROFILE_MAIN, width, HEIGHT))
    encoder.Start(chn)
    sensor.run()

    pusher = mm.rtsp_pusher()
    opened = False
    stream = StreamData()
    started = time.ticks_ms()
    try:
        while seconds is None or time.ticks_diff(time.ticks_ms(), started) < seconds * 1000:
            os.exitpoint()
            encoder.GetStream(chn, stream)
            try:
                for i in range(stream.pack_cnt):
                    size = stream.data_size[i]
                    nals = uctypes.bytearray_at(stream.data[i], size)
                    kind = stream.stream_type[i]
                    # 2. the first pack with SPS/PPS: init, header, open
                    if not opened and kind == encoder.STREAM_TYPE_HEADER:
                        pusher.rtsppusher_init(width, HEIGHT, url, FPS, "tcp")
                        pusher.rtsppusher_pushvideoheader(nals, size)
                        if pusher.rtsppusher_open() != 0:
                            raise OSError("cannot connect to " + url)
                        opened = True
                        print("pushing to", url)
                    # 3. every pack, as it comes
                    if opened:
                        is_idr = 1 if kind == encoder.STREAM_TYPE_I else 0
                        pusher.rtsppusher_pushvideodata(nals, size, is_idr, time.ticks_us())
            finally:
                encoder.ReleaseStream(chn, stream)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        if opened:
            pusher.rtsppusher_close()
        pusher.rtsppusher_deinit()
        pusher.rtsppusher_destroy()
        sensor.stop()
        del link
        encoder.Stop(chn)
        encoder.Destroy(chn)
        MediaManager.deinit()
        print("done")


if __name__ == "__main__":
    main()
