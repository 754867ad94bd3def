#!/bin/bash
# The rig's guest init (PID 1), embedded in xtask and written into each run directory.
#
# Kernel command line arguments lvsrig_* arrive as environment variables:
#   lvsrig_backend   uml | qemu
#   lvsrig_run       the run directory on the host: argv, env, cwd, modules in; rc, t_ready out
#   lvsrig_cache     the rig's cache directory on the host
#   lvsrig_modroot   the module tree, relative to the cache (modprobe -d)
#   lvsrig_debug     if set, print the guest uptime at each step on the console
#   lvsrig_uml_cannot_boot  if set, a UML guest panics before the command starts, as UML does
#                    on hosts where it cannot run (the rig's self-check of its fallback to qemu)
# uml: PID 1 on the read-only hostfs root; builds the overlay root, pivots into it and runs
# itself again. qemu: started by stage 1 (stage1.sh) with the overlay root already in place.
#
# Every exec of a dynamically linked binary is slow in the guest, so this sticks to bash
# builtins and the static busybox.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
BB=/bin/busybox
say() { echo "lvsrig: $*" > /dev/console 2>/dev/null || true; }
dbg() { if [ -n "${lvsrig_debug:-}" ]; then local up _; read -r up _ < /proc/uptime; say "$up $*"; fi; }
halt() { $BB poweroff -f; echo o > /proc/sysrq-trigger; sleep 10; }

if [ "$lvsrig_backend" = uml ] && [ -z "${lvsrig_pivoted:-}" ]; then
  # Until these are mounted, /proc and /sys are the HOST's, seen through hostfs.
  $BB mount -t proc proc /proc
  [ -n "${lvsrig_uml_cannot_boot:-}" ] && echo c > /proc/sysrq-trigger
  $BB mount -t sysfs sysfs /sys
  dbg "init"
  /usr/sbin/modprobe -d "$lvsrig_cache/$lvsrig_modroot" overlay || { say "no overlay module"; halt; }
  $BB mount -t tmpfs -o mode=755 tmpfs /run
  $BB mkdir -p /run/ovl/upper /run/ovl/work /run/ovl/root
  $BB mount -t overlay -o lowerdir=/,upperdir=/run/ovl/upper,workdir=/run/ovl/work overlay /run/ovl/root \
    || { say "cannot mount the overlay root"; halt; }
  for m in /dev /proc /sys; do $BB mount --move $m /run/ovl/root$m; done
  dbg "overlay"
  cd /run/ovl/root || halt
  $BB pivot_root . mnt || { say "pivot_root failed"; halt; }
  export lvsrig_pivoted=1
  exec $BB chroot . /bin/bash "$0"
fi
[ -n "${lvsrig_pivoted:-}" ] && $BB umount -l /mnt
dbg "stage 2"

$BB mount -t tmpfs -o mode=755 tmpfs /run
$BB mkdir -p /run/rig/io /run/rig/cache /run/rig/bin /dev/pts /dev/shm
$BB mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$BB mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# As on any Linux machine (udev makes them): bash's process substitution needs /dev/fd.
for link in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
  [ -L "/dev/${link%%:*}" ] || $BB ln -sfn "${link#*:}" "/dev/${link%%:*}"
done
$BB mount -o bind "$lvsrig_cache" /run/rig/cache || say "cannot bind the cache"
# The run directory is mounted write-through: the exit status must reach the host.
if [ "$lvsrig_backend" = uml ]; then
  $BB mount -t hostfs -o "rw,$lvsrig_run" hostfs /run/rig/io
else
  $BB mount -t 9p -o rw,trans=virtio,version=9p2000.L,msize=512000 lvsrigio /run/rig/io
fi || { say "cannot mount the run directory"; halt; }
IO=/run/rig/io
dbg "mounts done"

# Modules come from the cache's module tree. The same wrapper serves the kernel's on-demand
# loads (an IPVS scheduler that was not preloaded, the IPVS generic-netlink family).
MODROOT=/run/rig/cache/$lvsrig_modroot
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$MODROOT" > /run/rig/bin/modprobe
$BB chmod 755 /run/rig/bin/modprobe
echo /run/rig/bin/modprobe > /proc/sys/kernel/modprobe
read -r MODULES < $IO/modules
if [ -n "$MODULES" ]; then
  # shellcheck disable=SC2086 # a list of module names
  /usr/sbin/modprobe -d "$MODROOT" -a $MODULES || say "some modules failed to load"
fi
dbg "modules loaded"
$BB ip link set lo up
echo lvsrig > /proc/sys/kernel/hostname

if [ "$lvsrig_backend" = uml ]; then
  # consoles con1/con2 are the host's stdout/stderr; raw, so "\n" stays "\n"
  OUT=/dev/tty1 ERR=/dev/tty2
  $BB stty -F $OUT raw -echo; $BB stty -F $ERR raw -echo
else
  # virtio-serial ports named lvsrig.stdout / lvsrig.stderr (char devices, not ttys)
  OUT= ERR=
  for _ in {1..100}; do
    for p in /sys/class/virtio-ports/*; do
      [ -r "$p/name" ] || continue
      read -r name < "$p/name"
      case $name in lvsrig.stdout) OUT=/dev/${p##*/};; lvsrig.stderr) ERR=/dev/${p##*/};; esac
    done
    [ -c "$OUT" ] && [ -c "$ERR" ] && break
    read -r -t 0.05 < /dev/zero 2>/dev/null   # 50 ms, without an exec
  done
  [ -c "$OUT" ] || { say "no lvsrig.stdout port, using the console"; OUT=/dev/console; }
  [ -c "$ERR" ] || { say "no lvsrig.stderr port, using the console"; ERR=/dev/console; }
fi

# The command: an argv (NUL-separated), its environment (NUL-separated NAME=VALUE) and its
# working directory, exactly as the host gave them. Nothing is parsed by a shell.
mapfile -d '' ARGV < $IO/argv
mapfile -d '' ENVIRONMENT < $IO/env
IFS= read -r -d '' CWD < $IO/cwd

# Its stdout/stderr are pipes (as under CI), drained by static cats. Output of background
# processes that outlive the command is awaited for at most 2 s.
$BB mkfifo /run/rig/stdout /run/rig/stderr
$BB cat < /run/rig/stdout > $OUT & P1=$!
$BB cat < /run/rig/stderr > $ERR & P2=$!
read -r up _ < /proc/uptime; echo "$up" > $IO/t_ready
(
  # shellcheck disable=SC2046 # one name per word
  unset $(compgen -e) 2>/dev/null
  for kv in "${ENVIRONMENT[@]}"; do export "$kv"; done
  cd "$CWD" 2>/dev/null || cd /
  exec "${ARGV[@]}"
) < /dev/null > /run/rig/stdout 2> /run/rig/stderr
rc=$?
for _ in {1..40}; do { kill -0 $P1 || kill -0 $P2; } 2>/dev/null || break; read -r -t 0.05 < /dev/zero 2>/dev/null; done
kill $P1 $P2 2>/dev/null
echo $rc > $IO/rc
cd /
$BB umount /run/rig/io
halt
