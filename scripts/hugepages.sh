#!/usr/bin/env bash
# Reserves N 2 MiB hugepages for pktloop's buffer pools, or releases them with N = 0.
#
#   scripts/hugepages.sh N      reserve N pages (root); prints what the kernel actually reserved
#   scripts/hugepages.sh 0      undo: give the pages back
#   scripts/hugepages.sh        show the current reservation
#
# pktloop maps pool memory with MAP_HUGETLB when free 2 MiB pages exist and falls back to normal pages with
# transparent-hugepage advice otherwise, so reserving pages is optional: it only changes which backing
# `Pool::backing()` reports (and the speed). The reservation is system-wide and lasts until reboot or
# until it is set back to 0.
set -euo pipefail

readonly SYSFS=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
readonly PROCFS=/proc/sys/vm/nr_hugepages

usage() {
    echo "usage: $0 [N]   (N = number of 2 MiB hugepages to reserve, 0 to release them)" >&2
    exit 2
}

# The file that controls the 2 MiB pool: the per-size sysfs knob when present, else the default-size one.
knob() {
    if [ -e "$SYSFS" ]; then
        echo "$SYSFS"
    elif [ -e "$PROCFS" ] && grep -q '^Hugepagesize: *2048 kB' /proc/meminfo; then
        echo "$PROCFS"
    else
        echo "error: this kernel exposes no 2 MiB hugepage pool (no $SYSFS)" >&2
        exit 1
    fi
}

show() {
    local total free
    total="$(cat "$(knob)")"
    free="$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)"
    echo "2 MiB hugepages reserved: $total ($((total * 2)) MiB), free: ${free:-?}"
}

if [ "$#" -eq 0 ]; then
    show
    exit 0
fi
[ "$#" -eq 1 ] || usage
want="$1"
case "$want" in
'' | *[!0-9]*) echo "invalid hugepages $want: valid is a whole number of 2 MiB pages, 0 to release" >&2 && exit 2 ;;
esac
want=$((10#$want))

file="$(knob)"
if [ "$(id -u)" -ne 0 ] || [ ! -w "$file" ]; then
    cat >&2 <<EOF
Reserving hugepages needs root (writing $file); you are $(id -un).
Run:   sudo $0 $want
or:    echo $want | sudo tee $file
pktloop does not need them: without hugepages its pools use normal pages with transparent-hugepage
advice, and its report says "(normal memory)" after the pool mode (RUST_LOG=info also logs
"pool memory: ... from normal pages").
EOF
    show >&2 || true
    exit 1
fi

before="$(cat "$file")"
echo "$want" >"$file"
after="$(cat "$file")"
show
if [ "$after" -lt "$want" ]; then
    echo "note: asked for $want, the kernel reserved $after (not enough contiguous free memory);" \
        "dropping caches or reserving at boot (hugepages=$want on the kernel command line) helps" >&2
fi
if [ "$after" -ne 0 ]; then
    echo "was $before before. Undo with: $0 0"
else
    echo "released (was $before)."
fi
