"""The desktop test guest: Debian with Xorg's QXL driver and a scripted X client.

The console guest draws on a dumb framebuffer, so the server only ever sends images of
what changed. Xorg's own QXL driver (``xserver-xorg-video-qxl``) instead hands
spice-server the X drawing operations themselves: solid fills, copies from off-screen
surfaces (X pixmaps live in QXL surfaces of their own), ``COPY_BITS`` when a window
scrolls, and a video stream when one box keeps changing quickly. That op set is what
this guest exists for. It also carries ``spice-vdagent`` for agent tests.

How it is made (all from Debian packages, cached under ``console.default_cache_dir()``):

1. a root filesystem tree from ``mmdebstrap --variant=essential`` plus a short include
   list, no recommends, kernel modules other than the few it loads pruned at unpack time,
   and a ``tiny-initramfs`` initrd (one static binary, no udev) that loads virtio-blk and
   ext4. Keyed by the package list and the candidate versions apt knows; ~1 minute.
2. the guest: that tree plus the scripts below, packed with ``mkfs.ext4 -d`` (no loop
   mount), and the kernel and initrd taken out of it, the kernel unpacked so QEMU boots
   it through its PVH entry (six seconds less of TCG decompressing XZ). Keyed by
   everything, so editing a script rebuilds in ~10 seconds, not minutes.

QEMU opens the image with ``snapshot=on``: the guest may write (X needs /var/lib/xkb and
friends), the cached file never changes and any number of QEMUs can share it.

The kernel runs ``/sbin/spicebox-desktop`` as PID 1 instead of an init system: it mounts
the API filesystems, starts Xorg on the QXL device (user-mode setting: the qxl kernel
module is never loaded, because xf86-video-qxl puts no pixmaps in QXL surfaces under KMS)
and then the scene program, which owns the serial console.

Serial protocol on ttyS0 (one line each way, ``\\n`` terminated, same prefix and
ERROR line as the console guest so ``console.SerialConsole`` serves both):

* guest, once scene 0 is on screen: ``SPICEBOX-GUEST READY desktop uptime: ...`` (when
  the scene program started, connected to X and was ready, in seconds since boot)
* host ``scene 0``         -> redraw the first scene (and rewind the text panel)
* host ``text N``          -> write N more lines into the text panel, scrolling it (a
  copy within the window: COPY_BITS) once it is full, like a terminal
* host ``scroll N``        -> scroll the panel up by N lines and clear the freed lines
* host ``animate start``   -> keep redrawing the video box at ~20 fps (a new bitmap each
  frame, which spice-server turns into an MJPEG stream with ``streaming-video=all``)
* host ``animate stop``    -> stop after the current frame; the box keeps that frame
* host ``render``          -> translucent RENDER drawing over the tiles and colour bars
* host ``xlog``            -> X's log as ``SPICEBOX-GUEST LOG`` lines, for diagnosis
* host ``agentlog``        -> spice-vdagent's debug log, the same way
* host ``agent``           -> ``DONE agent port=yes|no running=<agent processes>``
* host ``heads 2``         -> (booted with ``qemu_args(heads=2)`` and ``qxl-vga`` with
  ``max_outputs=2``) grow the X screen to 2048x768 and switch the second output on to its
  right through RandR, draw a distinct scene on it and redraw scene 0 on the first
* host ``copy TEXT``       -> own X's CLIPBOARD with TEXT (the agent offers it to the client)
* host ``paste``           -> ``DONE paste TEXT``: CLIPBOARD's text, ``NONE`` if none came
* host ``copy-image B64``  -> own CLIPBOARD with the PNG image whose base64 is B64
* host ``paste-image``     -> ``DONE paste-image B64``: CLIPBOARD's image/png in base64,
  ``NONE`` if none came
* host ``mode WxH``        -> switch the output to one of the QXL driver's modes (such as
  1920x1080); the scene stays in the top-left 1024x768
* host ``ping``
* each of those, once X has executed it (XSync): ``SPICEBOX-GUEST DONE <command>``
  (``animate stop`` adds `` frames=N``)
* anything else, or a failure: ``SPICEBOX-GUEST ERROR <why>`` (the scene program also
  prints the tail of the X log as ``SPICEBOX-GUEST LOG`` lines if X never came up)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.guests import console
from tests.guests.console import GuestBuildError
from tests.rig.qemu import VGA_DEVICES

log = logging.getLogger(__name__)

WIDTH = 1024
HEIGHT = 768
SUITE = "bookworm"

READY = f"{console.READY} desktop"
DONE = "SPICEBOX-GUEST DONE"


def command(serial: console.SerialConsole, line: str, timeout: float = 30.0) -> str:
    """Send the scene program ``line``; return its DONE line once X has drawn it."""
    serial.send(line)
    return serial.wait_for(f"{DONE} {line}", timeout)


def agent_log(serial: console.SerialConsole) -> str:
    """spice-vdagent's recent debug log, to explain a clipboard that never arrived."""
    before = len(serial.transcript)
    command(serial, "agentlog")
    return "\n".join(serial.transcript[before:])


ERROR = console.ERROR

# What the guest is made of. Dependencies come along, recommends do not.
PACKAGES = (
    "linux-image-amd64",  # the kernel; modules trimmed by _DPKG_FILTERS
    "tiny-initramfs",  # replaces initramfs-tools: a 35 KB static init, no udev, no shell
    "mount",  # the init script's mounts (util-linux's mount is not Essential)
    "kmod",  # modprobe virtio_console for the agent's port
    "xserver-xorg-core",
    "xserver-xorg-video-qxl",  # the point of this guest: QXL draw commands from X
    "spice-vdagent",
    "python3-xlib",  # the scene program: plain X11 protocol, no toolkit
)
# The versions apt would install now; a change rebuilds the tree. (mmdebstrap fetches
# fresh lists itself, so these only decide when to rebuild.)
_VERSIONED = tuple(p for p in PACKAGES if p != "linux-image-amd64")

# The kernel modules the guest loads, for the initrd. ext4 needs crc32c through the
# crypto API, which modprobe's dependency list does not show.
INITRD_MODULES = ("virtio_blk", "ext4", "crc32c_generic")
# Kernel modules are 400 MB of the tree; keep only those the guest can load (the initrd's
# and their dependencies, virtio_console and uinput for the agent). LLVM, Z3 and the Mesa
# DRI drivers (160 MB) only serve GLX, which the X config disables: never loaded under
# TCG, where loading LLVM alone would take seconds. Docs, man pages and translations go too.
_KEPT_MODULES = (
    "fs/ext4/*", "fs/jbd2/*", "fs/mbcache.ko", "lib/*", "crypto/crc32c_generic.ko",
    "drivers/virtio/*", "drivers/block/virtio_blk.ko", "drivers/char/virtio_console.ko",
    "drivers/input/misc/uinput.ko",
)  # fmt: skip
_DPKG_FILTERS = (
    "path-exclude=/usr/share/doc/*",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM*",
    "path-exclude=/usr/lib/x86_64-linux-gnu/libz3*",
    "path-exclude=/usr/lib/x86_64-linux-gnu/dri/*",
    "path-exclude=/lib/modules/*/kernel/*",
    *(f"path-include=/lib/modules/*/kernel/{pattern}" for pattern in _KEPT_MODULES),
)
# Run by mmdebstrap in the finished tree: the kernel's own postinst made an initrd
# without modules (tiny-initramfs guesses them from the host's mounts, which are not the
# guest's); make it again with the ones the guest needs.
_INITRD_HOOK = (
    'for v in "$1"/lib/modules/*; do v=${v##*/}; '
    'chroot "$1" mktirfs -m no -M no '
    f'--include-modules={",".join(INITRD_MODULES)} -o /boot/initrd.img-$v $v; done'
)

INIT_PATH = "/sbin/spicebox-desktop"
SCENE_PATH = "/usr/local/lib/spicebox/scene.py"
XORG_CONF_PATH = "/etc/X11/xorg.conf"
# The same with two QXL heads, chosen by ``spicebox.heads=2`` on the kernel command line
# (see DesktopGuest.qemu_args): one image serves both.
XORG_CONF_2HEADS_PATH = "/etc/X11/xorg-2heads.conf"
HEADS_PARAMETER = "spicebox.heads=2"  # dotted: the kernel leaves it to a "module", not init

KERNEL_CMDLINE = " ".join(
    (
        "root=/dev/vda",
        "rootfstype=ext4",
        # Writable for X's scratch files; QEMU's snapshot=on keeps the image unchanged.
        "rw",
        f"init={INIT_PATH}",
        "console=ttyS0",
        # The serial line carries the protocol; kernel messages would interleave with it.
        "quiet",
        "loglevel=0",
        # The text console X leaves behind must not blank or redraw under it.
        "consoleblank=0",
        "vt.global_cursor_default=0",
        # Under TCG every mitigation costs emulated instructions for nothing.
        "mitigations=off",
    )
)

INIT_SCRIPT = f"""#!/bin/sh
# PID 1 of the spicebox desktop guest (see tests/guests/desktop.py): no init system,
# no services, just what the scene needs. PID 1 must never exit (kernel panic).
# Under TCG every fork+exec costs ~0.1 s: keep them few and start X as early as possible.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PYTHONHASHSEED=0 \\
    PYTHONDONTWRITEBYTECODE=1
mount -t proc proc /proc
read -r SPICEBOX_INIT_UPTIME _ </proc/uptime
export SPICEBOX_INIT_UPTIME
mount -t sysfs sysfs /sys
# tiny-initramfs leaves /dev alone; /tmp and /run stay on the (writable) root.
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/ttyS0 >/dev/ttyS0 2>&1
read -r cmdline </proc/cmdline
xorg_conf={XORG_CONF_PATH}
case " $cmdline " in *" {HEADS_PARAMETER} "*) xorg_conf={XORG_CONF_2HEADS_PATH} ;; esac
# Echoed commands would reach the host's parser as if the guest had said them.
stty -echo
Xorg :0 vt1 -config "$xorg_conf" -logfile /tmp/Xorg.0.log -nolisten tcp -noreset \\
    -s 0 -dpms -nocursor >/tmp/Xorg.out 2>&1 &
# The agent, if QEMU has a virtio-serial device (read with builtins: no forks without).
for dev in /sys/bus/pci/devices/*; do
    read -r vendor <"$dev/vendor"; read -r device <"$dev/device"
    case "$vendor:$device" in 0x1af4:0x1003 | 0x1af4:0x1043) ;; *) continue ;; esac
    modprobe virtio_console
    modprobe uinput
    for port in /sys/class/virtio-ports/*; do
        read -r name <"$port/name" || continue
        [ "$name" = com.redhat.spice.0 ] || continue
        # udev would make this link and systemd-tmpfiles the socket's directory; neither
        # runs here.
        mkdir -p /dev/virtio-ports /run/spice-vdagentd
        ln -sf "/dev/${{port##*/}}" /dev/virtio-ports/com.redhat.spice.0
        # In the foreground (-x): it then logs to stderr, not to a syslog nobody runs.
        spice-vdagentd -X -x >/tmp/spice-vdagentd.log 2>&1 &
    done
done
python3 {SCENE_PATH}
echo "{ERROR} the scene program exited with status $?"
while :; do sleep 3600; done
"""

_XORG_CONF_TEMPLATE = """\
# The spicebox desktop guest's X server: the QXL driver at 1024x768x24 on its first head,
# no input devices (none exist without udev), nothing that would change the screen by
# itself. With NumHeads 2 the second output starts disconnected; the scene program
# switches it on through RandR.
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoAddGPU" "false"
    Option "DontVTSwitch" "true"
    Option "BlankTime" "0"
    Option "StandbyTime" "0"
    Option "SuspendTime" "0"
    Option "OffTime" "0"
EndSection

Section "Module"
    # GLX would load Mesa's software renderer (and LLVM): seconds under TCG, never used.
    Disable "glx"
EndSection

Section "Device"
    Identifier "qxl"
    Driver "qxl"
    # Debian's build reads every unset option of this driver as 0: no heads (X then
    # crashes in xf86InitViewport) and no off-screen surfaces, the feature wanted here.
    Option "NumHeads" "{heads}"
    Option "EnableSurfaces" "true"
    Option "EnableImageCache" "true"
    Option "EnableFallbackCache" "true"
EndSection

Section "Monitor"
    Identifier "monitor"
EndSection

Section "Screen"
    Identifier "screen"
    Device "qxl"
    Monitor "monitor"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
    EndSubSection
EndSection
"""
XORG_CONF = _XORG_CONF_TEMPLATE.format(heads=1)
XORG_CONF_2HEADS = _XORG_CONF_TEMPLATE.format(heads=2)

# The X client. It runs in the guest under Debian's python3 with python3-xlib (not on
# the host, hence a string, compiled at build time to catch syntax errors early). Every
# pixel it draws is a function of the commands it was given, so the only reference the
# tests need is QEMU's screendump.
SCENE_SCRIPT = r'''#!/usr/bin/python3
"""The spicebox desktop guest's scene: draws with X11 core requests, obeys ttyS0.

Each kind of drawing is there for the QXL command the driver turns it into: fills
(DRAW_FILL), pixmaps in off-screen surfaces copied to the window (SURFACE_CREATE and
DRAW_COPY from a surface), images (DRAW_COPY of a bitmap), scrolling (COPY_BITS), core
text (drawn by X in software, sent as images), fast-changing images (a video stream)
and RENDER compositing (DRAW_COMPOSITE from ARGB and A8 surfaces, when the SPICE client
announced COMPOSITE; drawn by X in software otherwise).
"""

import base64
import os
import select
import sys
import time

from Xlib import X, Xatom, display, error, ext
from Xlib.protocol import event as Xevent
from Xlib.protocol import rq, structs

# python-xlib would query and import a binding for each of a dozen extensions it knows
# (none used here): seconds under TCG.
ext.__extensions__ = []

WIDTH, HEIGHT = 1024, 768
TAG = "SPICEBOX-GUEST"
AGENT_PORT = "/dev/virtio-ports/com.redhat.spice.0"
PANEL = (32, 80, 640, 656)  # the text panel: x, y, width, height
LINE = 16  # text line pitch; X's built-in "fixed" font is 6x13
ROWS = PANEL[3] // LINE
VIDEO = (704, 80, 256, 192)  # the animation box
TILE = 64  # side of the off-screen pixmap copied around
TILES = (704, 304, 4, 6)  # x, y, columns, rows of pixmap copies
FPS = 20
WORDS = ("spice", "qxl", "surface", "fill", "copy", "scroll", "stream", "glyph",
         "pixmap", "canvas", "client", "server", "guest", "draw", "frame", "image")
PALETTE = ((0x18, 0x20, 0x60), (0x80, 0x10, 0x10), (0x10, 0x60, 0x20), (0x50, 0x10, 0x70),
           (0x00, 0x00, 0x00), (0x70, 0x50, 0x00))


def say(text):
    os.write(1, f"{TAG} {text}\n".encode())


def rgb(r, g, b):
    return r << 16 | g << 8 | b


def connect(deadline):
    """The X display, once Xorg accepts connections (it starts alongside us)."""
    while True:
        try:
            return display.Display(os.environ.get("DISPLAY", ":0"))
        except (error.DisplayError, OSError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def x_log(count):
    """The last ``count`` lines of X's log, minus its list of a hundred video modes."""
    try:
        with open("/tmp/Xorg.0.log", errors="replace") as f:
            lines = [line for line in f.read().splitlines() if ", orientation " not in line]
    except OSError as exc:
        lines = [f"no X log: {exc}"]
    for line in lines[-count:]:
        say(f"LOG {line}")


def vdagent_log(count):
    """The last ``count`` lines of spice-vdagent's (debug) log."""
    try:
        with open("/tmp/spice-vdagent.log", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        lines = [f"no agent log: {exc}"]
    for line in lines[-count:]:
        say(f"LOG {line}")


# RENDER requests (python-xlib has no binding for the extension). Only the few the
# "render" command uses; layouts from the X Rendering Extension protocol.
PICT_OP_SRC, PICT_OP_OVER = 1, 3
_PICTFORMINFO = rq.Struct(
    rq.Card32("id"), rq.Card8("type"), rq.Card8("depth"), rq.Pad(2),
    rq.Card16("red_shift"), rq.Card16("red_mask"), rq.Card16("green_shift"),
    rq.Card16("green_mask"), rq.Card16("blue_shift"), rq.Card16("blue_mask"),
    rq.Card16("alpha_shift"), rq.Card16("alpha_mask"), rq.Card32("colormap"))


class QueryPictFormats(rq.ReplyRequest):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(1), rq.RequestLength())
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Pad(1), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.LengthOf("formats", 4), rq.Card32("num_screens"), rq.Card32("num_depths"),
        rq.Card32("num_visuals"), rq.Card32("num_subpixel"), rq.Pad(4),
        rq.List("formats", _PICTFORMINFO))


class CreatePicture(rq.Request):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(4), rq.RequestLength(), rq.Card32("pid"),
        rq.Drawable("drawable"), rq.Card32("format"), rq.Card32("value_mask"),
        rq.List("values", rq.Card32Obj))


class FreePicture(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(7), rq.RequestLength(),
                         rq.Card32("picture"))


class Composite(rq.Request):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(8), rq.RequestLength(), rq.Card8("op"), rq.Pad(3),
        rq.Card32("src"), rq.Card32("mask"), rq.Card32("dst"),
        rq.Int16("src_x"), rq.Int16("src_y"), rq.Int16("mask_x"), rq.Int16("mask_y"),
        rq.Int16("dst_x"), rq.Int16("dst_y"), rq.Card16("width"), rq.Card16("height"))


class FillRectangles(rq.Request):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(26), rq.RequestLength(), rq.Card8("op"), rq.Pad(3),
        rq.Card32("dst"), rq.Card16("red"), rq.Card16("green"), rq.Card16("blue"),
        rq.Card16("alpha"), rq.List("rects", structs.Rectangle))


class Render:
    """The RENDER calls, bound to one display."""

    def __init__(self, d):
        self.d = d.display
        self.opcode = d.query_extension("RENDER").major_opcode
        formats = QueryPictFormats(display=self.d, opcode=self.opcode).formats
        direct = {(f.depth, f.alpha_mask, f.red_shift): f.id for f in formats if f.type == 1}
        self.argb32 = direct[32, 0xFF, 16]
        self.rgb24 = direct[24, 0, 16]
        self.a8 = direct[8, 0xFF, 0]

    def picture(self, drawable, fmt):
        pid = self.d.allocate_resource_id()
        CreatePicture(display=self.d, opcode=self.opcode, pid=pid, drawable=drawable,
                      format=fmt, value_mask=0, values=[])
        return pid

    def free(self, picture):
        FreePicture(display=self.d, opcode=self.opcode, picture=picture)

    def fill(self, op, dst, rgba, *rects):
        """``rgba``: 8-bit premultiplied components, widened to RENDER's 16 bits."""
        red, green, blue, alpha = (c * 257 for c in rgba)
        FillRectangles(display=self.d, opcode=self.opcode, op=op, dst=dst, red=red,
                       green=green, blue=blue, alpha=alpha,
                       rects=[dict(x=x, y=y, width=w, height=h) for x, y, w, h in rects])

    def composite(self, op, src, mask, dst, dst_x, dst_y, width, height):
        Composite(display=self.d, opcode=self.opcode, op=op, src=src, mask=mask, dst=dst,
                  src_x=0, src_y=0, mask_x=0, mask_y=0, dst_x=dst_x, dst_y=dst_y,
                  width=width, height=height)


class Scene:
    def __init__(self, d):
        self.d = d
        screen = d.screen()
        visual = [v for depth in screen.allowed_depths if depth.depth == screen.root_depth
                  for v in depth.visuals if v.visual_id == screen.root_visual][0]
        if (screen.root_depth, visual.red_mask, visual.green_mask, visual.blue_mask) != \
                (24, 0xFF0000, 0x00FF00, 0x0000FF):
            raise RuntimeError(f"X screen is not 24-bit RGB (depth {screen.root_depth})")
        if (screen.width_in_pixels, screen.height_in_pixels) != (WIDTH, HEIGHT):
            raise RuntimeError(f"X screen is {screen.width_in_pixels}x"
                               f"{screen.height_in_pixels}, not {WIDTH}x{HEIGHT}")
        # Override-redirect: there is no window manager, and nothing may move it.
        self.win = screen.root.create_window(
            0, 0, WIDTH, HEIGHT, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=0, override_redirect=True, event_mask=X.ExposureMask)
        font = d.open_font("fixed")
        self.gc = self.win.create_gc(font=font, graphics_exposures=False,
                                     foreground=0, background=0)
        self.tile = self.win.create_pixmap(TILE, TILE, screen.root_depth)
        self.rows = None
        self.frame = 0
        self.win.map()
        # Draw once the window is really on screen, or the first drawing is lost.
        while self.d.next_event().type != X.Expose:
            pass

    def fill(self, drawable, color, x, y, w, h):
        self.gc.change(foreground=rgb(*color))
        drawable.fill_rectangle(self.gc, x, y, w, h)

    def text(self, x, y, string, fg, bg):
        self.gc.change(foreground=rgb(*fg), background=rgb(*bg))
        self.win.image_text(self.gc, x, y, string)

    def scene0(self):
        self.fill(self.win, (32, 40, 64), 0, 0, WIDTH, HEIGHT)
        self.fill(self.win, (200, 200, 210), 0, 0, WIDTH, 48)
        self.text(16, 30, "spicebox desktop guest - scene 0 - xf86-video-qxl",
                  (0, 0, 0), (200, 200, 210))
        bars = ((255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
                (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0))
        for i, color in enumerate(bars):
            self.fill(self.win, color, 32 + i * 80, 56, 80, 16)
        # The tile: fills and an image drawn into an off-screen pixmap, then copied.
        self.fill(self.tile, (240, 240, 240), 0, 0, TILE, TILE)
        ramp = bytearray()
        for y in range(TILE // 2):
            for x in range(TILE // 2):
                ramp += bytes((x * 8, y * 8, 255 - (x + y) * 4, 0))  # B, G, R, X
        self.gc.change(foreground=0)
        self.tile.put_image(self.gc, 16, 16, TILE // 2, TILE // 2, X.ZPixmap, 24, 0,
                            bytes(ramp))
        self.fill(self.tile, (200, 0, 0), 0, 0, 16, 16)
        self.fill(self.tile, (0, 0, 200), TILE - 16, TILE - 16, 16, 16)
        x0, y0, columns, rows = TILES
        for row in range(rows):
            for column in range(columns):
                self.win.copy_area(self.gc, self.tile, 0, 0, TILE, TILE,
                                   x0 + column * TILE, y0 + row * TILE)
        self.fill(self.win, (250, 250, 244), *PANEL)
        self.cursor = 0
        self.lines = 0
        self.write(8)
        self.frame = 0
        self.draw_frame()

    def randr(self):
        from Xlib.ext import randr  # imported here: X's extensions are not bound at start
        info = self.d.query_extension("RANDR")
        self.d.display.set_extension_major(randr.extname, info.major_opcode)
        root = self.d.screen().root
        randr.query_version(root)
        return randr, root

    def mode(self, width, height):
        """Switch the first output to one of the QXL driver's modes; the scene stays in
        the top-left corner, the rest of the screen is the root window's black."""
        randr, root = self.randr()
        res = randr.get_screen_resources(root)
        mode = next((m.id for m in res.modes if (m.width, m.height) == (width, height)),
                    None)
        if mode is None:
            raise RuntimeError(f"the QXL driver offers no {width}x{height} mode")
        crtc = res.crtcs[0]
        outputs = randr.get_crtc_info(root, crtc, res.config_timestamp).outputs
        # The screen must hold the CRTC at every step: grow it first, shrink it last.
        randr.set_screen_size(root, max(width, WIDTH), max(height, HEIGHT),
                              width * 254 // 960, height * 254 // 960)
        reply = randr.set_crtc_config(root, crtc, res.config_timestamp, 0, 0, mode,
                                      randr.Rotate_0, outputs)
        if reply.status != 0:
            raise RuntimeError(f"RRSetCrtcConfig failed with status {reply.status}")
        randr.set_screen_size(root, width, height, width * 254 // 960, height * 254 // 960)

    def heads(self, count):
        """Switch the second QXL output on, right of the first: the screen grows to
        2048x768 and the driver tells QEMU (and spice-server the client) about both heads
        in one MONITORS_CONFIG. Then a scene of its own on the second, so a client that
        shows the wrong part of the surface, or the heads swapped, differs."""
        if count != 2:
            raise ValueError("only 'heads 2' is supported")
        randr, root = self.randr()
        res = randr.get_screen_resources(root)
        if len(res.crtcs) < 2 or len(res.outputs) < 2:
            raise RuntimeError(f"{len(res.crtcs)} CRTCs and {len(res.outputs)} outputs: "
                               "X was not started with NumHeads 2")
        first = randr.get_crtc_info(root, res.crtcs[0], res.config_timestamp)
        output = res.outputs[1]
        second = randr.get_output_info(root, output, res.config_timestamp)
        crtc = second.crtcs[0] if second.crtcs else res.crtcs[1]
        # The output is "disconnected" (no client asked for it), so it lists no modes:
        # lend it the first head's.
        if first.mode not in second.modes:
            randr.add_output_mode(root, output, first.mode)
        randr.set_screen_size(root, 2 * WIDTH, HEIGHT, 2 * WIDTH * 254 // 960,
                              HEIGHT * 254 // 960)
        reply = randr.set_crtc_config(root, crtc, res.config_timestamp, WIDTH, 0,
                                      first.mode, randr.Rotate_0, [output])
        if reply.status != 0:
            raise RuntimeError(f"RRSetCrtcConfig failed with status {reply.status}")
        screen = self.d.screen()
        self.win2 = root.create_window(
            WIDTH, 0, WIDTH, HEIGHT, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=0, override_redirect=True, event_mask=X.ExposureMask)
        self.win2.map()
        while True:
            event = self.d.next_event()
            if event.type == X.Expose and event.window.id == self.win2.id:
                break
        win = self.win2
        self.fill(win, (96, 24, 24), 0, 0, WIDTH, HEIGHT)
        self.fill(win, (210, 200, 160), 0, 0, WIDTH, 48)
        self.gc.change(foreground=0, background=rgb(210, 200, 160))
        win.image_text(self.gc, 16, 30, "spicebox desktop guest - head 1 (second output)")
        bars = ((0, 0, 0), (0, 0, 255), (255, 0, 0), (255, 0, 255), (0, 255, 0),
                (0, 255, 255), (255, 255, 0), (255, 255, 255))
        for i, color in enumerate(bars):
            self.fill(win, color, 96 + i * 96, 96, 96, 32)
        for row in range(3):
            for column in range(8):
                win.copy_area(self.gc, self.tile, 0, 0, TILE, TILE, 64 + column * 112,
                              200 + row * 112)
        # Both heads end at the seam: a one-column offset shows here.
        self.fill(win, (0, 255, 0), 0, 560, 1, 208)
        self.fill(win, (255, 255, 255), WIDTH - 1, 560, 1, 208)
        # The first head may have lost its contents when the screen was reallocated.
        self.scene0()

    def render(self):
        """Translucent drawing through RENDER over the tiles and the colour bars: the
        QXL driver sends it as DRAW_COMPOSITE (from ARGB and A8 surfaces) when the SPICE
        client announced COMPOSITE (and A8_SURFACE), and draws it in software otherwise."""
        render = Render(self.d)
        argb = self.win.create_pixmap(TILE, TILE, 32)
        alpha = self.win.create_pixmap(TILE, TILE, 8)
        window = render.picture(self.win, render.rgb24)
        src = render.picture(argb, render.argb32)
        mask = render.picture(alpha, render.a8)
        render.fill(PICT_OP_SRC, src, (0, 0, 0, 0), (0, 0, TILE, TILE))
        render.fill(PICT_OP_SRC, src, (128, 0, 0, 128), (0, 0, 40, 40))
        render.fill(PICT_OP_SRC, src, (0, 32, 192, 192), (24, 24, 40, 40))
        for band in range(8):
            render.fill(PICT_OP_SRC, mask, (0, 0, 0, band * 36), (0, band * 8, TILE, 8))
        x0, y0 = TILES[0], TILES[1] + 4 * TILE
        for column in range(TILES[2]):
            render.composite(PICT_OP_OVER, src, 0, window, x0 + column * TILE, y0, TILE, TILE)
            render.composite(PICT_OP_OVER, src, mask, window, x0 + column * TILE, y0 + TILE,
                             TILE, TILE)
        render.fill(PICT_OP_OVER, window, (64, 64, 64, 64), (32, 56, 640, 8))
        for picture in (window, src, mask):
            render.free(picture)
        argb.free()
        alpha.free()

    def line_text(self, n):
        words = " ".join(WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(n % 9 + 4))
        return f"{n:05d} {words}"

    def write(self, count):
        x, y, w, h = PANEL
        for _ in range(count):
            if self.cursor == ROWS:
                self.scroll(1)
            n = self.lines
            self.text(x + 8, y + self.cursor * LINE + 12, self.line_text(n),
                      PALETTE[n % len(PALETTE)], (250, 250, 244))
            self.cursor += 1
            self.lines += 1

    def scroll(self, count):
        x, y, w, h = PANEL
        count = min(count, ROWS)
        shift = count * LINE
        if shift < ROWS * LINE:
            self.win.copy_area(self.gc, self.win, x, y + shift, w, ROWS * LINE - shift, x, y)
        self.fill(self.win, (250, 250, 244), x, y + (ROWS - count) * LINE, w, shift)
        self.cursor = max(0, self.cursor - count)

    def draw_frame(self):
        x, y, w, h = VIDEO
        if self.rows is None:
            # Diagonal colour waves: each row is one 256-pixel pattern rotated by the
            # row number, stored twice so any frame is one slice per row.
            base = bytearray()
            for i in range(256):
                tri = i * 2 if i < 128 else 511 - i * 2
                base += bytes((i, tri, 255 - i, 0))
            self.rows = []
            for row in range(h):
                shift = (row * 3 % 256) * 4
                rotated = base[shift:] + base[:shift]
                self.rows.append(bytes(rotated + rotated))
        offset = (self.frame * 8 % 256) * 4
        data = b"".join(r[offset:offset + w * 4] for r in self.rows)
        self.win.put_image(self.gc, x, y, w, h, X.ZPixmap, 24, 0, data)
        self.frame += 1


def agent_status():
    running = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    running.add(f.read().strip())
            except OSError:
                pass  # gone meanwhile
    agents = [name for name in ("spice-vdagentd", "spice-vdagent") if name in running]
    port = "yes" if os.path.exists(AGENT_PORT) else "no"
    if port == "yes" and len(agents) < 2:
        for path in ("/tmp/spice-vdagentd.log", "/tmp/spice-vdagent.log"):
            try:
                with open(path, errors="replace") as f:
                    for line in f.read().splitlines()[-10:]:
                        say(f"LOG {path}: {line}")
            except OSError:
                pass
    return f"port={port} running={','.join(agents) or 'none'}"


def uptime():
    with open("/proc/uptime") as f:
        return f.read().split()[0]


class Clipboard:
    """The scene's side of X's CLIPBOARD selection, which spice-vdagent bridges to the
    client: ``copy`` owns it with a text or a PNG image, ``paste`` asks its owner for
    one (small ones only: no INCR transfers)."""

    def __init__(self, d, window):
        self.d, self.window = d, window
        self.selection = d.intern_atom("CLIPBOARD")
        self.utf8 = d.intern_atom("UTF8_STRING")
        self.png = d.intern_atom("image/png")
        self.targets = d.intern_atom("TARGETS")
        self.property = d.intern_atom("SPICEBOX_PASTE")
        self.kind, self.data = self.utf8, b""

    def copy(self, data, kind=None):
        self.kind, self.data = kind or self.utf8, data
        self.window.set_selection_owner(self.selection, X.CurrentTime)
        self.d.sync()

    def paste(self, kind=None, timeout=30.0):
        self.window.convert_selection(self.selection, kind or self.utf8, self.property,
                                      X.CurrentTime)
        self.d.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.d.pending_events():
                select.select([self.d.fileno()], [], [], 0.2)
                continue
            event = self.d.next_event()
            if event.type == X.SelectionNotify and event.selection == self.selection:
                if event.property == X.NONE:
                    return None
                reply = self.window.get_full_property(self.property, X.AnyPropertyType)
                return reply.value if reply is not None else None
            self.handle(event)
        return None

    def handle(self, event):
        """Answer another client's (the agent's) request for our selection."""
        if event.type != X.SelectionRequest or event.selection != self.selection:
            return
        prop = event.property
        if event.target == self.targets:
            event.requestor.change_property(prop, Xatom.ATOM, 32, [self.targets, self.kind])
        elif event.target == self.kind:
            event.requestor.change_property(prop, self.kind, 8, self.data)
        else:
            prop = X.NONE
        event.requestor.send_event(Xevent.SelectionNotify(
            time=event.time, requestor=event.requestor, selection=event.selection,
            target=event.target, property=prop))
        self.d.flush()


def main():
    started = uptime()
    deadline = time.monotonic() + 120
    try:
        d = connect(deadline)
        connected = uptime()
    except Exception as exc:
        x_log(40)
        say(f"ERROR cannot connect to X: {exc!r}")
        return 1
    if os.path.exists(AGENT_PORT):
        import subprocess  # only here: every import costs under TCG
        with open("/tmp/spice-vdagent.log", "wb") as agent_log:
            subprocess.Popen(["spice-vdagent", "-x", "-d"], env=dict(os.environ, DISPLAY=":0"),
                             stdin=subprocess.DEVNULL, stdout=agent_log, stderr=agent_log)
    scene = Scene(d)
    scene.clipboard = Clipboard(d, scene.win)
    scene.scene0()
    d.sync()
    # Seconds since the kernel started, to see where a slow boot spends its time.
    say(f"READY desktop uptime: init={os.environ.get('SPICEBOX_INIT_UPTIME')} "
        f"python={started} x={connected} ready={uptime()}")
    pending = b""
    animating = False
    next_frame = 0.0
    while True:
        # Before waiting: a command's round trips (XSync) may have read events off the
        # socket, such as the agent asking for the clipboard, which select will not show.
        while d.pending_events():
            scene.clipboard.handle(d.next_event())
        timeout = max(0.0, next_frame - time.monotonic()) if animating else None
        readable, _, _ = select.select([0, d.fileno()], [], [], timeout)
        if 0 in readable:
            chunk = os.read(0, 4096)
            if not chunk:
                time.sleep(1)
            pending += chunk
        while b"\n" in pending:
            raw, pending = pending.split(b"\n", 1)
            command = raw.decode(errors="replace").strip()
            if not command:
                continue
            word, _, arg = command.partition(" ")
            try:
                reply = command
                if command == "scene 0":
                    animating = False
                    scene.scene0()
                elif word == "text" and arg.isdigit():
                    scene.write(int(arg))
                elif word == "scroll" and arg.isdigit():
                    scene.scroll(int(arg))
                elif word == "copy":
                    scene.clipboard.copy(arg.encode())
                elif command == "paste":
                    text = scene.clipboard.paste()
                    reply = f"{command} " + ("NONE" if text is None else
                                            text.decode(errors="replace"))
                elif word == "copy-image":
                    scene.clipboard.copy(base64.b64decode(arg), scene.clipboard.png)
                elif command == "paste-image":
                    image = scene.clipboard.paste(scene.clipboard.png)
                    reply = f"{command} " + ("NONE" if image is None else
                                            base64.b64encode(image).decode())
                elif command == "render":
                    scene.render()
                elif word == "mode" and "x" in arg:
                    scene.mode(*(int(v) for v in arg.split("x", 1)))
                elif word == "heads" and arg.isdigit():
                    scene.heads(int(arg))
                elif command == "xlog":
                    x_log(1000)
                elif command == "agentlog":
                    vdagent_log(200)
                elif command == "agent":
                    reply = f"{command} {agent_status()}"
                elif command == "animate start":
                    animating, next_frame = True, time.monotonic()
                elif command == "animate stop":
                    animating = False
                    reply = f"{command} frames={scene.frame}"
                elif command != "ping":
                    say(f"ERROR unknown command {command!r}")
                    continue
                d.sync()
                say(f"DONE {reply}")
            except Exception as exc:
                say(f"ERROR {command!r} failed: {exc!r}")
        if animating and time.monotonic() >= next_frame:
            scene.draw_frame()
            d.flush()
            # A late frame is not made up for: the rate only has to stay high enough
            # for the server's video detection.
            next_frame = max(next_frame + 1 / FPS, time.monotonic())


if __name__ == "__main__":
    sys.exit(main())
'''

_TREE_RECIPE_NAME = "tree-recipe.json"
_RECIPE_NAME = "recipe.json"
_IMAGE_NAME = "rootfs.img"
_KERNEL_NAME = "vmlinuz"
_INITRD_NAME = "initrd.img"


@dataclasses.dataclass(frozen=True)
class DesktopGuest:
    """A built guest: pass :meth:`qemu_args` to qemu-system-x86_64 (with ``-vga qxl``, or
    ``VGA_DEVICES["qxl-2heads"]`` and ``heads=2``)."""

    kernel: Path
    initrd: Path
    image: Path
    append: str

    def qemu_args(self, agent: bool = False, heads: int = 1) -> list[str]:
        """Boot arguments; ``agent`` adds the virtio-serial port spice-vdagent talks on,
        ``heads=2`` configures X's QXL driver with two heads (for ``max_outputs=2``)."""
        if heads not in (1, 2):
            raise ValueError(f"the desktop guest has 1 or 2 heads, not {heads}")
        append = f"{self.append} {HEADS_PARAMETER}" if heads == 2 else self.append
        args = [
            "-kernel", str(self.kernel), "-initrd", str(self.initrd), "-append", append,
            "-drive", f"file={self.image},format=raw,if=virtio,snapshot=on",
            # X and the scene program start together; a second vCPU (its own TCG thread)
            # lets them, and cut the boot from ~11 s to ~7-10 s on an idle 2-core host.
            "-smp", "2",
        ]  # fmt: skip
        if agent:
            args += [
                "-device", "virtio-serial-pci",
                "-chardev", "spicevmc,id=vdagent,name=vdagent",
                "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0",
            ]  # fmt: skip
        return args


def build(cache_dir: Path) -> DesktopGuest:
    """Build the guest into ``cache_dir`` unless an identical recipe is already there.

    Safe to call from several processes at once: each builds in its own temporary
    directory and the first to rename it into place wins.
    """
    _require_tools()
    try:
        compile(SCENE_SCRIPT, SCENE_PATH, "exec")
    except SyntaxError as exc:
        raise GuestBuildError(f"the desktop scene program does not compile: {exc}") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    tree = _build_tree(cache_dir)
    recipe = {
        "tree": tree.name,
        "init": INIT_SCRIPT,
        "scene": SCENE_SCRIPT,
        "xorg.conf": XORG_CONF,
        "xorg-2heads.conf": XORG_CONF_2HEADS,
        "append": KERNEL_CMDLINE,
        "format": 2,  # bump when the way the files are made changes
    }
    key = _key(recipe)
    final = cache_dir / f"desktop-{key}"
    if (final / _RECIPE_NAME).is_file():
        log.info("desktop guest %s is cached in %s", key, final)
        return _guest_in(final)
    log.info("building desktop guest %s in %s", key, final)
    started = time.monotonic()
    work = _scratch_dir(cache_dir)
    try:
        root = work / "root"
        # --reflink: free on filesystems that share blocks, a plain copy elsewhere.
        _run(["cp", "-a", "--reflink=auto", str(tree / "root"), str(root)])
        for path, text, mode in (
            (INIT_PATH, INIT_SCRIPT, 0o755),
            (SCENE_PATH, SCENE_SCRIPT, 0o755),
            (XORG_CONF_PATH, XORG_CONF, 0o644),
            (XORG_CONF_2HEADS_PATH, XORG_CONF_2HEADS, 0o644),
        ):
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            target.chmod(mode)
        kernels = sorted((root / "boot").glob("vmlinuz-*"))
        if len(kernels) != 1:
            raise GuestBuildError(f"expected one kernel in the guest's /boot, found {kernels}")
        version = kernels[0].name.removeprefix("vmlinuz-")
        (work / _KERNEL_NAME).write_bytes(_bootable_kernel(kernels[0].read_bytes()))
        shutil.copyfile(root / "boot" / f"initrd.img-{version}", work / _INITRD_NAME)
        _make_ext4(root, work / _IMAGE_NAME)
        shutil.rmtree(root)
        # Written last: its presence is what marks a directory as a finished build.
        (work / _RECIPE_NAME).write_text(json.dumps(recipe, indent=2, sort_keys=True))
        _publish(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("desktop guest %s built in %.0f s", key, time.monotonic() - started)
    return _guest_in(final)


def _guest_in(directory: Path) -> DesktopGuest:
    return DesktopGuest(
        kernel=directory / _KERNEL_NAME,
        initrd=directory / _INITRD_NAME,
        image=directory / _IMAGE_NAME,
        append=KERNEL_CMDLINE,
    )


def _key(recipe: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _scratch_dir(cache_dir: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    # mkdtemp's 0700 would survive the rename and hide the guest from other users' QEMU.
    work.chmod(0o755)
    return work


def _publish(work: Path, final: Path) -> None:
    try:
        work.rename(final)
    except OSError:
        if not any(final.glob("*recipe.json")):
            raise
        log.info("another process finished %s first", final.name)


def _require_tools() -> None:
    for tool, package in (
        ("mmdebstrap", "mmdebstrap"),
        ("mkfs.ext4", "e2fsprogs"),
        ("apt-cache", "apt"),
    ):
        if shutil.which(tool) is None:
            raise GuestBuildError(
                f"{tool} not found: the desktop guest is built from Debian packages, "
                f"run `apt-get install {package}` (tools/setup.sh does)"
            )
    if os.geteuid() != 0:
        raise GuestBuildError(
            "the desktop guest's root filesystem is made with `mmdebstrap --mode=root`, "
            "which needs root: run the tests as root (CI does)"
        )


def _tree_recipe() -> dict[str, object]:
    kernel, kernel_version = console._resolve_kernel_package()
    versions = {package: console._apt_field(package, "Version") for package in _VERSIONED}
    versions[kernel] = kernel_version
    return {
        "suite": SUITE,
        "packages": list(PACKAGES),
        "versions": versions,
        "dpkg": list(_DPKG_FILTERS),
        "hook": _INITRD_HOOK,
    }


def _build_tree(cache_dir: Path) -> Path:
    """The mmdebstrap tree for the current package versions, built if not cached."""
    recipe = _tree_recipe()
    key = _key(recipe)
    final = cache_dir / f"desktop-tree-{key}"
    if (final / _TREE_RECIPE_NAME).is_file():
        return final
    log.info("building the desktop guest's Debian tree %s (takes a minute or two)", key)
    started = time.monotonic()
    work = _scratch_dir(cache_dir)
    try:
        argv = [
            "mmdebstrap", "--mode=root", "--variant=essential",
            f"--include={','.join(PACKAGES)}",
            '--aptopt=APT::Install-Recommends "false"',
            *(f"--dpkgopt={option}" for option in _DPKG_FILTERS),
            f"--customize-hook={_INITRD_HOOK}",
            SUITE, str(work / "root"),
        ]  # fmt: skip
        _run(argv, log_file=work / "mmdebstrap.log")
        (work / _TREE_RECIPE_NAME).write_text(json.dumps(recipe, indent=2, sort_keys=True))
        _publish(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("desktop tree %s built in %.0f s", key, time.monotonic() - started)
    return final


def _bootable_kernel(bzimage: bytes) -> bytes:
    """The kernel as QEMU should load it: uncompressed, when it can boot that way.

    Under TCG, unpacking Debian's XZ-compressed bzImage takes the emulated CPU about
    six seconds before the kernel prints a line. QEMU boots an uncompressed ELF kernel
    straight into its PVH entry point (Debian builds CONFIG_PVH), so do the unpacking
    once, here. A kernel packed some other way, or without the entry, stays as it is.
    """
    start = bzimage.find(_XZ_MAGIC)
    if start < 0:
        return bzimage
    try:
        elf = lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(bzimage[start:])
    except lzma.LZMAError:
        return bzimage
    return elf if _has_pvh_entry(elf) else bzimage


_XZ_MAGIC = b"\xfd7zXZ\x00"
_XEN_ELFNOTE_PHYS32_ENTRY = 18  # the note QEMU looks for to boot an ELF kernel as PVH


def _has_pvh_entry(elf: bytes) -> bool:
    elf64, x86_64, pt_note = 2, 62, 4
    if len(elf) < 64 or elf[:4] != b"\x7fELF" or elf[4] != elf64:
        return False
    if struct.unpack_from("<H", elf, 0x12)[0] != x86_64:
        return False
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for index in range(phnum):
        p_type, _flags, offset, _vaddr, _paddr, size = struct.unpack_from(
            "<IIQQQQ", elf, phoff + index * phentsize)
        end = offset + size
        while p_type == pt_note and offset + 12 <= end:
            name_size, desc_size, note_type = struct.unpack_from("<III", elf, offset)
            name = elf[offset + 12 : offset + 12 + name_size]
            if name == b"Xen\0" and note_type == _XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            offset += 12 + (name_size + 3 & ~3) + (desc_size + 3 & ~3)
    return False


def _make_ext4(root: Path, image: Path) -> None:
    """Pack ``root`` into a fresh ext4 image file, without mounting anything."""
    files, used = 0, 0
    for directory, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            files += 1
            used += os.lstat(os.path.join(directory, name)).st_blocks * 512
    # Room for metadata and the guest's scratch writes (they land in QEMU's overlay, but
    # the filesystem still has to have the free blocks).
    size = (used * 5 // 4 + (128 << 20)) // (1 << 20) << 20
    with image.open("wb") as f:
        f.truncate(size)
    _run([
        "mkfs.ext4", "-q", "-F", "-L", "spicebox", "-d", str(root),
        "-m", "0",  # no blocks reserved for root: the guest has only root
        "-N", str(files * 5 // 4 + 4096),
        # No journal: the image is never written in place, and journalling costs the
        # emulated guest writes for nothing.
        "-O", "^has_journal",
        str(image),
    ])  # fmt: skip


def _run(argv: Sequence[str], log_file: Path | None = None) -> None:
    log.debug("running %s", " ".join(argv))
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if log_file is not None:
        log_file.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        detail = "\n  ".join(lines[-12:]) or f"exit status {result.returncode}"
        raise GuestBuildError(f"`{' '.join(argv[:3])} ...` failed:\n  {detail}")


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.guests.desktop",
        description="Build (and boot) the desktop test guest.",
    )
    parser.add_argument("--cache", type=Path, default=console.default_cache_dir(),
                        help="build/cache directory (default: %(default)s)")
    parser.add_argument(
        "--boot", action="store_true",
        help="boot it under QEMU with SPICE on 127.0.0.1:5930, serial on stdio "
             "(Ctrl-A X quits)",
    )
    parser.add_argument("--agent", action="store_true", help="add spice-vdagent's port")
    parser.add_argument("--heads", type=int, choices=(1, 2), default=1,
                        help="QXL outputs (2: qxl-vga,max_outputs=2; send `heads 2`)")
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
    print(f"image:  {guest.image}")
    print(f"append: {guest.append}")
    if not args.boot:
        return 0
    qemu = [
        "qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nic", "none",
        "-display", "none", *VGA_DEVICES["qxl" if args.heads == 1 else "qxl-2heads"],
        "-serial", "mon:stdio",
        "-spice", "port=5930,addr=127.0.0.1,disable-ticketing=on,streaming-video=all",
        *guest.qemu_args(args.agent, args.heads), *args.qemu_extra,
    ]  # fmt: skip
    log.info("%s", " ".join(qemu))
    sys.stdout.flush()
    os.execvp(qemu[0], qemu)


if __name__ == "__main__":
    sys.exit(_main())
