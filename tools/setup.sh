#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need on a fresh Debian 12 machine:
# Debian packages (as root, or through sudo) and a virtualenv with the Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  qemu-system-x86     # the reference SPICE server (QEMU 7.2 + spice-server 0.15)
  busybox-static      # the console test guest's userland
  alsa-utils          # the console guest's aplay/arecord (and amixer), copied into it
  python3-venv python3-dev gcc
  libc6-dev           # headers and the static libc: python-evdev, and the console guest's
                      # drmcursor and tonefreq (gcc -static); only a Recommends of gcc
  linux-libc-dev      # input.h, which python-evdev is built against
  ca-certificates
  liblz4-1            # the LZ4 image decoder (ctypes, see codecs/lz4.py)
  libopus0            # Opus sound (ctypes, see audio/opus.py)
  libturbojpeg0       # JPEG images and MJPEG video (ctypes, see codecs/jpeg.py)
  libusb-1.0-0        # pyusb's backend: local USB devices for redirection
  libasound2-dev      # ALSA's headers: pyalsaaudio is built from source (PyPI has no wheels)
  xvfb                # an X server for testing the x11 presenter
  xclip               # the x11 window's clipboard images (display/x11clipboard.py)
  tinyproxy           # a real HTTP CONNECT proxy for the proxy tests
  nginx-light         # a real web server for the provisioning site's tests
  dnsmasq-base        # a real DNS server for finding that site by its SRV record
  fonts-dejavu-core   # the setup UI's font (its screenshots are compared with docs/setup)
  libxkbcommon0 xkb-data  # keyboard layouts for typing in the setup UI
  dbus-daemon python3-dbusmock  # a private system bus with mock NetworkManager, logind,
                      # timedated and hostnamed for the Network and System pages' tests
  # The desktop test guest (tests/guests/desktop.py): a Debian root filesystem made with
  # mmdebstrap (root mode mounts /proc and /sys in it with mount(8); gpg lets it check the
  # mirror's signatures), packed into an ext4 image with mkfs.ext4 -d, without loop mounts.
  mmdebstrap mount gpg e2fsprogs
  zstd                # firmware update bundles (spicebox update install)
  dosfstools mtools fdisk  # the image builder, which the default suite runs once
  syslinux            # BIOS boot for x86 images (installed into the FAT with mtools)
  syslinux-common     # its MBR code and modules: only a Recommends of syslinux
  iproute2            # ip: addresses in the network namespace of the network-watch test
)
# `make bench` (tools/setup.sh --bench) also measures remote-viewer, the reference client.
# gstreamer1.0-plugins-base: the elements of spice-gtk's sound pipeline (bench/audio.py).
[ "${1:-}" != "--bench" ] || APT_PACKAGES+=(virt-viewer gstreamer1.0-plugins-base)
# `make image` (tools/setup.sh --image): what building arm64 images needs beyond the
# default (qemu-user-static runs arm64 programs in an arm64 root, arch-test lets mmdebstrap
# check that it can), QEMU and UEFI firmware for booting the images, and ssh for logging
# into a provisioned one.
[ "${1:-}" != "--image" ] || APT_PACKAGES+=(ovmf qemu-user-static arch-test qemu-system-arm
                                           qemu-efi-aarch64 openssh-client)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The console guest fetches Debian's kernel package with apt-get download, which needs lists.
if [ ${#missing[@]} -gt 0 ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]:-(refreshing package lists)}"
  $SUDO apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's own interpreter, the one the firmware runs (3.11.2, built with PGO and LTO).
# A python3 found first on PATH may be another build: pyenv's default decodes messages
# a quarter slower, and 3.11.4 and later hide except* behaviour devices have.
PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
touch .venv/.installed
