# Fake media.sensor: a Sensor that does nothing.
class Sensor:
    YUV420SP = 1

    def __init__(self, *args, **kwargs):
        pass

    def reset(self):
        pass

    def set_framesize(self, *args, **kwargs):
        pass

    def set_pixformat(self, *args, **kwargs):
        pass

    def bind_info(self, *args, **kwargs):
        return {"src": (0, 0, 0)}

    def run(self):
        pass

    def stop(self):
        pass
