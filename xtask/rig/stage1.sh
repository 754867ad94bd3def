#!/bin/busybox sh
# qemu stage 1 (the initramfs /init): host root (9p tag lvsrigroot, read-only) under a tmpfs
# overlay -> /newroot, then the rig's init (init.sh, lvsrig_init on the kernel command line).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
fail() { echo "lvsrig stage1: $*"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do
  insmod /mods/$m.ko || echo "lvsrig stage1: insmod $m failed"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose lvsrigroot /lower \
  || fail "cannot mount the host root"
mount -t tmpfs -o mode=755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work overlay /newroot \
  || fail "cannot mount the overlay root"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$lvsrig_init"
