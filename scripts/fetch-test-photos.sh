#!/usr/bin/env bash
# Fetches the real test photographs from Debian's python3-skimage package into
# test/fixtures/photos (git-ignored) and checks each file's sha256. Photos are
# never committed and never downloaded at test time: this runs once, before.
set -euo pipefail

PKG_VERSION="0.19.3-8"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${LOOKOUT_PHOTOS_DIR:-$ROOT/test/fixtures/photos}"
SRC_DIR="usr/lib/python3/dist-packages/skimage/data"

# file  sha256 (from ../shared/DESIGN.md)
read -r -d '' EXPECTED <<'SUMS' || true
88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5  astronaut.png
b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a  camera.png
cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7  coffee.png
596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb  chelsea.png
c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c  rocket.jpg
db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179  motorcycle_left.png
SUMS

mkdir -p "$DEST"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if (cd "$DEST" && echo "$EXPECTED" | sha256sum --check --quiet --status 2>/dev/null); then
  echo "test photos: present and verified in $DEST"
else
  cd "$WORK"
  if ! apt-get download "python3-skimage=$PKG_VERSION" >/dev/null 2>&1; then
    echo "test photos: apt-get download failed, refreshing package lists" >&2
    apt-get update -qq >/dev/null
    apt-get download "python3-skimage=$PKG_VERSION" >/dev/null
  fi
  deb="$(ls python3-skimage_*.deb)"
  mkdir extract
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C extract \
    $(echo "$EXPECTED" | awk -v d="./$SRC_DIR" '{print d "/" $2}')
  for f in $(echo "$EXPECTED" | awk '{print $2}'); do
    cp "extract/$SRC_DIR/$f" "$DEST/$f"
  done
  (cd "$DEST" && echo "$EXPECTED" | sha256sum --check --quiet)
  echo "test photos: extracted and verified into $DEST"
fi

# General-object photos from Debian's darknet package (for YOLO tests).
DARKNET_VERSION="0.0.0+git20180914.61c9d02e-2+b4"
DARKNET_DIR="$DEST/darknet"
read -r -d '' DARKNET_SUMS <<'SUMS' || true
5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866  dog.jpg
cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1  person.jpg
87410f52f79cc256c3949b48a3548632c07c8e9943468ef8caa6250f6643be8e  kite.jpg
c8f0a677a1356569e2ce71d2fa88c1030c0ae57ecf5e14170e02d9a86a20dcb4  horses.jpg
SUMS
mkdir -p "$DARKNET_DIR"
if (cd "$DARKNET_DIR" && echo "$DARKNET_SUMS" | sha256sum --check --quiet --status 2>/dev/null); then
  echo "darknet photos: present and verified in $DARKNET_DIR"
  exit 0
fi
WORK2="$(mktemp -d)"
trap 'rm -rf "$WORK" "$WORK2"' EXIT
cd "$WORK2"
apt-get download "darknet=$DARKNET_VERSION" >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get download "darknet=$DARKNET_VERSION" >/dev/null; }
mkdir extract
dpkg-deb --fsys-tarfile darknet_*.deb | tar -x -C extract $(echo "$DARKNET_SUMS" | awk '{print "./usr/share/darknet/data/" $2}')
for f in $(echo "$DARKNET_SUMS" | awk '{print $2}'); do cp "extract/usr/share/darknet/data/$f" "$DARKNET_DIR/$f"; done
(cd "$DARKNET_DIR" && echo "$DARKNET_SUMS" | sha256sum --check --quiet)
echo "darknet photos: extracted and verified into $DARKNET_DIR"
