#!/usr/bin/env bash
# Checks README's first command on a fresh Debian 12: debootstrap a minimal bookworm into a
# folder, give it only what the README asks of a machine (the Swift toolchain, bind-mounted
# read-only, with swift.org's Debian 12 prerequisites for it), clone this repository's HEAD into
# it, run `bash deploy/quickstart.sh` there, wait for "ready", ask the printed curl example, and
# stop it. Needs root, debootstrap and Debian's mirror. Not part of CI (it takes 20-40 minutes).
#
#   sudo bash deploy/fresh-debian-check.sh [DIR]        # default DIR: /var/tmp/tandem-fresh-debian
#
# The machine's own network arrangements are carried in, as they are part of "the network", not of
# the project: extra CA certificates in /usr/local/share/ca-certificates, and `url.*.insteadOf`
# rules of /etc/gitconfig (with the folders they point to, bind-mounted read-only) — e.g. a local
# mirror of the Swift packages. SWIFT_TOOLCHAIN (default: the one on PATH) names the toolchain.
# KEEP=1 leaves DIR (and its mounts) for inspection.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-/var/tmp/tandem-fresh-debian}"
toolchain="${SWIFT_TOOLCHAIN:-$(cd "$(dirname "$(command -v swift)")/../.." && pwd)}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
[ "$(id -u)" = 0 ] || { echo "fresh-debian-check: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh-debian-check: install debootstrap first (apt-get install debootstrap)" >&2; exit 1; }
[ -x "$toolchain/usr/bin/swift" ] || { echo "fresh-debian-check: no Swift toolchain at $toolchain (set SWIFT_TOOLCHAIN)" >&2; exit 1; }

mounts=()
bind_ro() {  # host-path chroot-path
  mkdir -p "$dir$2"
  mount --bind "$1" "$dir$2" && mount -o remount,bind,ro "$dir$2"
  mounts+=("$dir$2")
}
cleanup() {
  pkill -f "chroot $dir " 2>/dev/null || true
  for p in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$p/root" 2>/dev/null)" = "$dir" ] && kill -9 "$p" 2>/dev/null || true
  done
  sleep 1
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  [ "${KEEP:-0}" = 1 ] || rm -rf --one-file-system "$dir"
}
trap cleanup EXIT

if [ ! -x "$dir/bin/bash" ]; then
  echo "== debootstrap bookworm (minbase) into $dir"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >/tmp/fresh-debian-debootstrap.log 2>&1 \
    || { tail -20 /tmp/fresh-debian-debootstrap.log >&2; exit 1; }
fi
mount -t proc proc "$dir/proc"; mounts+=("$dir/proc")
mount --rbind /dev "$dir/dev"; mount --make-rslave "$dir/dev"; mounts+=("$dir/dev")
cp /etc/resolv.conf "$dir/etc/resolv.conf"
bind_ro "$toolchain" /opt/swift
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$dir/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
fi
: > "$dir/etc/gitconfig"
git config --system --get-regexp '^url\..*\.insteadof$' 2>/dev/null | while read -r key value; do
  base=${key#url.}; base=${base%.insteadof}
  if [ -d "$base" ] && [ ! -d "$dir$base" ]; then bind_ro "$base" "$base"; fi
  git config --file "$dir/etc/gitconfig" --add "url.$base.insteadOf" "$value"
done
# (bind_ro in the pipeline's subshell cannot record the mount; find them again for cleanup)
while read -r _ target _; do case $target in "$dir"/*) mounts+=("$target") ;; esac; done < /proc/mounts
mkdir -p "$dir/src"; mount --bind "$repo" "$dir/src"; mounts+=("$dir/src")

cat > "$dir/root/fresh.sh" <<'SCRIPT'
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive HOME=/root
export PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
apt-get update -qq
# swift.org's prerequisites of the toolchain itself on Debian 12 (the README assumes a working toolchain):
apt-get install -y -qq binutils-gold gcc libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev \
  libsqlite3-0 libstdc++-12-dev libxml2-dev libncurses-dev libz3-dev pkg-config tzdata zlib1g-dev git \
  ca-certificates curl >/dev/null 2>&1
update-ca-certificates >/dev/null 2>&1
rm -rf /root/tandem && git -c safe.directory='*' clone -q /src /root/tandem
cd /root/tandem
echo "== fresh clone at $(git log --oneline -1)"
bash deploy/quickstart.sh
SCRIPT
log=/tmp/fresh-debian-quickstart.log
echo "== quickstart inside the chroot (log $log)"
setsid env -i TERM=dumb chroot "$dir" /bin/bash /root/fresh.sh >"$log" 2>&1 &
pid=$!
deadline=$((SECONDS + ${TIMEOUT_S:-3600}))
until grep -q "^ready: the OpenAI-compatible API" "$log"; do
  kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; echo "fresh-debian-check: quickstart exited before ready" >&2; exit 1; }
  [ $SECONDS -lt $deadline ] || { tail -30 "$log" >&2; echo "fresh-debian-check: not ready in time" >&2; exit 1; }
  sleep 5
done
echo "== ready; the README's curl example:"
answer=$(chroot "$dir" curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Authorization: Bearer sk-demo-change-me' \
  -H 'Content-Type: application/json' \
  -d '{"model": "smollm2", "messages": [{"role": "user", "content": "Name three colors."}], "max_tokens": 40}')
echo "$answer"
kill -TERM -- "-$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
echo "$answer" | grep -q '"finish_reason"' || { echo "fresh-debian-check: no completion in the answer" >&2; exit 1; }
echo "fresh-debian-check: passed"
