# Fake media.g711: CanMV's G.711 Encoder and Decoder (type K_PT_G711U or
# K_PT_G711A, frames_per_buffer; create(), encode(pcm) / decode(g711) -> bytes,
# destroy()), done in Python: 16-bit little-endian PCM <-> one byte a sample.
from mpp.payload_struct import K_PT_G711A, K_PT_G711U


def _ulaw_encode(s):
    s >>= 2  # the 14 bits u-law keeps
    mask = 0xFF
    if s < 0:
        s, mask = -s, 0x7F
    s = min(s, 8159) + 0x21
    seg = 0
    while seg < 8 and s >= 0x40 << seg:
        seg += 1
    if seg == 8:  # past the last segment: the loudest code
        return 0x7F ^ mask
    return (seg << 4 | (s >> (seg + 1)) & 0x0F) ^ mask


def _ulaw_decode(b):
    b = ~b & 0xFF
    s = (((b & 0x0F) << 3) + 0x84) << ((b >> 4) & 7)
    return 0x84 - s if b & 0x80 else s - 0x84


def _alaw_encode(s):
    sign = 0x80 if s >= 0 else 0
    s = min(-s - 1 if s < 0 else s, 32767) >> 3
    if s < 32:
        b = s >> 1
    else:
        exp = 1
        while exp < 7 and s >= 64 << (exp - 1):
            exp += 1
        b = exp << 4 | (s >> exp) & 0x0F
    return (sign | b) ^ 0x55


def _alaw_decode(b):
    b ^= 0x55
    exp, mant = (b >> 4) & 7, b & 0x0F
    s = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return s if b & 0x80 else -s


class _Codec:
    def __init__(self, type, frames_per_buffer):
        if type not in (K_PT_G711U, K_PT_G711A):
            raise ValueError("not a G.711 payload type")
        self.type = type
        self.point_num_per_frame = frames_per_buffer
        self.init = False

    def create(self):
        if self.init:
            raise RuntimeError("The instance has been initialized")
        self.init = True

    def destroy(self):
        self.init = False


class Encoder(_Codec):
    def encode(self, frame_data):
        enc = _ulaw_encode if self.type == K_PT_G711U else _alaw_encode
        out = bytearray(len(frame_data) // 2)
        for i in range(len(out)):
            s = frame_data[2 * i] | frame_data[2 * i + 1] << 8
            out[i] = enc(s - 0x10000 if s & 0x8000 else s)
        return bytes(out)


class Decoder(_Codec):
    def decode(self, stream_data):
        dec = _ulaw_decode if self.type == K_PT_G711U else _alaw_decode
        out = bytearray(2 * len(stream_data))
        for i in range(len(stream_data)):
            s = dec(stream_data[i]) & 0xFFFF
            out[2 * i] = s & 0xFF
            out[2 * i + 1] = s >> 8
        return bytes(out)
