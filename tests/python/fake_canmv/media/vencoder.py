# Fake media.vencoder: an Encoder whose GetStream gives a clip's access units
# as packs, paced at fake_config.FPS (a HEADER pack with the parameter sets,
# then a pack with the slices), looping the clip.
import sys
import time
import uctypes

import fake_config

VENC_CHN_ID_0 = 0
VENC_PACK_CNT_MAX = 12


REPO = __file__.rsplit("/", 5)[0]  # REPO/tests/python/fake_canmv/media/vencoder.py


def _annexb():
    path = REPO + "/examples/host"
    if path not in sys.path:
        sys.path.append(path)
    import annexb
    return annexb


class ChnAttrStr:
    def __init__(self, payload_type, profile, width, height, *args, **kwargs):
        self.payload_type = payload_type
        self.width = width
        self.height = height


class StreamData:
    def __init__(self):
        self.data = [0] * VENC_PACK_CNT_MAX
        self.data_size = [0] * VENC_PACK_CNT_MAX
        self.stream_type = [0] * VENC_PACK_CNT_MAX
        self.pts = [0] * VENC_PACK_CNT_MAX
        self.pack_cnt = 0


class Encoder:
    PAYLOAD_TYPE_H264 = 96
    PAYLOAD_TYPE_H265 = 265
    H264_PROFILE_BASELINE = 0
    H264_PROFILE_MAIN = 1
    H264_PROFILE_HIGH = 2
    H265_PROFILE_MAIN = 3
    STREAM_TYPE_I = 0
    STREAM_TYPE_P = 1
    STREAM_TYPE_HEADER = 2

    def __init__(self):
        self._frames = []
        self._k = 0
        self._t0 = None
        self._held = []

    def SetOutBufs(self, chn, num, width, height):
        pass

    def Create(self, chn, attr):
        annexb = _annexb()
        path = fake_config.CLIP or REPO + "/examples/assets/clip.264"
        with open(path, "rb") as f:
            data = f.read()
        for s, e in annexb.access_unit_spans(data):
            au = data[s:e]
            header, body, key = b"", b"", False
            for start, ns, ne in annexb.nal_spans(au):
                t = au[ns] & 0x1F
                unit = b"\x00\x00\x00\x01" + au[ns:ne]
                if t in (7, 8):
                    header += unit
                else:
                    body += unit
                    key = key or t == 5
            packs = []
            if header:
                packs.append((bytearray(header), self.STREAM_TYPE_HEADER))
            packs.append((bytearray(body), self.STREAM_TYPE_I if key else self.STREAM_TYPE_P))
            self._frames.append(packs)

    def Start(self, chn):
        self._t0 = time.ticks_us()

    def GetStream(self, chn, stream, timeout=-1):
        due = time.ticks_add(self._t0, self._k * 1000000 // fake_config.FPS)
        wait = time.ticks_diff(due, time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
        packs = self._frames[self._k % len(self._frames)]
        self._k += 1
        stream.pack_cnt = len(packs)
        for i, (buf, kind) in enumerate(packs):
            stream.data[i] = uctypes.addressof(buf)
            stream.data_size[i] = len(buf)
            stream.stream_type[i] = kind
            stream.pts[i] = time.ticks_us()
        self._held = packs
        return 0

    def ReleaseStream(self, chn, stream):
        self._held = []
        return 0

    def Stop(self, chn):
        pass

    def Destroy(self, chn):
        pass
