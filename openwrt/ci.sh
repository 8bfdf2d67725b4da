#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# OpenWrt packaging, end to end: checks openwrt/Makefile, builds one .ipk (OpenWrt <= 24.10,
# opkg) and one .apk (OpenWrt >= 25.12, apk-tools v3) per architecture from
# dist/<rust-target>/mmkit (the static musl builds: ci/mips-softfloat.sh and
# ci/musl-build.sh), and tests them, with the real opkg and apk when they are available.
#
# Usage: openwrt/ci.sh [--allow-missing] [--dist DIR] [--assume-fpu-emulator]
#   --allow-missing  architectures without a binary are skipped instead of failing
#   --dist DIR       where the binaries are (default: $MMKIT_DIST, else dist/ of the checkout)
#   --assume-fpu-emulator  passed to the tests (MIPS binaries run on a 24Kf, not a 24Kc)
# The real opkg and apk-tools: $OPKG and $APK, else built once (about 3 minutes) from
# ${MMKIT_THIRD_PARTY:-../shared/third-party}/build.sh into
# ${MMKIT_TOOLS_PREFIX:-/var/cache/mmkit-third-party}. Without them the .apk steps and the
# opkg checks say SKIP with the reason; the structural .ipk checks still run.
# Each step installs what it needs with apt-get when a tool is missing. Ends with the line
# "N passed, M failed, K skipped" summed over the steps; exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipk-lib.sh
. "$here/ipk-lib.sh"
allow_missing=0
dist=()
test_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--allow-missing) allow_missing=1; shift ;;
	--dist) [ $# -ge 2 ] || set -- --help; dist=(--dist "$2"); shift 2 ;;
	--assume-fpu-emulator) test_args+=(--assume-fpu-emulator); shift ;;
	*) awk 'NR > 1 && !/^#/ { exit } NR > 1 && !/shellcheck/ { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
	esac
done

total_pass=0
total_fail=0
total_skip=0
status=0
run_step() { # run_step NAME command...: runs, echoes its output, adds up its closing line
	local name=$1 log line p f s
	shift
	echo "== openwrt/ci: $name"
	log=$(mktemp)
	if "$@" 2>&1 | tee "$log"; then :; else status=1; fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	if [ -n "$line" ]; then
		p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
		s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		total_skip=$((total_skip + ${s:-0}))
	elif grep -Eq '^build-(ipk|apk): [0-9]+ built, ' "$log"; then
		# build-*: each built package counts as a pass, each failed one as a failure
		line=$(grep -E '^build-(ipk|apk): [0-9]+ built, ' "$log" | tail -n 1)
		total_pass=$((total_pass + $(sed -E 's/^build-...: ([0-9]+) built.*/\1/' <<<"$line")))
		total_skip=$((total_skip + $(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")))
		total_fail=$((total_fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
	else
		total_fail=$((total_fail + 1))
	fi
	rm -f "$log"
}

run_step "check openwrt/Makefile" "$here/check-makefile.sh" --self-test

# The real package managers (built from the third-party sources beside the checkout).
pm_tools
if [ -n "$OPKG_BIN" ]; then opkg=(--opkg "$OPKG_BIN"); else opkg=(--no-opkg); fi
echo "== openwrt/ci: package managers: opkg ${OPKG_BIN:-none}, apk ${APK_BIN:-none}${PM_WHY:+ ($PM_WHY)}"
if [ -z "$OPKG_BIN" ]; then
	echo "SKIP: real opkg checks: $PM_WHY"
	total_skip=$((total_skip + 1))
fi

strict=(--strict)
missing=()
if [ "$allow_missing" = 1 ]; then strict=(); missing=(--allow-missing); fi
run_step "build .ipk" "$here/build-ipk.sh" ${strict[@]+"${strict[@]}"} ${dist[@]+"${dist[@]}"}
if [ -n "$APK_BIN" ]; then
	run_step "build .apk" "$here/build-apk.sh" --apk "$APK_BIN" ${strict[@]+"${strict[@]}"} ${dist[@]+"${dist[@]}"}
else
	echo "SKIP: build .apk: no apk-tools v3: $PM_WHY"
	total_skip=$((total_skip + 1))
fi
run_step "test .ipk" "$here/test-ipk.sh" ${missing[@]+"${missing[@]}"} "${opkg[@]}" \
	${dist[@]+"${dist[@]}"} ${test_args[@]+"${test_args[@]}"}
if [ -n "$APK_BIN" ]; then
	run_step "test .apk" "$here/test-apk.sh" --apk "$APK_BIN" ${missing[@]+"${missing[@]}"} \
		${dist[@]+"${dist[@]}"} ${test_args[@]+"${test_args[@]}"}
else
	echo "SKIP: test .apk: no apk-tools v3: $PM_WHY"
	total_skip=$((total_skip + 1))
fi

echo "$total_pass passed, $total_fail failed, $total_skip skipped"
if [ "$total_fail" -gt 0 ]; then status=1; fi
exit "$status"
