# Annex-B elementary stream splitting, for MicroPython and CPython alike.
#
# The host demo sends one access unit (one picture) per sendvideodata call;
# the tests use the same functions to know exactly which NAL units were sent.
# Everything works on offsets into one bytes object, so a 100 KB clip is never
# copied: callers slice a memoryview with the spans returned here.

START_CODE = b"\x00\x00\x01"

H264 = "h264"
H265 = "h265"
MJPEG = "mjpeg"

_EXTENSIONS = {
    "264": H264,
    "h264": H264,
    "265": H265,
    "h265": H265,
    "hevc": H265,
    "mjpeg": MJPEG,
    "mjpg": MJPEG,
}


def codec_from_path(path):
    """The codec named by a file's extension, or None."""
    dot = path.rfind(".")
    if dot < 0:
        return None
    return _EXTENSIONS.get(path[dot + 1:].lower())


def nal_spans(data):
    """[(unit_start, nal_start, nal_end)] for each NAL unit in Annex-B `data`.

    unit_start is where the unit's start code begins (taking in the leading
    zero of a 4-byte start code); data[nal_start:nal_end] is the NAL unit
    itself, without start code and without trailing zero bytes (which belong
    to the next start code or are stuffing, never to the NAL unit).
    """
    spans = []
    n = len(data)
    pos = data.find(START_CODE)
    while pos >= 0:
        unit_start = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
        nal_start = pos + 3
        nxt = data.find(START_CODE, nal_start)
        end = n if nxt < 0 else nxt
        while end > nal_start and data[end - 1] == 0:
            end -= 1
        if end > nal_start:
            spans.append((unit_start, nal_start, end))
        pos = nxt
    return spans


def nal_units(data):
    """The NAL units of Annex-B `data`, as bytes, in order."""
    return [bytes(data[s:e]) for _, s, e in nal_spans(data)]


def h264_nal_type(nal):
    return nal[0] & 0x1F


def h265_nal_type(nal):
    return (nal[0] >> 1) & 0x3F


def h264_is_vcl(nal_type):
    return 1 <= nal_type <= 5


def h265_is_vcl(nal_type):
    return nal_type < 32


def is_vcl(nal, codec=H264):
    """True for a NAL unit (bytes, no start code) that carries picture data."""
    if codec == H265:
        return h265_is_vcl(h265_nal_type(nal))
    return h264_is_vcl(h264_nal_type(nal))


def nal_type(nal, codec=H264):
    return h265_nal_type(nal) if codec == H265 else h264_nal_type(nal)


def _h264_opens_au(data, start, end, vcl_seen):
    t = data[start] & 0x1F
    if t == 9:  # access unit delimiter: always first in its access unit
        return True
    if t in (6, 7, 8) or 14 <= t <= 18:  # SEI, SPS, PPS, prefix/extension
        return vcl_seen
    if 1 <= t <= 5:
        # first_mb_in_slice is ue(v); its first bit is 1 exactly when it is 0.
        return vcl_seen and end > start + 1 and (data[start + 1] & 0x80) != 0
    return False


def _h265_opens_au(data, start, end, vcl_seen):
    t = (data[start] >> 1) & 0x3F
    if t == 35:  # access unit delimiter
        return True
    # VPS, SPS, PPS, prefix SEI, reserved 41..44, unspecified 48..55
    if t in (32, 33, 34, 39) or 41 <= t <= 44 or 48 <= t <= 55:
        return vcl_seen
    if t < 32:
        # first_slice_segment_in_pic_flag: first bit after the 2-byte header.
        return vcl_seen and end > start + 2 and (data[start + 2] & 0x80) != 0
    return False


def access_unit_spans(data, codec=H264):
    """[(start, end)] of each access unit in `data`, start codes included.

    For H.264/H.265 an access unit runs from the start code of its first NAL
    unit to the start code of the next access unit's first NAL unit. A unit
    that may open an access unit (parameter set, SEI, first slice of a
    picture) does so only once the current one has a picture: what follows a
    picture (suffix SEI, end of sequence, filler) stays with it.
    For MJPEG each JPEG image (SOI to EOI) is one unit.
    """
    if codec == MJPEG:
        return jpeg_spans(data)
    if codec == H265:
        opens, vcl_of = _h265_opens_au, lambda b: ((b >> 1) & 0x3F) < 32
    else:
        opens, vcl_of = _h264_opens_au, lambda b: 1 <= (b & 0x1F) <= 5
    starts = []
    vcl_seen = False
    for unit_start, s, e in nal_spans(data):
        if not starts or opens(data, s, e, vcl_seen):
            starts.append(unit_start)
            vcl_seen = False
        if vcl_of(data[s]):
            vcl_seen = True
    spans = []
    for i in range(len(starts)):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        spans.append((starts[i], end))
    return spans


def access_units(data, codec=H264):
    """The access units of `data` as bytes objects (start codes included)."""
    return [bytes(data[s:e]) for s, e in access_unit_spans(data, codec)]


# --- JPEG ---------------------------------------------------------------------

SOI = b"\xff\xd8"


def jpeg_end(data, start):
    """The offset just past the EOI of the JPEG image whose SOI is at `start`,
    or -1 when the image is cut short or malformed.

    Marker segments are skipped by their lengths, so an EXIF thumbnail's
    SOI/EOI inside APP1 is not taken for the image's own; entropy-coded data
    is scanned for the next marker that is neither a stuffed 0xFF00 nor a
    restart marker.
    """
    n = len(data)
    pos = start + 2
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return -1
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        if pos + 4 > n:
            return -1
        pos += 2 + ((data[pos + 2] << 8) | data[pos + 3])
        if marker != 0xDA:  # not SOS: the next marker follows the segment
            continue
        while True:  # scan data after SOS up to the next real marker
            ff = data.find(b"\xff", pos)
            if ff < 0 or ff + 1 >= n:
                return -1
            nxt = data[ff + 1]
            if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                pos = ff + 2
            elif nxt == 0xFF:
                pos = ff + 1
            else:
                pos = ff
                break
    return -1


def jpeg_spans(data):
    """[(start, end)] of each complete JPEG image (SOI to EOI) in `data`."""
    spans = []
    pos = data.find(SOI)
    while pos >= 0:
        end = jpeg_end(data, pos)
        if end < 0:
            break
        spans.append((pos, end))
        pos = data.find(SOI, end)
    return spans
