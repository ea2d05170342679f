#!/bin/sh
# Run by the image builder inside the new root (chroot): what packages do not do.
set -eu
useradd --system --home-dir /var/lib/spicebox --shell /usr/sbin/nologin \
    --groups video,render,input,audio spicebox
# /data: the data partition's mount point (the root itself is read-only on the device).
mkdir -p /var/lib/spicebox /boot/efi /data
chown spicebox:spicebox /var/lib/spicebox
systemctl enable spicebox-kiosk.service spicebox-preconfigure.service \
    spicebox-identity.service spicebox-boot-check.service spicebox-boot-keep.service \
    spicebox-grow-data.service spicebox-provision.service \
    spicebox-firmware.path spicebox-firmware.timer spicebox-ssh.path spicebox-ssh.timer \
    NetworkManager.service
# SSH is off until provisioning turns it on (spicebox-ssh.service), and has no host keys
# until then: each box makes its own (ssh.service.d/spicebox.conf).
systemctl disable ssh.service
rm -f /etc/ssh/ssh_host_*
# The boot loader is firmware like the rest: it changes with an update, not on its own.
systemctl mask systemd-boot-update.service
# No login prompt on the display; the serial console keeps one for the test rig.
systemctl mask getty@tty1.service
# The boot splash (firmware/rootfs/usr/share/plymouth/themes/spicebox): the kiosk ends
# it when it starts, not systemd when multi-user.target is reached, so the screen goes
# from the splash to the kiosk's first picture.
plymouth-set-default-theme spicebox
systemctl mask plymouth-quit.service plymouth-quit-wait.service
# The initramfs, with the firmware's hooks and splash (the builder kept the kernel's package
# from making one before them).
rm /usr/sbin/update-initramfs
dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
update-initramfs -c -k all
