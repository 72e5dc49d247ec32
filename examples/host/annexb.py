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


def _h264_opens_au(data, start, end, prev_vcl):
    t = data[start] & 0x1F
    if t == 9:  # access unit delimiter: always first in its access unit
        return True
    if t in (6, 7, 8) or 14 <= t <= 18:  # SEI, SPS, PPS, prefix/extension
        return prev_vcl
    if 1 <= t <= 5:
        # first_mb_in_slice is ue(v); its first bit is 1 exactly when it is 0.
        return prev_vcl and end > start + 1 and (data[start + 1] & 0x80) != 0
    return False


def _h265_opens_au(data, start, end, prev_vcl):
    t = (data[start] >> 1) & 0x3F
    if t == 35:  # access unit delimiter
        return True
    if t in (32, 33, 34, 39) or 41 <= t <= 44 or 48 <= t <= 55:
        return prev_vcl
    if t < 32:
        # first_slice_segment_in_pic_flag: first bit after the 2-byte header.
        return prev_vcl and end > start + 2 and (data[start + 2] & 0x80) != 0
    return False


def access_unit_spans(data, codec=H264):
    """[(start, end)] of each access unit in `data`, start codes included.

    For H.264/H.265 an access unit runs from the start code of its first NAL
    unit to the start code of the next access unit's first NAL unit. For MJPEG
    each JPEG image (SOI marker to the next SOI marker) is one unit.
    """
    if codec == MJPEG:
        return _jpeg_spans(data)
    if codec == H265:
        opens, vcl_of = _h265_opens_au, lambda b: ((b >> 1) & 0x3F) < 32
    else:
        opens, vcl_of = _h264_opens_au, lambda b: 1 <= (b & 0x1F) <= 5
    starts = []
    prev_vcl = False
    for unit_start, s, e in nal_spans(data):
        if not starts or opens(data, s, e, prev_vcl):
            starts.append(unit_start)
        prev_vcl = vcl_of(data[s])
    spans = []
    for i in range(len(starts)):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        spans.append((starts[i], end))
    return spans


def _jpeg_spans(data):
    soi = b"\xff\xd8\xff"
    starts = []
    pos = data.find(soi)
    while pos >= 0:
        starts.append(pos)
        pos = data.find(soi, pos + 3)
    spans = []
    for i in range(len(starts)):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        spans.append((starts[i], end))
    return spans


def access_units(data, codec=H264):
    """The access units of `data` as bytes objects (start codes included)."""
    return [bytes(data[s:e]) for s, e in access_unit_spans(data, codec)]
