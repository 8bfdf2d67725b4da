#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (idempotent:
# skips apt entirely when everything is already there).
set -euo pipefail
PKGS=(
    rustc-web cargo-web rust-web-src
    gcc-mips-linux-gnu gcc-mipsel-linux-gnu gcc-arm-linux-gnueabi gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu
    qemu-user-static tcpdump tshark busybox-static time cpio gzip xz-utils file binutils
)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
