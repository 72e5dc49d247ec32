#!/bin/sh
# Regenerates the bundled test clips in examples/assets/ with ffmpeg (libx264).
#   clip.264   640x360, 30 fps, 3 s (90 frames), GOP 30, no B-frames, testsrc
#   clip2.264  320x240, 30 fps, 2 s (60 frames), GOP 30, no B-frames, smptebars
# Fixed GOP and no scene-cut keyframes so tests know where the IDR frames are.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/examples/assets"
mkdir -p "$out"

x264_common="-c:v libx264 -profile:v main -pix_fmt yuv420p -bf 0 \
  -x264-params keyint=30:min-keyint=30:scenecut=0 -f h264"

# shellcheck disable=SC2086  # x264_common is deliberately word-split
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i testsrc=size=640x360:rate=30:duration=3 \
  $x264_common -b:v 600k "$out/clip.264"

# shellcheck disable=SC2086
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i smptebars=size=320x240:rate=30:duration=2 \
  $x264_common -b:v 300k "$out/clip2.264"

ls -l "$out"/clip.264 "$out"/clip2.264
