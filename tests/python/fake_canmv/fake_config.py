# Settings of the fake media package (tests set them before running an example).
CLIP = None  # path of the Annex-B clip the encoder gives; None: the bundled clip.264
FPS = 30
SPEAKER = None  # path of a file every pyaudio output stream's write() appends its PCM to; None: dropped
