"""The console test guest: a Debian kernel plus a busybox initramfs that paints known images.

The guest boots straight into a shell script (no distribution, no disk) that draws
deterministic 1024x768 test images on the VESA framebuffer and takes orders over the
serial console, so integration tests can compare what a SPICE client receives with
what the guest drew, pixel for pixel.

Serial protocol on ttyS0 (one line each way, ``\\n`` terminated):

* guest, once booted and image 0 is on screen: ``SPICEBOX-GUEST READY image=0``
* host ``show N``  -> guest draws image N, then ``SPICEBOX-GUEST SHOWN image=N``
* host ``show N`` for a missing image -> ``SPICEBOX-GUEST ERROR no image N``
* host ``input``   -> the guest starts reporting every event of its input devices (the
  PS/2 keyboard and mouse, and a USB tablet if QEMU has one, through evdev) as
  ``SPICEBOX-GUEST INPUT <eventN> <type> <code> <value low 16 bits> <value high 16
  bits>``, then ``SPICEBOX-GUEST INPUT ready``; ``SPICEBOX-GUEST INPUT device <eventN>
  <name>`` once it reads a device (devices may appear later: USB)
* host ``cursor X Y`` -> the guest loads virtio-gpu (QEMU must run virtio-vga) and sets
  a known hardware cursor at (X, Y): ``SPICEBOX-GUEST SHOWN cursor``
* host ``keyflip`` -> from now on each key press shows the other of images 0 and 1
  (``SPICEBOX-GUEST SHOWN keyflip``), for the input latency benchmark
* host ``play`` -> the guest loads its sound drivers (QEMU must have an Intel HDA
  controller and codec: AUDIO_DEVICES), says ``SPICEBOX-GUEST AUDIO playing`` and plays
  a TONE_SECONDS long TONE_HZ sine at half of full scale (S16_LE, AUDIO_RATE Hz, stereo),
  then ``SPICEBOX-GUEST AUDIO played`` (or ``SPICEBOX-GUEST ERROR <aplay's last error
  line>``)
* host ``record S`` (whole seconds, 1 to 30) -> the guest records S seconds from the HDA
  codec's input (S16_LE, AUDIO_RATE Hz, stereo) and says ``SPICEBOX-GUEST AUDIO recorded
  hz=<dominant frequency of the loudest half second> peak=<largest |sample|, 0..32767>
  seconds=<duration, 2 decimals>``; hz is 0 for silence (peak < 100); see tonefreq.c
* host ``usb`` -> the guest loads its xHCI and USB storage drivers (QEMU must have a
  qemu-xhci: USB_REDIRECT's, say), says ``SPICEBOX-GUEST USB waiting`` and waits up to
  USB_WAIT_SECONDS for a disk of a USB device (a whole disk with a non-zero size, there
  already or plugged later), then says ``SPICEBOX-GUEST USB disk <idVendor>:<idProduct>
  sha256=<SHA-256 of its first USB_HASHED_BYTES>`` (ids as sysfs has them, 4 lower-case
  hex digits each: ``46f4:0001`` for QEMU's usb-storage), or ``SPICEBOX-GUEST ERROR no USB
  disk``
* host ``usbread N`` (MiB, 1 to 1024; after ``usb`` found the disk) -> the guest reads N
  MiB of the disk that follow the hashed ones (not in its page cache) and says
  ``SPICEBOX-GUEST USB read N MiB in <ms> ms`` (uptime's 10 ms resolution), for the USB
  throughput benchmark
* host ``usbplay`` -> the guest loads its xHCI and USB audio drivers (QEMU must have a
  qemu-xhci), waits up to USB_WAIT_SECONDS for a USB sound card (QEMU's usb-audio, say,
  redirected to it), says ``SPICEBOX-GUEST AUDIO usb <idVendor>:<idProduct>`` and plays
  the tone to it as ``play`` does (``played``, or the error)
* any other non-empty line -> ``SPICEBOX-GUEST ERROR unknown command``

``play``, ``record``, ``usb`` and ``usbplay`` run in the background: the guest takes other commands
(another ``record`` while it plays, say) before they report.

Bytes the guest sends while no client is attached to the serial socket are lost, so
attach right after starting QEMU (SerialConsole retries until the socket appears).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from tests.rig.qemu import VGA_DEVICES, connect_unix

log = logging.getLogger(__name__)

WIDTH = 1024
HEIGHT = 768
BYTES_PER_PIXEL = 4
IMAGE_COUNT = 3
# Rows and columns of the box that differs between images 0 and 2.
VIDEO_BOX = (slice(256, 448), slice(384, 640))
# Bump whenever the pixels produced by render_image change: it is part of the cache key.
IMAGE_GENERATOR_VERSION = 2

# SeaBIOS' VBE list (bochs, qxl and virtio-vga all use it) has mode 0x118 as 1024x768 at
# *24* bpp; 0x144 is its 1024x768x32 mode. The kernel wants VESA numbers plus 0x200.
VESA_MODE = 0x344

KERNEL_CMDLINE = " ".join(
    (
        "console=ttyS0",
        f"vga={VESA_MODE:#x}",
        # printk would interleave with protocol lines on ttyS0 (the only console, so it
        # never reaches the framebuffer). loglevel=0 is stricter than `dmesg -n 1` could set.
        "quiet",
        "loglevel=0",
        # /init detaches fbcon from the framebuffer entirely; these keep it from drawing a
        # cursor or blanking the screen should it stay attached.
        "vt.global_cursor_default=0",
        "consoleblank=0",
    )
)

BUSYBOX = Path("/bin/busybox")
# Only the applets /init runs; ash builtins (echo, read, [, case) need no link.
APPLETS = ("sh", "mount", "cat", "stty", "sleep", "insmod", "dd", "od", "tail", "readlink",
           "sha256sum")
# Modules of the kernel package the guest loads, in this order: Debian builds evdev (the
# event devices the input report reads), the PS/2 mouse driver and USB HID (for QEMU's
# usb-tablet, an absolute pointer, on its UHCI controller) as modules; the keyboard is
# built in.
MODULES = (
    "drivers/input/evdev.ko",
    "drivers/input/mouse/psmouse.ko",
    "drivers/usb/common/usb-common.ko",
    "drivers/usb/core/usbcore.ko",
    "drivers/usb/host/uhci-hcd.ko",
    "drivers/hid/hid.ko",
    "drivers/hid/usbhid/usbhid.ko",
    "drivers/hid/hid-generic.ko",
)
# The virtio-gpu driver and what it needs, loaded (in this order) only by the `cursor`
# command: the other tests keep the VESA framebuffer they were written for.
DRM_MODULES = (
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/virtio/virtio_dma_buf.ko",
    "drivers/gpu/drm/drm.ko",
    "drivers/gpu/drm/drm_kms_helper.ko",
    "drivers/gpu/drm/drm_shmem_helper.ko",
    "drivers/gpu/drm/virtio/virtio-gpu.ko",
)
CURSOR_TOOL = Path(__file__).with_name("drmcursor.c")
# What drmcursor draws (see drmcursor.c): an opaque 32x32 gradient in the corner of a
# transparent 64x64 image, hot spot (3, 5).
CURSOR_SIDE, CURSOR_HOT = 64, (3, 5)
# ALSA's core, loaded (in this order: `modinfo -F depends`) before either sound driver.
SOUND_MODULES = (
    "sound/soundcore.ko",
    "sound/core/snd.ko",
    "sound/core/snd-timer.ko",
    "sound/core/snd-pcm.ko",
    "sound/core/snd-hwdep.ko",
)
# Loaded by the first `play` or `record`: Intel HDA and the generic codec driver, which
# takes QEMU's hda-duplex. It goes before snd-hda-intel, whose codec probe cannot modprobe
# one (the guest has no modprobe).
HDA_MODULES = (
    "sound/hda/snd-hda-core.ko",
    "sound/hda/snd-intel-sdw-acpi.ko",
    "sound/hda/snd-intel-dspcfg.ko",
    "sound/pci/hda/snd-hda-codec.ko",
    "drivers/leds/trigger/ledtrig-audio.ko",
    "sound/pci/hda/snd-hda-codec-generic.ko",
    "sound/pci/hda/snd-hda-intel.ko",
)
# The xHCI and USB mass storage drivers, loaded (in this order: `modinfo -F depends`, with
# usbcore and usb-common already in MODULES) by the first `usb`. crct10dif_generic is
# crc-t10dif's softdep (its CRC through the crypto API, else a fallback that has to ask
# for it, with no modprobe to answer). The controller comes last, so whatever it finds on
# its ports meets its drivers already there.
USB_MODULES = (
    "drivers/scsi/scsi_common.ko",
    "drivers/scsi/scsi_mod.ko",
    "lib/crc64.ko",
    "lib/crc64-rocksoft.ko",
    "crypto/crct10dif_common.ko",
    "crypto/crct10dif_generic.ko",
    "lib/crc-t10dif.ko",
    "block/t10-pi.ko",
    "drivers/scsi/sd_mod.ko",
    "drivers/usb/storage/usb-storage.ko",
    "drivers/usb/host/xhci-hcd.ko",
    "drivers/usb/host/xhci-pci.ko",
)
# USB audio, loaded by `usbplay` (before USB_MODULES' controller).
USB_SOUND_MODULES = (
    "sound/core/snd-seq-device.ko",
    "sound/core/snd-rawmidi.ko",
    "sound/usb/snd-usbmidi-lib.ko",
    "drivers/media/mc/mc.ko",
    "sound/usb/snd-usb-audio.ko",
)
# How long `usb` waits for a disk, and how much of it it hashes (dd: 16 blocks of 64 KiB).
USB_WAIT_SECONDS = 120
USB_HASHED_BYTES = 16 * 65536
# What `play` plays: a TONE_HZ sine, TONE_SECONDS long, at half of full scale, in the
# format `play` and `record` both use (signed 16-bit little-endian, AUDIO_RATE Hz, stereo).
TONE_HZ = 1000
TONE_SECONDS = 3
AUDIO_RATE = 48000
AUDIO_CHANNELS = 2
TONE_AMPLITUDE = 16384
# Analyses what `record` recorded (see tonefreq.c).
TONE_TOOL = Path(__file__).with_name("tonefreq.c")
# ALSA's player and mixer (alsa-utils), copied into the initramfs with the shared libraries
# and the loader they need. arecord is aplay (alsa-utils links it), which picks its mode
# from argv[0].
ALSA_PROGRAMS = (Path("/usr/bin/aplay"), Path("/usr/bin/amixer"))
ALSA_DATA = Path("/usr/share/alsa")
# The ALSA configuration hw: and plughw: devices need: alsa.conf defines them and loads
# cards/aliases.conf, which includes the other four (and the card's own cards/*.conf if
# there is one: only `default` would use it).
ALSA_CONFIG = ("alsa.conf", "cards/aliases.conf", "ctl/default.conf", "pcm/default.conf",
               "pcm/dmix.conf", "pcm/dsnoop.conf")
# What play and record open. hw:0,0 takes the tone as it is (QEMU's codec does 16-bit at
# 16 to 96 kHz); plughw: would also convert a format the codec lacks.
ALSA_DEVICE = "plughw:0,0"
KERNEL_METAPACKAGE = "linux-image-amd64"

READY = "SPICEBOX-GUEST READY"
INPUT = "SPICEBOX-GUEST INPUT"
SHOWN = "SPICEBOX-GUEST SHOWN"
AUDIO = "SPICEBOX-GUEST AUDIO"
USB = "SPICEBOX-GUEST USB"
ERROR = "SPICEBOX-GUEST ERROR"

# What `/init` expects to find in sysfs; anything else means the images would be drawn
# skewed, so the guest reports it instead of pretending to be ready.
_FB_GEOMETRY = f"{WIDTH},{HEIGHT} {BYTES_PER_PIXEL * 8} {WIDTH * BYTES_PER_PIXEL}"

INIT_SCRIPT = f"""#!/bin/sh
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/ttyS0 >/dev/ttyS0 2>&1
# Ctrl+Alt+Del (which the input tests send) signals init instead of resetting the
# machine, and init ignores that signal instead of dying with it.
echo 0 > /proc/sys/kernel/ctrl-alt-del
trap '' INT
for module in /modules/*.ko; do
    insmod "$module" || echo "{ERROR} cannot load $module"
done
# Echoed commands would reach the host's parser as if the guest had said them.
stty -echo
# Detach fbcon so the framebuffer changes only when we write it (no cursor, no text,
# no blanking repaint).
echo 0 > /sys/class/graphics/fbcon/cursor_blink
for vt in /sys/class/vtconsole/vtcon*; do
    case "$(cat "$vt/name")" in
        *"frame buffer"*) echo 0 > "$vt/bind" ;;
    esac
done
fb=/sys/class/graphics/fb0
geometry="$(cat $fb/virtual_size) $(cat $fb/bits_per_pixel) $(cat $fb/stride)"
if [ "$geometry" != "{_FB_GEOMETRY}" ]; then
    echo "{ERROR} framebuffer is '$geometry', images need '{_FB_GEOMETRY}'"
    # PID 1 must not exit (kernel panic); stay up so the host can read the error.
    while :; do sleep 3600; done
fi
# Holds the device open so no event is lost between reads. A read returns whole events,
# as many as are queued (up to 100 here); 24 bytes are one struct input_event.
report_events() {{
    name="${{1#/dev/input/}}"
    exec 3<"$1"
    echo "{INPUT} device $name $(cat /sys/class/input/$name/device/name)"
    while :; do
        dd bs=2400 count=1 <&3 2>/dev/null | od -An -v -tu2 -w24 |
        while read -r event; do
            set -- $event
            [ $# -eq 12 ] && echo "{INPUT} $name $9 ${{10}} ${{11}} ${{12}}"
        done
    done
}}
# Loads the sound drivers (the first time only) and waits for the codec's PCM device for
# playback (p) or capture (c): snd-hda-intel probes the controller in the background. The
# codec's amplifiers start muted at -74 dB; 100% is 0 dB, so samples pass unchanged.
# Loads the modules in /$1 (once: `play` and `usbplay` both need /sound).
loaded=" "
load_modules() {{
    case "$loaded" in *" $1 "*) return ;; esac
    loaded="$loaded$1 "
    for module in /$1/*.ko; do
        insmod "$module" || echo "{ERROR} cannot load $module"
    done
}}
sound_mixed=
sound_device() {{
    load_modules sound
    load_modules hda
    waited=0
    until [ -e "/dev/snd/pcmC0D0$1" ]; do
        if [ $waited -ge 300 ]; then
            echo "{ERROR} no sound device /dev/snd/pcmC0D0$1"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ -z "$sound_mixed" ]; then
        amixer -q -c 0 sset Master 100% unmute 2>/tmp/amixer.err &&
            amixer -q -c 0 sset Capture 100% cap 2>/tmp/amixer.err ||
            {{ report_failure amixer $?; return 1; }}
        sound_mixed=1
    fi
}}
# Reports that program $1 failed: the first line of its own it wrote to /tmp/$1.err
# ("$1: ..."), else the last line, else its exit status ($2). aplay follows its message
# with a dump of the device's state.
report_failure() {{
    error=
    while IFS= read -r line; do
        case "$line" in "$1:"*) error="$line"; break ;; esac
        error="$line"
    done < "/tmp/$1.err"
    echo "{ERROR} ${{error:-$1 failed with exit status $2}}"
}}
# Waits (up to {USB_WAIT_SECONDS} s, as uptime counts them) for a whole disk with a size
# whose device is, or is under, a USB device, and reports that device's ids and a hash of
# the disk's first {USB_HASHED_BYTES} bytes. Partitions are not in /sys/block. The disk
# may come late: a device redirected over SPICE arrives after the client connects.
usb_disk() {{
    read -r up rest < /proc/uptime
    deadline=$((${{up%.*}} + {USB_WAIT_SECONDS}))
    while :; do
        for block in /sys/block/sd*; do
            # No match leaves the pattern itself; a disk may go as we look.
            name="${{block##*/}}"
            read -r size 2>/dev/null < "$block/size" || continue
            [ "$size" != 0 ] && [ -b "/dev/$name" ] || continue
            usb="$(readlink -f "$block/device")"
            while [ -n "$usb" ] && [ ! -f "$usb/idVendor" ]; do
                usb="${{usb%/*}}"
            done
            [ -n "$usb" ] || continue
            if ! dd if="/dev/$name" of=/tmp/usb.head bs=65536 count={USB_HASHED_BYTES // 65536} \
                    2>/tmp/dd.err; then
                report_failure dd $?
                return
            fi
            sum="$(sha256sum < /tmp/usb.head)"
            read -r vendor < "$usb/idVendor"
            read -r product < "$usb/idProduct"
            echo "{USB} disk $vendor:$product sha256=${{sum%% *}}"
            return
        done
        read -r up rest < /proc/uptime
        if [ "${{up%.*}}" -ge "$deadline" ]; then
            echo "{ERROR} no USB disk"
            return
        fi
        sleep 0.5
    done
}}
# Reads $1 MiB of the first USB disk, past the bytes usb_disk hashed, and says how long.
usb_read() {{
    for block in /sys/block/sd*; do
        name="${{block##*/}}"
        [ -b "/dev/$name" ] || continue
        read -r start rest < /proc/uptime
        if ! dd if="/dev/$name" of=/dev/null bs=65536 skip={USB_HASHED_BYTES // 65536} \
                count=$(($1 * 16)) 2>/tmp/dd.err; then
            report_failure dd $?
            return
        fi
        read -r end rest < /proc/uptime
        # Hundredths of a second: uptime with its point taken out.
        hundredths=$((${{end%.*}}${{end#*.}} - ${{start%.*}}${{start#*.}}))
        echo "{USB} read $1 MiB in $((hundredths * 10)) ms"
        return
    done
    echo "{ERROR} no USB disk"
}}
# Waits (up to {USB_WAIT_SECONDS} s) for a USB sound card that can play, says which
# device it is, and plays the tone to it.
usb_play() {{
    waited=0
    while :; do
        for id in /proc/asound/card*/usbid; do
            [ -f "$id" ] || continue
            card="${{id%/usbid}}"
            card="${{card#/proc/asound/card}}"
            [ -e "/dev/snd/pcmC${{card}}D0p" ] || continue
            read -r usbid < "$id"
            echo "{AUDIO} usb $usbid"
            if aplay -q -D "plughw:$card,0" /audio/tone.wav 2>/tmp/aplay.err; then
                echo "{AUDIO} played"
            else
                report_failure aplay $?
            fi
            return
        done
        if [ $waited -ge {USB_WAIT_SECONDS * 10} ]; then
            echo "{ERROR} no USB sound card"
            return
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}}
cat /images/img0.raw > /dev/fb0
echo "{READY} image=0"
while :; do
    # read only fails if the line hangs up; back off instead of spinning.
    IFS= read -r line || {{ sleep 1; continue; }}
    case "$line" in
        "")
            # ICRNL turns a CRLF from the host into two newlines; ignore the blank one.
            ;;
        "show "*)
            n="${{line#show }}"
            case "$n" in
                "" | *[!0-9]*)
                    echo "{ERROR} unknown command"
                    ;;
                *)
                    if [ -f "/images/img$n.raw" ]; then
                        cat "/images/img$n.raw" > /dev/fb0
                        echo "{SHOWN} image=$n"
                    else
                        echo "{ERROR} no image $n"
                    fi
                    ;;
            esac
            ;;
        input)
            # A reader per device, including those that appear later (the PS/2 mouse
            # is probed in the background).
            (
                started=" "
                while :; do
                    for dev in /dev/input/event*; do
                        case "$started" in *" $dev "*) continue ;; esac
                        [ -e "$dev" ] || continue
                        started="$started$dev "
                        report_events "$dev" &
                    done
                    sleep 1
                done
            ) &
            echo "{INPUT} ready"
            ;;
        "cursor "*)
            # virtio-gpu takes the display over from VESA, then drmcursor sets the
            # hardware cursor at X Y and keeps it (it reports SHOWN or ERROR itself).
            for module in /drm/*.ko; do
                insmod "$module" || echo "{ERROR} cannot load $module"
            done
            drmcursor ${{line#cursor }} &
            ;;
        keyflip)
            # For the latency benchmark: every key press on the keyboard shows the other
            # of images 0 and 1 (event0 is the keyboard: the only device built in).
            (
                exec 3</dev/input/event0
                n=0
                while :; do
                    dd bs=24 count=1 <&3 2>/dev/null | od -An -v -tu2 -w24 | {{
                        read -r event
                        set -- $event
                        [ "$9" = 1 ] && [ "${{11}}" = 1 ]
                    }} || continue
                    n=$((1 - n))
                    cat "/images/img$n.raw" > /dev/fb0
                done
            ) &
            echo "{SHOWN} keyflip"
            ;;
        play)
            if sound_device p; then
                (
                    echo "{AUDIO} playing"
                    if aplay -q -D {ALSA_DEVICE} /audio/tone.wav 2>/tmp/aplay.err; then
                        echo "{AUDIO} played"
                    else
                        report_failure aplay $?
                    fi
                ) &
            fi
            ;;
        "record "*)
            seconds="${{line#record }}"
            case "$seconds" in
                [1-9] | [12][0-9] | 30)
                    if sound_device c; then
                        (
                            if arecord -q -D {ALSA_DEVICE} -f S16_LE -r {AUDIO_RATE} \
                                    -c {AUDIO_CHANNELS} -d "$seconds" /tmp/record.wav \
                                    2>/tmp/arecord.err; then
                                if result="$(tonefreq /tmp/record.wav 2>/tmp/tonefreq.err)"
                                then
                                    echo "{AUDIO} recorded $result"
                                else
                                    report_failure tonefreq $?
                                fi
                            else
                                report_failure arecord $?
                            fi
                        ) &
                    fi
                    ;;
                *)
                    echo "{ERROR} record takes whole seconds, 1 to 30"
                    ;;
            esac
            ;;
        usb)
            load_modules usb
            echo "{USB} waiting"
            usb_disk &
            ;;
        usbplay)
            load_modules sound
            load_modules usbsound
            load_modules usb
            usb_play &
            ;;
        "usbread "*)
            n="${{line#usbread }}"
            case "$n" in
                "" | *[!0-9]*) echo "{ERROR} usbread takes whole MiB, 1 to 1024" ;;
                *)
                    if [ "$n" -ge 1 ] && [ "$n" -le 1024 ]; then
                        usb_read "$n" &
                    else
                        echo "{ERROR} usbread takes whole MiB, 1 to 1024"
                    fi
                    ;;
            esac
            ;;
        *)
            echo "{ERROR} unknown command"
            ;;
    esac
done
"""

_KERNEL_NAME = "vmlinuz"
_INITRD_NAME = "initrd.gz"
_RECIPE_NAME = "recipe.json"


class GuestBuildError(RuntimeError):
    """The guest could not be built; the message says what to install or run."""


class GuestError(RuntimeError):
    """The guest answered with a ``SPICEBOX-GUEST ERROR`` line."""


@dataclasses.dataclass(frozen=True)
class ConsoleGuest:
    """A built guest: pass :meth:`qemu_args` to qemu-system-x86_64."""

    kernel: Path
    initrd: Path
    append: str
    # Host copies of what the guest writes to /dev/fb0 (B,G,R,X rows, no padding).
    images: tuple[Path, ...]

    def qemu_args(self) -> list[str]:
        return ["-kernel", str(self.kernel), "-initrd", str(self.initrd), "-append", self.append]

    def image_rgb(self, index: int) -> bytes:
        """Image ``index`` as packed R,G,B rows: the pixel payload of a QMP screendump PPM."""
        bgrx = np.frombuffer(self.images[index].read_bytes(), dtype=np.uint8)
        return bgrx.reshape(HEIGHT, WIDTH, BYTES_PER_PIXEL)[:, :, 2::-1].tobytes()


def default_cache_dir() -> Path:
    """$SPICEBOX_CACHE/guests, else the user's cache folder: kept between test runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("SPICEBOX_CACHE", Path(base) / "spicebox")) / "guests"


def build(cache_dir: Path) -> ConsoleGuest:
    """Build the guest into ``cache_dir`` unless an identical recipe is already there.

    Safe to call from several processes at once: each builds in its own temporary
    directory and the first to rename it into place wins.
    """
    _require_tools()
    busybox = _read_busybox()
    audio_userland = _read_audio_userland()
    tone = _wav_bytes(render_tone(), AUDIO_RATE)
    package, version = _resolve_kernel_package()
    recipe = {
        "init": INIT_SCRIPT,
        "append": KERNEL_CMDLINE,
        "applets": list(APPLETS),
        "modules": list(MODULES),
        "drm_modules": list(DRM_MODULES),
        "cursor_tool": hashlib.sha256(CURSOR_TOOL.read_bytes()).hexdigest(),
        "sound_modules": list(SOUND_MODULES),
        "hda_modules": list(HDA_MODULES),
        "usb_sound_modules": list(USB_SOUND_MODULES),
        "usb_modules": list(USB_MODULES),
        "tone_tool": hashlib.sha256(TONE_TOOL.read_bytes()).hexdigest(),
        "tone_sha256": hashlib.sha256(tone).hexdigest(),
        "audio_userland": {name: hashlib.sha256(data).hexdigest()
                           for name, (data, _mode) in audio_userland.items()},
        "image_generator": IMAGE_GENERATOR_VERSION,
        "kernel_package": f"{package}={version}",
        "busybox_sha256": hashlib.sha256(busybox).hexdigest(),
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / f"console-{key}"
    if (final / _RECIPE_NAME).is_file():
        log.info("console guest %s is cached in %s", key, final)
        return _guest_in(final)

    log.info("building console guest %s (%s %s) in %s", key, package, version, final)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    # mkdtemp's 0700 would survive the rename and hide the guest from other users' QEMU.
    work.chmod(0o755)
    try:
        deb = _download_kernel_package(package, version, cache_dir / "debs")
        modules = _extract_kernel(deb, work / _KERNEL_NAME)
        cursor_tool = _compile_static(CURSOR_TOOL, work, ["-Os"])
        # -lm: cos() for the Goertzel coefficients.
        tone_tool = _compile_static(TONE_TOOL, work, ["-O2", "-lm"])
        images = [_framebuffer_bytes(render_image(i)) for i in range(IMAGE_COUNT)]
        for index, data in enumerate(images):
            (work / _image_name(index)).write_bytes(data)
        extra = {"bin/drmcursor": (cursor_tool, 0o755), "bin/tonefreq": (tone_tool, 0o755),
                 "audio/tone.wav": (tone, 0o644), **audio_userland}
        (work / _INITRD_NAME).write_bytes(_initramfs(busybox, images, modules, extra))
        # Written last: its presence is what marks a directory as a finished build.
        (work / _RECIPE_NAME).write_text(json.dumps(recipe, indent=2, sort_keys=True))
        try:
            work.rename(final)
        except OSError:
            if not (final / _RECIPE_NAME).is_file():
                raise
            log.info("another process finished console guest %s first", key)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _guest_in(final)


def _guest_in(directory: Path) -> ConsoleGuest:
    return ConsoleGuest(
        kernel=directory / _KERNEL_NAME,
        initrd=directory / _INITRD_NAME,
        append=KERNEL_CMDLINE,
        images=tuple(directory / _image_name(i) for i in range(IMAGE_COUNT)),
    )


def _image_name(index: int) -> str:
    return f"img{index}.raw"


def _require_tools() -> None:
    for tool, package in (("apt-cache", "apt"), ("apt-get", "apt"), ("dpkg-deb", "dpkg")):
        if shutil.which(tool) is None:
            raise GuestBuildError(
                f"{tool} not found: the console guest is built from Debian packages, "
                f"run it on a Debian host with {package} installed"
            )


def _read_busybox() -> bytes:
    if not BUSYBOX.is_file():
        raise GuestBuildError(f"{BUSYBOX} not found: run `apt-get install busybox-static`")
    data = BUSYBOX.read_bytes()
    # The dynamically linked `busybox` package also installs /bin/busybox, but the
    # initramfs has no libc for it to load.
    if not _is_static_elf(data):
        raise GuestBuildError(
            f"{BUSYBOX} is not a static x86-64 binary: run `apt-get install busybox-static`"
        )
    listed = set(_run([str(BUSYBOX), "--list"]).split())
    missing = [applet for applet in APPLETS if applet not in listed]
    if missing:
        raise GuestBuildError(
            f"{BUSYBOX} lacks applets {', '.join(missing)}: run `apt-get install busybox-static`"
        )
    return data


def _is_static_elf(data: bytes) -> bool:
    elf64, x86_64, pt_interp = 2, 62, 3
    if data[:4] != b"\x7fELF" or data[4] != elf64:
        return False
    if struct.unpack_from("<H", data, 0x12)[0] != x86_64:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(
        struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp for i in range(phnum)
    )


def _run(argv: Sequence[str], cwd: Path | None = None) -> str:
    log.debug("running %s", " ".join(argv))
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        raise GuestBuildError(f"`{' '.join(argv)}` failed: {detail[0]}")
    return result.stdout


def _apt_field(package: str, field: str) -> str:
    # --no-all-versions: the candidate apt would install, not every known version.
    stanza = _run(["apt-cache", "show", "--no-all-versions", package])
    match = re.search(rf"^{field}: (.+)$", stanza, re.MULTILINE)
    if match is None:
        raise GuestBuildError(
            f"apt-cache has no {field} for {package}: run `apt-get update` and retry"
        )
    return match.group(1)


def _resolve_kernel_package() -> tuple[str, str]:
    try:
        depends = _apt_field(KERNEL_METAPACKAGE, "Depends")
    except GuestBuildError as exc:
        raise GuestBuildError(
            f"apt-cache does not know {KERNEL_METAPACKAGE}: run `apt-get update` and retry"
        ) from exc
    match = re.search(r"\b(linux-image-[0-9][^\s,]*-amd64)\b", depends)
    if match is None:
        raise GuestBuildError(
            f"cannot find the kernel package in {KERNEL_METAPACKAGE}'s Depends ({depends}): "
            "run `apt-get update` and retry"
        )
    package = match.group(1)
    return package, _apt_field(package, "Version")


def _download_kernel_package(package: str, version: str, debs: Path) -> Path:
    debs.mkdir(exist_ok=True)
    # apt-get download names the file after the version with ':' escaped as '%3a'.
    target = debs / f"{package}_{version.replace(':', '%3a')}_amd64.deb"
    if target.is_file():
        log.info("using cached %s", target.name)
        return target
    log.info("downloading %s %s", package, version)
    # A private directory so concurrent downloads never see each other's partial file.
    with tempfile.TemporaryDirectory(prefix=".download-", dir=debs) as scratch:
        _run(["apt-get", "download", f"{package}={version}"], cwd=Path(scratch))
        downloaded = list(Path(scratch).glob("*.deb"))
        if len(downloaded) != 1:
            raise GuestBuildError(
                f"apt-get download {package} left {downloaded}, expected one .deb"
            )
        downloaded[0].replace(target)
    return target


def _extract_kernel(deb: Path, dest: Path) -> dict[str, bytes]:
    """Copy /boot/vmlinuz-* out of ``deb``; return the MODULES, by file name.

    Streams dpkg-deb's data tarball and stops once it has them instead of `dpkg-deb -x`,
    which would write ~400 MB of modules the guest never loads.
    """
    log.info("extracting the kernel from %s", deb.name)
    modules: dict[str, bytes] = {}
    with subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    module = next((m for m in _ALL_MODULES
                                   if member.name.endswith(f"/kernel/{m}")), None)
                    if re.fullmatch(r"(\./)?boot/vmlinuz-.+", member.name):
                        source = tar.extractfile(member)
                        assert source is not None
                        dest.write_bytes(source.read())
                    elif module is not None:
                        source = tar.extractfile(member)
                        assert source is not None
                        modules[_module_name(module)] = source.read()
                    if dest.is_file() and len(modules) == len(_ALL_MODULES):
                        break
        except tarfile.TarError as exc:
            raise GuestBuildError(f"cannot unpack {deb}: delete it and retry") from exc
        finally:
            # Stopping early leaves dpkg-deb blocked on a pipe nobody reads.
            proc.kill()
    if not dest.is_file():
        raise GuestBuildError(f"{deb.name} has no /boot/vmlinuz-*: is it a kernel image package?")
    if len(modules) != len(_ALL_MODULES):
        raise GuestBuildError(f"{deb.name} lacks some of {', '.join(_ALL_MODULES)}")
    return modules


# Where each set goes in the initramfs (/init loads a folder's modules in name order).
_MODULE_FOLDERS = {"modules": MODULES, "drm": DRM_MODULES, "sound": SOUND_MODULES,
                   "hda": HDA_MODULES, "usbsound": USB_SOUND_MODULES, "usb": USB_MODULES}
_ALL_MODULES = tuple(module for modules in _MODULE_FOLDERS.values() for module in modules)


def _module_name(module: str) -> str:
    """Its path in the initramfs: /modules are loaded at boot, /drm by `cursor`, /sound and
    /hda by `play` and `record`, /usb by `usb`, /sound, /usbsound and /usb by `usbplay`;
    numbered in load order."""
    for folder, modules in _MODULE_FOLDERS.items():
        if module in modules:
            return f"{folder}/{modules.index(module):02d}-{Path(module).name}"
    raise ValueError(module)


def _compile_static(source: Path, work: Path, flags: Sequence[str]) -> bytes:
    """A C tool of the guest, static (the guest has no C library), with the host's gcc;
    ``flags`` go after the source (libraries must)."""
    if shutil.which("gcc") is None:
        raise GuestBuildError("gcc not found: run `apt-get install gcc` (make setup does)")
    binary = work / source.stem
    done = subprocess.run(["gcc", "-static", "-Wall", "-o", str(binary), str(source), *flags],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GuestBuildError(f"cannot build {source.name}: {done.stderr.strip()}")
    data = binary.read_bytes()
    binary.unlink()
    return data


def _read_audio_userland() -> dict[str, tuple[bytes, int]]:
    """ALSA_PROGRAMS in /bin, the shared libraries and the loader they need (at the paths
    they look for them) and ALSA's configuration: initramfs path -> (contents, mode)."""
    if shutil.which("ldd") is None:
        raise GuestBuildError("ldd not found: run `apt-get install libc-bin`")
    files: dict[str, tuple[bytes, int]] = {}
    for program in ALSA_PROGRAMS:
        if not program.is_file():
            raise GuestBuildError(f"{program} not found: run `apt-get install alsa-utils` "
                                  "(make setup does)")
        files[f"bin/{program.name}"] = (program.read_bytes(), 0o755)
        # "libasound.so.2 => /lib/x86_64-linux-gnu/libasound.so.2 (0x...)", and the loader
        # as "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no file. With no
        # ld.so.cache in the guest, the loader finds libraries in its built-in directories,
        # which /lib/x86_64-linux-gnu is. Executable: the kernel runs the loader.
        for line in _run(["ldd", str(program)]).splitlines():
            if "not found" in line:
                raise GuestBuildError(f"{program} cannot run here ({line.strip()}): run "
                                      "`apt-get install --reinstall alsa-utils`")
            match = re.search(r"(/\S+) \(0x[0-9a-f]+\)$", line.strip())
            if match is not None:
                files[match.group(1).lstrip("/")] = (Path(match.group(1)).read_bytes(), 0o755)
    for name in ALSA_CONFIG:
        conf = ALSA_DATA / name
        if not conf.is_file():
            raise GuestBuildError(f"{conf} not found: run `apt-get install libasound2-data` "
                                  "(alsa-utils depends on it)")
        files[str(conf).lstrip("/")] = (conf.read_bytes(), 0o644)
    return files


def render_tone() -> npt.NDArray[np.int16]:
    """What `play` plays, as (frames, AUDIO_CHANNELS) samples: the same TONE_HZ sine on
    every channel. A period is a whole number of samples (48 at 1000 Hz and 48 kHz), so
    one rounded period repeated gives the same samples on every host."""
    period = AUDIO_RATE // TONE_HZ
    assert period * TONE_HZ == AUDIO_RATE, "TONE_HZ must divide AUDIO_RATE"
    one = np.round(TONE_AMPLITUDE * np.sin(2 * np.pi * np.arange(period) / period))
    mono = np.tile(one.astype(np.int16), TONE_SECONDS * TONE_HZ)
    return np.repeat(mono[:, None], AUDIO_CHANNELS, axis=1)


def _wav_bytes(samples: npt.NDArray[np.int16], rate: int) -> bytes:
    """A canonical 44-byte-header PCM WAV file of (frames, channels) 16-bit samples."""
    channels = samples.shape[1]
    data = samples.astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def render_image(index: int) -> npt.NDArray[np.uint8]:
    """Test image ``index`` as a (HEIGHT, WIDTH, 3) R,G,B array; integer maths only, so
    the pixels are identical on every host and numpy version."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.int64)
    rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.int64)

    # Top quarter: eight saturated bars (exact colours a lossy codec must keep) over a
    # 256-step grey ramp.
    bars = np.array(
        [[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
         [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]],
    )  # fmt: skip
    top = y < 192
    rgb[top] = bars[x[top] * len(bars) // WIDTH]
    ramp = (y >= 192) & (y < 256)
    rgb[ramp] = (x[ramp] * 256 // WIDTH)[:, None]

    # Second quarter: a 2-D gradient with 262144 distinct colours, too many for a palette.
    grad = (y >= 256) & (y < 512)
    gx, gy = x[grad], y[grad] - 256
    rgb[grad] = np.stack([gx * 256 // WIDTH, gy, 255 - (gx + gy) % 256], axis=-1)

    # Bottom half: single-pixel detail that smoothing or chroma subsampling would destroy.
    fine = y >= 512
    fx, fy = x[fine], y[fine] - 512
    checker = (fx + fy) % 2
    zone_plate = ((fx - 768) ** 2 + (fy - 128) ** 2) // 64 % 2
    rgb[fine] = np.where(
        (fx < 256)[:, None],
        checker[:, None] * 255,
        np.where(
            (fx < 512)[:, None],
            np.stack([(fx // 2 + fy // 2) % 2 * 255, checker * 128, (fx // 2) % 256], axis=-1),
            np.stack([zone_plate * 255, (fx * 7 + fy) % 256, (1 - zone_plate) * 200], axis=-1),
        ),
    )

    if index == 1:
        # The same kinds of content on a visibly different screen (upside down, inverted)
        # plus a panel of glyph-like marks, so a stale or partial update stands out.
        rgb = 255 - rgb[::-1, ::-1]
        _draw_text_panel(rgb, x, y)
    elif index == 2:
        # Image 0 with one box inverted: alternating 0 and 2 changes only that box, which
        # is what a server's video detection looks for.
        rgb[VIDEO_BOX] = 255 - rgb[VIDEO_BOX]
    elif index != 0:
        raise ValueError(f"no test image {index}")
    return rgb.astype(np.uint8)


def _draw_text_panel(
    rgb: npt.NDArray[np.int64], x: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
) -> None:
    left, top, right, bottom = 96, 160, 928, 608
    panel = (x >= left) & (x < right) & (y >= top) & (y < bottom)
    rgb[panel] = (240, 236, 220)
    # 8x16 character cells; each glyph is a 3x5 grid of 2x2 dots picked by a hash of
    # its position, and one cell in seven is left blank as a word gap.
    px, py = x - left, y - top
    line, column = py // 16, px // 8
    dot_row, dot_col = (py % 16) // 2, (px % 8) // 2
    seed = ((line * 73856093) ^ (column * 19349663)) * 2654435761 % (1 << 32)
    seed ^= seed >> 13
    lit = (
        panel
        & (dot_row < 5)
        & (dot_col < 3)
        & (seed % 7 != 0)
        & ((seed >> (dot_row * 3 + dot_col)) % 2 == 1)
    )
    rgb[lit] = (24, 32, 96)


def _framebuffer_bytes(rgb: npt.NDArray[np.uint8]) -> bytes:
    """Pack R,G,B pixels the way vesafb lays out its 32 bpp mode: B,G,R,X."""
    bgrx = np.zeros((HEIGHT, WIDTH, BYTES_PER_PIXEL), dtype=np.uint8)
    bgrx[:, :, :3] = rgb[:, :, ::-1]
    return bgrx.tobytes()


class _Cpio:
    """Writer for the "newc" cpio format, the only one the kernel unpacks."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._inode = 0

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        self._inode += 1
        encoded = name.encode() + b"\0"
        # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
        # namesize check; mtime 0 keeps the archive reproducible.
        fields = (self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(encoded), 0)
        self._out += b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
        self._pad()
        self._out += data
        self._pad()

    def _pad(self) -> None:
        self._out += b"\0" * (-len(self._out) % 4)

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return bytes(self._out)


def _initramfs(busybox: bytes, images: Iterable[bytes], modules: dict[str, bytes],
               files: dict[str, tuple[bytes, int]]) -> bytes:
    """``files``: more files, by path, with their mode (the C tools, aplay and its libraries,
    the tone); their directories are made as needed."""
    cpio = _Cpio()
    directories = {"bin", "dev", "proc", "sys", "images", "tmp", *_MODULE_FOLDERS}
    for name in files:
        directories.update(str(parent) for parent in Path(name).parents if parent.name)
    # Sorted, so each directory comes after its parent.
    for directory in sorted(directories):
        cpio.directory(directory)
    for name, data in sorted(modules.items()):
        cpio.file(name, data)
    for name, (data, mode) in sorted(files.items()):
        cpio.file(name, data, mode)
    # aplay records when it is called arecord.
    cpio.symlink("bin/arecord", "aplay")
    # The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", busybox, 0o755)
    for applet in APPLETS:
        cpio.symlink(f"bin/{applet}", "busybox")
    cpio.file("init", INIT_SCRIPT.encode(), 0o755)
    for index, data in enumerate(images):
        cpio.file(f"images/{_image_name(index)}", data)
    # mtime=0: identical recipes give byte-identical initrds.
    return gzip.compress(cpio.finish(), compresslevel=6, mtime=0)


class SerialConsole:
    """Line-oriented client for the guest's serial console on a QEMU unix socket.

    Every call is bounded by a timeout so a wedged guest fails a test instead of hanging it.
    """

    def __init__(self, path: Path | str, connect_timeout: float = 10.0) -> None:
        self._buffer = b""
        self._lines: list[str] = []
        self._sock = connect_unix(Path(path), connect_timeout)

    def __enter__(self) -> SerialConsole:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    @property
    def transcript(self) -> list[str]:
        """Every complete line received so far, for diagnosing a failed wait."""
        return list(self._lines)

    def send(self, command: str, timeout: float = 5.0) -> None:
        if "\n" in command or "\r" in command:
            raise ValueError(f"command must be a single line: {command!r}")
        self._sock.settimeout(timeout)
        self._sock.sendall(command.encode() + b"\n")

    def wait_for(self, line_prefix: str, timeout: float) -> str:
        """Return the next line starting with ``line_prefix``, skipping anything else.

        Raises GuestError if the guest reports an error first (unless ``line_prefix``
        matches that error line), TimeoutError if nothing matches within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                # The guest tty turns \n into \r\n; kernel output may not be UTF-8.
                line = raw.decode(errors="replace").strip("\r")
                self._lines.append(line)
                if line.startswith(line_prefix):
                    return line
                if line.startswith(ERROR):
                    raise GuestError(line)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = " | ".join(self._lines[-5:])
                raise TimeoutError(
                    f"no {line_prefix!r} line from the guest within {timeout}s; last: {recent}"
                )
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                raise ConnectionError(f"serial console closed while waiting for {line_prefix!r}")
            self._buffer += chunk


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.guests.console",
        description="Build (and boot) the console test guest.",
    )
    parser.add_argument("--cache", type=Path, required=True, help="build/cache directory")
    parser.add_argument(
        "--boot", action="store_true", help="boot it under QEMU, serial on stdio (Ctrl-A X quits)"
    )
    parser.add_argument("--vga", choices=sorted(VGA_DEVICES), default="std")
    parser.add_argument("qemu_extra", nargs="*", help="more QEMU arguments, after --")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        guest = build(args.cache)
    except GuestBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"kernel: {guest.kernel}")
    print(f"initrd: {guest.initrd}")
    print(f"append: {guest.append}")
    for index, image in enumerate(guest.images):
        print(f"image {index}: {image}")
    if not args.boot:
        return 0
    qemu = [
        "qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nic", "none",
        "-display", "none", *VGA_DEVICES[args.vga], "-serial", "mon:stdio",
        *guest.qemu_args(), *args.qemu_extra,
    ]  # fmt: skip
    log.info("%s", " ".join(qemu))
    # exec skips Python's exit-time flush; the paths above would be lost on a pipe.
    sys.stdout.flush()
    os.execvp(qemu[0], qemu)


if __name__ == "__main__":
    sys.exit(_main())
