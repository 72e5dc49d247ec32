# Fake media.media: the MediaManager and the constants the examples import.
VIDEO_ENCODE_MOD_ID = 1
VENC_DEV_ID = 0


def ALIGN_UP(x, a):
    return (x + a - 1) // a * a


class _Link:
    pass


class MediaManager:
    @staticmethod
    def link(src, dst):
        return _Link()

    @staticmethod
    def init():
        pass

    @staticmethod
    def deinit():
        pass
