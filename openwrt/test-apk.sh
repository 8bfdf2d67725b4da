#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016 # bash -c snippets are literal
# Checks the OpenWrt 25.12+ packages in dist/apk/<arch>/ with the real apk-tools v3: what
# `apk adbdump` shows, installing into an empty offline root the way OpenWrt's image build
# does, running the installed binary on its CPU, removing it, refusing a root of another
# architecture, reproducibility and signatures (`apk verify`); then proves the checker can
# fail by feeding it deliberately broken packages.
#
# Usage: openwrt/test-apk.sh [--dist DIR] [--apk-dir DIR] [--allow-missing] [--no-self-test]
#                            [--apk PATH] [--assume-fpu-emulator]
#   --dist DIR       where the static binaries are (default: $MMKIT_DIST, else dist/)
#   --apk-dir DIR    where the packages are (default: <dist>/apk)
#   --allow-missing  an architecture without a package is SKIP instead of FAIL
#   --no-self-test   skip the broken-package self-test
#   --apk PATH       apk-tools v3 (default: $APK, else built from ../shared/third-party);
#                    without one every check is SKIP with the reason
#   --assume-fpu-emulator  run the MIPS binaries on a 24Kf instead of a 24Kc
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed, K skipped";
# exits 1 when anything failed, 2 on usage errors.
set -euo pipefail

# shellcheck source=ipk-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/ipk-lib.sh"

dist="${MMKIT_DIST:-$IPK_ROOT/dist}"
apkdir=""
allow_missing=0
self_test=1
fpu_emulator=0
apk=${APK:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--dist) [ $# -ge 2 ] || usage; dist=$2; shift 2 ;;
	--apk-dir) [ $# -ge 2 ] || usage; apkdir=$2; shift 2 ;;
	--allow-missing) allow_missing=1; shift ;;
	--no-self-test) self_test=0; shift ;;
	--apk) [ $# -ge 2 ] || usage; apk=$2; shift 2 ;;
	--assume-fpu-emulator) fpu_emulator=1; shift ;;
	*) usage ;;
	esac
done
apkdir=${apkdir:-$dist/apk}
if [ -d "$dist" ]; then dist=$(cd "$dist" && pwd); fi
if [ -d "$apkdir" ]; then apkdir=$(cd "$apkdir" && pwd); fi
ipk_need od:coreutils openssl:openssl qemu-mips-static:qemu-user-static

pass=0
fail=0
skip=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
skp() { echo "SKIP: $*"; skip=$((skip + 1)); }
check() { # check "description" command... -> PASS or FAIL
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

if [ -z "$apk" ]; then
	APK="" pm_tools
	apk=$APK_BIN
fi
if [ -z "$apk" ]; then
	skp "all .apk checks: no apk-tools v3: $PM_WHY"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 0
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export LC_ALL=C

# Expected values, written out here rather than taken from the builder, so that a bug there
# cannot hide itself.
PKG=mmkit
ORIGIN=feeds/mmkit/utils/mmkit
CARGO_VERSION=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$IPK_ROOT/Cargo.toml" | head -n 1)
VERSION="$CARGO_VERSION-r$(sed -n 's/^PKG_RELEASE:=//p' "$IPK_MAKEFILE")"
LICENSE=$(sed -n 's/^PKG_LICENSE:=//p' "$IPK_MAKEFILE")
# The register maps every package ships as /etc/mmkit/<name> (0644), equal to regmaps/<name>,
# and the file list package-pack.mk writes (/lib/apk/packages/mmkit.list, one path a line).
REGMAPS="qemu-arm-virt.regs qemu-mips-malta.regs"
LIST=$(for m in $REGMAPS; do echo "/etc/mmkit/$m"; done; echo /usr/bin/mmkit)
LIST_SIZE=$((${#LIST} + 1))
MAINTAINER=$(sed -n 's/^PKG_MAINTAINER:=//p' "$IPK_MAKEFILE")
DESCRIPTION=$(awk '$0 == "define Package/mmkit/description" { on = 1; next } on && $0 == "endef" { exit }
	on { sub(/^[ \t]+/, ""); printf "%s%s", sep, $0; sep = " " }' "$IPK_MAKEFILE")
declare -A WANT_ELF=( # bits, byte order, e_machine (EM_MIPS 8, EM_ARM 40, EM_AARCH64 183, EM_X86_64 62)
	[mipsel_24kc]="32 lsb 8" [mips_24kc]="32 msb 8" [arm_cortex-a7_neon-vfpv4]="32 lsb 40"
	[aarch64_cortex-a53]="64 lsb 183" [arm_arm926ej-s]="32 lsb 40" [x86_64]="64 lsb 62"
)
declare -A QEMU=( # how to run the binary on the package's CPU (24Kc: no FPU, see test-ipk.sh)
	[mipsel_24kc]="qemu-mipsel-static -cpu 24Kc" [mips_24kc]="qemu-mips-static -cpu 24Kc"
	[arm_cortex-a7_neon-vfpv4]="qemu-arm-static -cpu cortex-a7"
	[aarch64_cortex-a53]="qemu-aarch64-static -cpu cortex-a53" [arm_arm926ej-s]="qemu-arm-static -cpu arm926"
	[x86_64]=""
)
# Another architecture per architecture, for the wrong-root checks.
declare -A OTHER=(
	[mipsel_24kc]=mips_24kc [mips_24kc]=mipsel_24kc [arm_cortex-a7_neon-vfpv4]=arm_arm926ej-s
	[arm_arm926ej-s]=arm_cortex-a7_neon-vfpv4 [aarch64_cortex-a53]=x86_64 [x86_64]=aarch64_cortex-a53
)

# info_field DUMP KEY: value of KEY in the info: block of an adbdump (block scalars joined).
info_field() {
	awk -v key="$2" '
		/^info:/ { on = 1; next }
		/^[^ ]/ { on = 0 }
		!on { next }
		blk && /^    / { sub(/^    /, ""); v = v (v == "" ? "" : " ") $0; next }
		blk { print v; blk = 0; exit }
		$0 ~ "^  " key ": " {
			v = substr($0, length(key) + 5)
			if (v == "|" || v == "|-") { v = ""; blk = 1; next }
			print v; exit
		}
		END { if (blk) print v }' "$1"
}

# dump_paths DUMP: one line per directory ("D name mode user group") and per file
# ("F path mode user group size mtime") of the paths: block of an adbdump.
dump_paths() {
	awk '
		function flush() {
			if (kind == "D") print "D", (dir == "" ? "/" : dir), mode, user, group
			if (kind == "F") print "F", dir "/" name, mode, user, group, size, mtime
			kind = ""; mode = user = group = size = mtime = "-"
		}
		/^paths:/ { on = 1; next }
		/^[^ ]/ { if (on) flush(); on = 0 }
		!on { next }
		/^  - / { flush(); kind = "D"; dir = ""; if ($0 ~ /^  - name: /) dir = substr($0, 11); next }
		/^      - name: / { flush(); kind = "F"; name = substr($0, 15); next }
		/^ +mode: / { mode = $2 } /^ +user: / { user = $2 } /^ +group: / { group = $2 }
		/^ +size: / { size = $2 } /^ +mtime: / { mtime = $2 }
		END { if (on) flush() }' "$1"
}

# new_root DIR: an empty offline root the way include/rootfs.mk starts one.
new_root() {
	rm -rf "$1"
	mkdir -p "$1/tmp"
}

# apk_add ROOT ARCH FILE [options...]: the image build's command, offline.
apk_add() {
	local r=$1 arch=$2 f=$3
	shift 3
	"$apk" --root "$r" --initdb --no-network --arch "$arch" --no-scripts --quiet "$@" add "$f"
}

# run_on ARCH BINARY ARGS...: runs the binary on the package's CPU (qemu-user).
run_on() {
	local arch=$1 q
	shift
	q=${QEMU[$arch]}
	if [ "$fpu_emulator" = 1 ] && [[ "$q" == *24Kc ]]; then q="${q%24Kc}24Kf"; fi
	# shellcheck disable=SC2086 # $q is a command with options
	$q "$@"
}

# check_apk FILE ARCH [BINARY]: all checks of one package. ST_QUICK=1 (self-test) skips
# the slow demo run.
check_apk() {
	local f=$1 arch=$2 bin=${3:-} tag="[$2]" d="$TMP/dump.$2.$RANDOM" epoch size want got r elf
	local bits order machine flags link
	check "$tag file name is $arch/$PKG-$VERSION.apk (OpenWrt: bin/packages/<arch>/...)" \
		test "$(basename "$(dirname "$f")")/$(basename "$f")" = "$arch/$PKG-$VERSION.apk"
	if ! "$apk" adbdump "$f" >"$d" 2>"$d.err" || ! grep -q '^info:' "$d"; then
		bad "$tag apk adbdump reads it: $(head -c 200 "$d.err")"
		return 0
	fi
	ok "$tag apk adbdump reads it (apk-tools v3 package)"
	check "$tag name: $PKG" test "$(info_field "$d" name)" = "$PKG"
	check "$tag version: $VERSION (Cargo.toml + PKG_RELEASE)" test "$(info_field "$d" version)" = "$VERSION"
	check "$tag arch: $arch" test "$(info_field "$d" arch)" = "$arch"
	check "$tag license: $LICENSE (PKG_LICENSE)" test "$(info_field "$d" license)" = "$LICENSE"
	check "$tag origin: $ORIGIN (what the SDK writes for the feed)" test "$(info_field "$d" origin)" = "$ORIGIN"
	check "$tag maintainer is PKG_MAINTAINER" test "$(info_field "$d" maintainer)" = "$MAINTAINER"
	check "$tag description is the Makefile's, on one line" test "$(info_field "$d" description)" = "$DESCRIPTION"
	check "$tag no depends (static binary, not even libc)" bash -c '! grep -q "^depends:\|^  depends:" "$1"' _ "$d"
	epoch=$(dump_paths "$d" | awk '$1 == "F" && $2 == "usr/bin/mmkit" { print $7 }')
	size=$(dump_paths "$d" | awk '$1 == "F" && $2 == "usr/bin/mmkit" { print $6 }')
	local m msize maps_size=0
	want="D / 0755 root root|D etc 0755 root root|D etc/mmkit 0755 root root|"
	for m in $REGMAPS; do
		msize=$(wc -c <"$IPK_ROOT/regmaps/$m")
		maps_size=$((maps_size + msize))
		want+="F etc/mmkit/$m 0644 root root $msize $epoch|"
	done
	want+="D lib 0755 root root|D lib/apk 0755 root root|D lib/apk/packages 0755 root root|F lib/apk/packages/mmkit.list 0644 root root $LIST_SIZE $epoch|D usr 0755 root root|D usr/bin 0755 root root|F usr/bin/mmkit 0755 root root $size $epoch|"
	got=$(dump_paths "$d" | tr '\n' '|')
	check "$tag files are exactly /etc/mmkit/{${REGMAPS// /,}} (0644), /usr/bin/mmkit (0755) and /lib/apk/packages/mmkit.list (0644), root:root, one mtime (got: $got)" \
		test "$got" = "$want"
	check "$tag mtime is a SOURCE_DATE_EPOCH ($epoch)" test -n "$epoch" -a -z "${epoch//[0-9]/}"
	check "$tag installed-size is the sum of the file sizes" \
		test "$(info_field "$d" installed-size)" = "$((size + maps_size + LIST_SIZE))"

	# Install into an empty offline root, as the image build and `apk add` on the router do.
	r="$TMP/root.$arch"
	new_root "$r"
	if ! apk_add "$r" "$arch" "$f" --allow-untrusted >"$d.log" 2>&1; then
		bad "$tag apk add --allow-untrusted into an offline $arch root: $(tr '\n' ' ' <"$d.log")"
		return 0
	fi
	ok "$tag apk add --allow-untrusted into an offline $arch root"
	check "$tag apk info -e: mmkit installed" "$apk" --root "$r" --no-network info -e "$PKG" -q
	want=$(for m in $REGMAPS; do printf 'etc/mmkit/%s ' "$m"; done)"lib/apk/packages/mmkit.list usr/bin/mmkit "
	check "$tag apk info -L lists exactly ${want% }" \
		bash -c '[ "$("$1" --root "$2" --no-network info -L mmkit 2>/dev/null | grep -v "contains:" | grep . | sort | tr "\n" " ")" = "$3" ]' _ "$apk" "$r" "$want"
	check "$tag /lib/apk/packages/mmkit.list is exactly: $(tr '\n' ' ' <<<"$LIST")" \
		test "$(cat "$r/lib/apk/packages/mmkit.list" 2>/dev/null)" = "$LIST"
	local maps_ok=1
	for m in $REGMAPS; do
		if ! cmp -s "$r/etc/mmkit/$m" "$IPK_ROOT/regmaps/$m" ||
			[ "$(stat -c %a:%u:%g "$r/etc/mmkit/$m" 2>/dev/null)" != 644:0:0 ]; then maps_ok=0; fi
	done
	check "$tag installed /etc/mmkit/{${REGMAPS// /,}} are 0644 0:0 and equal regmaps/ byte for byte" \
		test "$maps_ok" = 1
	local exe="$r/usr/bin/mmkit"
	check "$tag installed /usr/bin/mmkit is executable, owner 0:0" \
		test -x "$exe" -a "$(stat -c %u:%g "$exe" 2>/dev/null)" = 0:0
	if [ -f "$exe" ] && elf=$(elf_describe "$exe"); then
		read -r bits order machine flags link <<<"$elf"
		check "$tag ELF class/byte order/machine is ${WANT_ELF[$arch]} (got: $bits $order $machine)" \
			test "$bits $order $machine" = "${WANT_ELF[$arch]}"
		check "$tag binary is static (no PT_INTERP)" test "$link" = static
		case "$arch" in
		arm_cortex-a7_neon-vfpv4) check "$tag ARM hard-float EABI5 (e_flags $flags)" test $((flags & 0xff000400)) -eq $((0x05000400)) ;;
		arm_arm926ej-s) check "$tag ARM soft-float EABI5 (e_flags $flags)" test $((flags & 0xff000400)) -eq $((0x05000000)) ;;
		esac
	else
		bad "$tag installed /usr/bin/mmkit is an ELF file"
	fi
	if [ -n "$bin" ] && [ -f "$bin" ]; then
		check "$tag installed binary is byte-identical to $bin" cmp -s "$exe" "$bin"
	fi
	budget=$(budget_bytes "$arch")
	check "$tag installed binary is within the budget of $((budget / 1024)) KiB ($size bytes)" test "${size:-0}" -gt 0 -a "${size:-0}" -le "$budget"
	got=$(run_on "$arch" "$exe" --version 2>&1 | head -n 1) || true
	check "$tag mmkit --version on ${QEMU[$arch]:-this CPU} prints \"$PKG $CARGO_VERSION\" (got: $got)" \
		test "$got" = "$PKG $CARGO_VERSION"
	if [ "${ST_QUICK:-0}" != 1 ]; then
		mkdir -p "$r/tmp/demo"
		if TMPDIR="$r/tmp/demo" run_on "$arch" "$exe" demo >"$d.demo" 2>&1; then
			ok "$tag installed mmkit demo runs on ${QEMU[$arch]:-this CPU} (exit 0)"
		else
			bad "$tag installed mmkit demo on ${QEMU[$arch]:-this CPU}: $(tail -n 3 "$d.demo" | tr '\n' ' ')"
		fi
	fi
	if "$apk" --root "$r" --no-network --no-scripts --quiet del "$PKG" >"$d.log" 2>&1 &&
		[ ! -e "$exe" ] && [ ! -e "$r/lib/apk/packages/mmkit.list" ] &&
		[ -z "$(ls -A "$r/etc/mmkit" 2>/dev/null)" ]; then
		ok "$tag apk del removes /usr/bin/mmkit, the register maps and its .list"
	else
		bad "$tag apk del: $(tr '\n' ' ' <"$d.log")"
	fi

	# A root of another architecture must refuse it.
	local other=${OTHER[$arch]}
	r="$TMP/wrong.$arch"
	new_root "$r"
	if apk_add "$r" "$other" "$f" --allow-untrusted >"$d.log" 2>&1 || [ -e "$r/usr/bin/mmkit" ]; then
		bad "$tag an $other root refuses it (it installed)"
	else
		ok "$tag an $other root refuses it ($(grep -o 'uninstallable\|arch: [^ ]*' "$d.log" | head -n 2 | tr '\n' ' '))"
	fi
	rm -rf "$TMP/root.$arch" "$r" "$d" "$d".*
}

# ---- the packages ----
echo "test-apk: packages in $apkdir, version $VERSION, $("$apk" --version)"
present=()
for arch in "${IPK_ARCHES[@]}"; do
	f="$apkdir/$arch/$PKG-$VERSION.apk"
	if [ ! -f "$f" ]; then
		if [ "$allow_missing" = 1 ]; then
			skp "[$arch] no package $f"
		else
			bad "[$arch] package $f exists (run openwrt/build-apk.sh)"
		fi
		continue
	fi
	present+=("$arch")
	check_apk "$f" "$arch" "$dist/${IPK_TARGET[$arch]}/mmkit"
done

if [ ${#present[@]} -gt 0 ]; then
	first=${present[0]}
	first_pkg="$apkdir/$first/$PKG-$VERSION.apk"
	pkg_epoch=$("$apk" adbdump "$first_pkg" | sed -n 's/^ *mtime: //p' | head -n 1)

	# ---- reproducible: rebuild in another umask and time zone, compare bytes ----
	rebuilt="$TMP/rebuilt"
	(umask 077 && export SOURCE_DATE_EPOCH="$pkg_epoch" TZ=Pacific/Kiritimati &&
		"$IPK_LIB_DIR/build-apk.sh" --apk "$apk" --dist "$dist" --out "$rebuilt" "${present[@]}") \
		>"$TMP/rebuild.log" 2>&1 || true
	for arch in "${present[@]}"; do
		check "[reproducible] rebuilding $arch/$PKG-$VERSION.apk (umask 077, other TZ) gives identical bytes" \
			cmp -s "$apkdir/$arch/$PKG-$VERSION.apk" "$rebuilt/$arch/$PKG-$VERSION.apk"
	done

	# ---- signatures: --sign KEY.pem, apk verify, a trusted key instead of --allow-untrusted ----
	keys="$TMP/keys"
	mkdir -p "$keys/a" "$keys/b"
	for k in a b; do
		openssl ecparam -name prime256v1 -genkey -noout -out "$keys/$k.pem" 2>/dev/null
		openssl ec -in "$keys/$k.pem" -pubout -out "$keys/$k/mmkit-test-$k.pem" 2>/dev/null
	done
	signed="$TMP/signed"
	if SOURCE_DATE_EPOCH="$pkg_epoch" "$IPK_LIB_DIR/build-apk.sh" --apk "$apk" --dist "$dist" --out "$signed" \
		--sign "$keys/a.pem" "${present[@]}" >"$TMP/sign.log" 2>&1; then
		ok "[sign] build-apk.sh --sign KEY.pem builds ${#present[@]} signed packages"
	else
		bad "[sign] build-apk.sh --sign: $(tail -n 3 "$TMP/sign.log" | tr '\n' ' ')"
	fi
	for arch in "${present[@]}"; do
		s="$signed/$arch/$PKG-$VERSION.apk"
		check "[sign][$arch] apk verify accepts it with the signer's public key" \
			bash -c '"$1" verify --keys-dir "$2" "$3" >/dev/null 2>&1' _ "$apk" "$keys/a" "$s"
		check "[sign][$arch] apk verify rejects it with another key" \
			bash -c '! "$1" verify --keys-dir "$2" "$3" >/dev/null 2>&1' _ "$apk" "$keys/b" "$s"
		r="$TMP/trusted.$arch"
		new_root "$r"
		mkdir -p "$r/etc/apk/keys"
		cp "$keys/a/mmkit-test-a.pem" "$r/etc/apk/keys/"
		check "[sign][$arch] installs without --allow-untrusted into a root that trusts the key" \
			bash -c '"$1" --root "$2" --initdb --no-network --arch "$3" --no-scripts --quiet add "$4" >/dev/null 2>&1 && [ -x "$2/usr/bin/mmkit" ]' \
			_ "$apk" "$r" "$arch" "$s"
		rm -rf "$r"
	done
	check "[sign] apk verify rejects the unsigned package" \
		bash -c '! "$1" verify --keys-dir "$2" "$3" >/dev/null 2>&1' _ "$apk" "$keys/a" "$first_pkg"
	r="$TMP/untrusted"
	new_root "$r"
	check "[sign] without --allow-untrusted an unsigned package is refused" \
		bash -c '! "$1" --root "$2" --initdb --no-network --arch "$3" --no-scripts --quiet add "$4" >/dev/null 2>&1 && [ ! -e "$2/usr/bin/mmkit" ]' \
		_ "$apk" "$r" "$first" "$first_pkg"
	rm -rf "$r"

	# ---- self-test: broken packages must be rejected ----
	if [ "$self_test" = 1 ]; then
		# shellcheck source=test-apk-selftest.sh
		. "$IPK_LIB_DIR/test-apk-selftest.sh"
		run_apk_self_test "$first" "$first_pkg" "$dist/${IPK_TARGET[$first]}/mmkit"
	fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
