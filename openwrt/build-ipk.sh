#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Turns each static mmkit binary (dist/<rust-target>/mmkit: static musl, from
# ci/mips-softfloat.sh and ci/musl-build.sh, see IPK_TARGET in ipk-lib.sh) into an
# OpenWrt .ipk, dist/ipk/mmkit_<version>_<arch>.ipk, in the format OpenWrt's
# scripts/ipkg-build produces, byte-for-byte reproducible.
#
# Usage: openwrt/build-ipk.sh [--dist DIR] [--out DIR] [--strict] [ARCH...]
#   --dist DIR  where the binaries are (default: $MMKIT_DIST, else dist/ of the checkout)
#   --out DIR   where the packages go (default: <dist>/ipk)
#   --strict    fail when a binary is missing (default: skip it with a message)
#   ARCH...     package architectures to build (default: all of them)
# Version: Cargo.toml's version + "-r" + PKG_RELEASE of openwrt/Makefile.
# Timestamps: SOURCE_DATE_EPOCH, else the last commit's time, else a fixed date.
# Exit: 0 when at least one package was built and none failed, 1 otherwise, 2 on usage errors.
set -euo pipefail

# shellcheck source=ipk-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/ipk-lib.sh"

dist="${MMKIT_DIST:-$IPK_ROOT/dist}"
out=""
strict=0
arches=()
while [ $# -gt 0 ]; do
	case "$1" in
	--dist) [ $# -ge 2 ] || usage; dist=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--strict) strict=1; shift ;;
	-h | --help) usage ;;
	-*) echo "build-ipk: unknown option $1" >&2; usage ;;
	*)
		if [ -z "${IPK_TARGET[$1]:-}" ]; then
			echo "build-ipk: unknown architecture '$1' (known: ${IPK_ARCHES[*]})" >&2
			exit 2
		fi
		arches+=("$1"); shift ;;
	esac
done
[ ${#arches[@]} -gt 0 ] || arches=("${IPK_ARCHES[@]}")
out=${out:-$dist/ipk}
if [ -d "$dist" ]; then dist=$(cd "$dist" && pwd); fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

ipk_need tar:tar gzip:gzip od:coreutils git:git
for tool in tar gzip od; do
	command -v "$tool" >/dev/null || { echo "build-ipk: $tool is missing" >&2; exit 1; }
done
if ! tar --version 2>/dev/null | grep -q 'GNU tar'; then
	echo "build-ipk: needs GNU tar (for --format=gnu --sort=name)" >&2
	exit 1
fi
version=$(cargo_version)
if [ -z "$version" ] || [ -z "$(mk_var PKG_RELEASE)" ]; then
	echo "build-ipk: cannot read the version from Cargo.toml or PKG_RELEASE from openwrt/Makefile" >&2
	exit 1
fi

built=0
skipped=0
failed=0
for arch in "${arches[@]}"; do
	# Refuse a binary of the wrong CPU, byte order or linking before it ships.
	rc=0
	bin=$(pkg_binary build-ipk "$arch" "$dist") || rc=$?
	case $rc in
	0) ;;
	1) skipped=$((skipped + 1)); continue ;;
	*) failed=$((failed + 1)); continue ;;
	esac
	pkg=$(ipk_build "$bin" "$arch" "$out")
	echo "build-ipk: $pkg ($(wc -c <"$pkg") bytes)"
	built=$((built + 1))
done

echo "build-ipk: $built built, $skipped skipped, $failed failed (version $(ipk_version), SOURCE_DATE_EPOCH $(ipk_epoch))"
if [ "$failed" -gt 0 ] || [ "$built" -eq 0 ]; then exit 1; fi
if [ "$strict" = 1 ] && [ "$skipped" -gt 0 ]; then exit 1; fi
exit 0
