#!/usr/bin/env bash
# OpenWrt packaging, end to end: checks openwrt/Makefile, builds one .ipk per architecture
# from dist/<rust-target>/mmkit (run ci/cross-build.sh first), and tests the packages.
#
# Usage: openwrt/ci.sh [--allow-missing] [--dist DIR] [--assume-fpu-emulator]
#   --allow-missing  architectures without a binary are skipped instead of failing
#   --dist DIR       where the binaries are (default: dist/ of the checkout)
#   --assume-fpu-emulator  passed to test-ipk.sh (MIPS binaries run on a 24Kf, not a 24Kc)
# Each step installs what it needs with apt-get when a tool is missing. Ends with the line
# "N passed, M failed, K skipped" summed over the three steps; exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
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
	elif grep -q '^build-ipk: .* built, ' "$log"; then
		# build-ipk: each built package counts as a pass, each failed one as a failure
		line=$(grep '^build-ipk: .* built, ' "$log" | tail -n 1)
		total_pass=$((total_pass + $(sed -E 's/^build-ipk: ([0-9]+) built.*/\1/' <<<"$line")))
		total_skip=$((total_skip + $(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")))
		total_fail=$((total_fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
	else
		total_fail=$((total_fail + 1))
	fi
	rm -f "$log"
}

run_step "check openwrt/Makefile" "$here/check-makefile.sh" --self-test
if [ "$allow_missing" = 1 ]; then
	run_step "build .ipk" "$here/build-ipk.sh" ${dist[@]+"${dist[@]}"}
	run_step "test .ipk" "$here/test-ipk.sh" --allow-missing ${dist[@]+"${dist[@]}"} ${test_args[@]+"${test_args[@]}"}
else
	run_step "build .ipk" "$here/build-ipk.sh" --strict ${dist[@]+"${dist[@]}"}
	run_step "test .ipk" "$here/test-ipk.sh" ${dist[@]+"${dist[@]}"} ${test_args[@]+"${test_args[@]}"}
fi

echo "$total_pass passed, $total_fail failed, $total_skip skipped"
if [ "$total_fail" -gt 0 ]; then status=1; fi
exit "$status"
