#!/bin/sh
# Regenerates the bundled test clips in examples/assets/ with ffmpeg
# (libx264, libx265, the built-in MJPEG and G.711 encoders).
#   clip.264    H.264 640x360, 30 fps, 3 s (90 frames), GOP 30, no B-frames, testsrc
#   clip2.264   H.264 320x240, 30 fps, 2 s (60 frames), GOP 30, no B-frames, smptebars
#   clip.265    H.265 640x360, 30 fps, 3 s (90 frames), GOP 30, no B-frames, testsrc,
#               VPS/SPS/PPS before every keyframe
#   clip.mjpeg  baseline JPEGs back to back, 320x240 4:2:0, 30 fps, 3 s (90 frames);
#               standard Huffman tables, the only ones RFC 2435 receivers know
#   tone.ulaw   G.711 u-law, 8 kHz mono, 5 s: a rising tone, so no two 20 ms chunks are alike
#   tone.alaw   the same tone in G.711 A-law
# Fixed GOP and no scene-cut keyframes so tests know where the keyframes are.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/examples/assets"
mkdir -p "$out"
ff="ffmpeg -hide_banner -loglevel error -y"

x264_common="-c:v libx264 -profile:v main -pix_fmt yuv420p -bf 0 \
  -x264-params keyint=30:min-keyint=30:scenecut=0 -f h264"

# shellcheck disable=SC2086  # $ff and x264_common are deliberately word-split
$ff -f lavfi -i testsrc=size=640x360:rate=30:duration=3 \
  $x264_common -b:v 600k "$out/clip.264"

# shellcheck disable=SC2086
$ff -f lavfi -i smptebars=size=320x240:rate=30:duration=2 \
  $x264_common -b:v 300k "$out/clip2.264"

# shellcheck disable=SC2086
$ff -f lavfi -i testsrc=size=640x360:rate=30:duration=3 \
  -c:v libx265 -pix_fmt yuv420p \
  -x265-params keyint=30:min-keyint=30:scenecut=0:open-gop=0:bframes=0:repeat-headers=1:log-level=error \
  -b:v 800k -f hevc "$out/clip.265"

# shellcheck disable=SC2086
$ff -f lavfi -i testsrc=size=320x240:rate=30:duration=3 \
  -c:v mjpeg -pix_fmt yuvj420p -huffman default -q:v 5 -f mjpeg "$out/clip.mjpeg"

tone="aevalsrc=0.5*sin(2*PI*(200+150*t)*t):s=8000:d=5"
# shellcheck disable=SC2086
$ff -f lavfi -i "$tone" -ac 1 -ar 8000 -f mulaw "$out/tone.ulaw"
# shellcheck disable=SC2086
$ff -f lavfi -i "$tone" -ac 1 -ar 8000 -f alaw "$out/tone.alaw"

ls -l "$out"/clip.264 "$out"/clip2.264 "$out"/clip.265 "$out"/clip.mjpeg \
  "$out"/tone.ulaw "$out"/tone.alaw
