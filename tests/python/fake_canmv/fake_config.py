# Settings of the fake media package (tests set them before running an example).
CLIP = None  # path of the Annex-B clip the encoder gives; None: the bundled clip.264
FPS = 30
