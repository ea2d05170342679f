#!/bin/sh
# Run by the image builder inside the new root (chroot): what packages do not do.
set -eu
useradd --system --home-dir /var/lib/spicebox --shell /usr/sbin/nologin \
    --groups video,render,input,audio spicebox
mkdir -p /var/lib/spicebox /boot/efi
chown spicebox:spicebox /var/lib/spicebox
systemctl enable spicebox-kiosk.service spicebox-preconfigure.service \
    spicebox-identity.service NetworkManager.service
# No login prompt on the display; the serial console keeps one for the test rig.
systemctl mask getty@tty1.service
