# RTSP camera on the CanMV K230: the sensor feeds the hardware H.264 encoder,
# and a worker thread hands every encoded pack to the RTSP server.
#
# Run it from CanMV IDE or the board's REPL once the board has a network
# address, then watch it on a PC:  ffplay rtsp://<board-ip>:8554/test
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


class CameraRtsp:
    def __init__(self, session=SESSION, port=PORT, width=WIDTH, height=HEIGHT):
        self.session = session
        self.port = port
        self.width = ALIGN_UP(width, 16)  # the encoder wants 16-aligned widths
        self.height = height
        self.chn = VENC_CHN_ID_0
        self.server = mm.rtsp_server()
        self.sensor = None
        self.encoder = None
        self.link = None
        self.running = False
        self.worker_done = True

    # --- camera and encoder -------------------------------------------------

    def _open_camera(self):
        self.sensor = Sensor()
        self.sensor.reset()
        self.sensor.set_framesize(width=self.width, height=self.height, alignment=12)
        self.sensor.set_pixformat(Sensor.YUV420SP)

        self.encoder = Encoder()
        self.encoder.SetOutBufs(self.chn, 8, self.width, self.height)
        # The sensor's output goes straight into the encoder channel.
        self.link = MediaManager.link(self.sensor.bind_info()["src"],
                                      (VIDEO_ENCODE_MOD_ID, VENC_DEV_ID, self.chn))
        MediaManager.init()  # the media buffers, once the link is made
        attr = ChnAttrStr(self.encoder.PAYLOAD_TYPE_H264, self.encoder.H264_PROFILE_MAIN,
                          self.width, self.height)
        self.encoder.Create(self.chn, attr)

    def _close_camera(self):
        if self.sensor is not None:
            self.sensor.stop()
        if self.link is not None:
            del self.link
            self.link = None
        if self.encoder is not None:
            self.encoder.Stop(self.chn)
            self.encoder.Destroy(self.chn)
            self.encoder = None
            MediaManager.deinit()

    # --- RTSP ----------------------------------------------------------------

    def start(self):
        if self.server.rtspserver_init(self.port) != 0:
            raise OSError("cannot listen on port %d" % self.port)
        if self.server.rtspserver_createsession(self.session, mm.multi_media_type.media_h264,
                                                False) != 0:
            self.server.rtspserver_deinit()
            raise OSError("cannot create session " + self.session)
        self._open_camera()
        self.server.rtspserver_start()
        self.encoder.Start(self.chn)
        self.sensor.run()
        self.running = True
        self.worker_done = False
        _thread.start_new_thread(self._pump, ())

    def url(self):
        return self.server.rtspserver_getrtspurl(self.session)

    def _pump(self):
        # One encoded frame may come as several packs (parameter sets, then the
        # slice); each is sent as it is. The server copies the bytes before the
        # call returns, so the encoder's buffer can be released right after.
        # The constant timestamp 1000 is what CanMV's examples pass: the server
        # then stamps each frame with its arrival time.
        stream = StreamData()
        try:
            while self.running:
                os.exitpoint()
                self.encoder.GetStream(self.chn, stream)
                try:
                    for i in range(stream.pack_cnt):
                        size = stream.data_size[i]
                        pack = uctypes.bytearray_at(stream.data[i], size)
                        self.server.rtspserver_sendvideodata(self.session, pack, size, 1000)
                finally:
                    self.encoder.ReleaseStream(self.chn, stream)
        except BaseException as e:  # noqa: B036  (report anything, then let stop() clean up)
            import sys
            sys.print_exception(e)
        finally:
            self.worker_done = True

    def stop(self):
        self.running = False
        while not self.worker_done:
            time.sleep_ms(50)
        self._close_camera()
        self.server.rtspserver_stop()
        self.server.rtspserver_destroysession(self.session)
        self.server.rtspserver_deinit()


def main():
    os.exitpoint(os.EXITPOINT_ENABLE)
    cam = CameraRtsp()
    try:
        cam.start()
        print("RTSP server ready:", cam.url())
        started = time.ticks_ms()
        while STREAM_SECONDS is None or time.ticks_diff(time.ticks_ms(), started) < STREAM_SECONDS * 1000:
            os.exitpoint()
            time.sleep_ms(200)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        cam.stop()
        print("done")


if __name__ == "__main__":
    main()
