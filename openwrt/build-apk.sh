#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Turns each static mmkit binary (dist/<rust-target>/mmkit) into an OpenWrt 25.12+ package,
# dist/apk/<arch>/mmkit-<version>.apk: apk-tools v3 (ADB) made by the real `apk mkpkg` with
# the fields OpenWrt's include/package-pack.mk passes, byte-for-byte reproducible unless
# signed. Installs on the router with `apk add --allow-untrusted mmkit-<version>.apk`.
#
# Usage: openwrt/build-apk.sh [--dist DIR] [--out DIR] [--strict] [--sign KEY.pem]
#                             [--apk PATH] [ARCH...]
#   --dist DIR      where the binaries are (default: $MMKIT_DIST, else dist/ of the checkout)
#   --out DIR       where the packages go (default: <dist>/apk), one directory per arch
#   --strict        fail when a binary is missing (default: skip it with a message)
#   --sign KEY.pem  sign with this private key (ECDSA P-256 or RSA PEM, what `apk mkpkg
#                   --sign-key` takes); unsigned by default. A signature is not reproducible.
#   --apk PATH      apk-tools v3 binary (default: $APK, else built once from
#                   ../shared/third-party, see pm_tools in ipk-lib.sh)
#   ARCH...         package architectures to build (default: all of them)
# Version and SOURCE_DATE_EPOCH as build-ipk.sh. Run as root (or under fakeroot): the
# files are recorded with the owner they have.
# Exit: 0 when at least one package was built and none failed, 1 otherwise (also when
# there is no apk-tools: "build-apk: SKIP ..."), 2 on usage errors.
set -euo pipefail

# shellcheck source=ipk-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/ipk-lib.sh"

dist="${MMKIT_DIST:-$IPK_ROOT/dist}"
out=""
strict=0
key=""
apk=${APK:-}
arches=()
while [ $# -gt 0 ]; do
	case "$1" in
	--dist) [ $# -ge 2 ] || usage; dist=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--strict) strict=1; shift ;;
	--sign) [ $# -ge 2 ] || usage; key=$2; shift 2 ;;
	--apk) [ $# -ge 2 ] || usage; apk=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "build-apk: unknown option $1" >&2; usage ;;
	*)
		if [ -z "${IPK_TARGET[$1]:-}" ]; then
			echo "build-apk: unknown architecture '$1' (known: ${IPK_ARCHES[*]})" >&2
			exit 2
		fi
		arches+=("$1"); shift ;;
	esac
done
[ ${#arches[@]} -gt 0 ] || arches=("${IPK_ARCHES[@]}")
out=${out:-$dist/apk}
if [ -d "$dist" ]; then dist=$(cd "$dist" && pwd); fi
if [ -n "$key" ]; then
	[ -f "$key" ] || { echo "build-apk: no key file $key" >&2; exit 2; }
	key=$(cd "$(dirname "$key")" && pwd)/$(basename "$key")
fi

if [ -z "$apk" ]; then
	APK="" pm_tools
	apk=$APK_BIN
	if [ -z "$apk" ]; then
		echo "build-apk: SKIP: no apk-tools v3 to build with: $PM_WHY" >&2
		echo "build-apk: 0 built, ${#arches[@]} skipped, 0 failed"
		exit 1
	fi
fi
if ! "$apk" --version 2>/dev/null | grep -q '^apk-tools 3\.'; then
	echo "build-apk: $apk is not apk-tools v3 ($("$apk" --version 2>&1 | head -n 1))" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ] && [ -z "${FAKEROOTKEY:-}" ]; then
	echo "build-apk: warning: not root and not under fakeroot: files will be owned by 'nobody'" >&2
fi
version=$(ipk_version)
mkdir -p "$out"
out=$(cd "$out" && pwd)
sign=()
[ -z "$key" ] || sign=(--sign-key "$key")

built=0
skipped=0
failed=0
for arch in "${arches[@]}"; do
	# Refuse a binary of the wrong CPU, byte order or linking before it ships.
	rc=0
	bin=$(pkg_binary build-apk "$arch" "$dist") || rc=$?
	case $rc in
	0) ;;
	1) skipped=$((skipped + 1)); continue ;;
	*) failed=$((failed + 1)); continue ;;
	esac
	work=$(mktemp -d)
	apk_stage "$bin" "$work/root"
	mapfile -t info < <(apk_info_args "$arch")
	mkdir -p "$out/$arch"
	pkg="$out/$arch/$(apk_name)"
	if apk_mkpkg "$apk" "$work/root" "$pkg.tmp" ${sign[@]+"${sign[@]}"} -- "${info[@]}"; then
		mv -f "$pkg.tmp" "$pkg"
		echo "build-apk: $pkg ($(wc -c <"$pkg") bytes${key:+, signed})"
		built=$((built + 1))
	else
		rm -f "$pkg.tmp"
		echo "build-apk: FAIL $arch: apk mkpkg failed" >&2
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done

echo "build-apk: $built built, $skipped skipped, $failed failed (version $version, SOURCE_DATE_EPOCH $(ipk_epoch))"
if [ "$failed" -gt 0 ] || [ "$built" -eq 0 ]; then exit 1; fi
if [ "$strict" = 1 ] && [ "$skipped" -gt 0 ]; then exit 1; fi
exit 0
