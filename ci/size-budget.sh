#!/usr/bin/env bash
# ci/size-budget.sh [--dist DIR] [--self-test]: the size of every packaged
# binary there is (dist/<rust-target>/mmkit of the OpenWrt packages, as
# openwrt/ipk-lib.sh maps them: ci/mips-softfloat.sh and ci/musl-build.sh build
# them), one line each:
#
#   target  bytes  xz -9 bytes  headroom to the hard budget  target size (over/under)
#
# The hard budget is openwrt/ipk-lib.sh's budget_bytes (600 KiB, 614,400 B),
# which openwrt/ci.sh enforces on the installed packages; the target is where
# the binaries should be: 540,000 B for mips/mipsel, 480,000 B for the others.
# Exit status: 1 if a binary is above the hard budget (being above the target
# only prints "over"), 0 otherwise, also when no binary has been built.
#   --dist DIR   where the binaries are (default: $MMKIT_DIST, else dist/ of the checkout)
#   --self-test  checks this script's own verdicts on made-up files, then exits
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../openwrt/ipk-lib.sh
. "$here/../openwrt/ipk-lib.sh"
dist=${MMKIT_DIST:-$here/../dist}

target_bytes() { # target_bytes RUST-TARGET
	case $1 in
	mips-* | mipsel-*) echo 540000 ;;
	*) echo 480000 ;;
	esac
}

# report DIST: the table; returns 1 if a binary is above the hard budget
report() {
	local d=$1 arch t f bytes xzb budget goal seen=0 over=0 note
	printf '%-32s %9s %9s %9s %9s\n' target bytes xz-9 headroom target
	for arch in "${IPK_ARCHES[@]}"; do
		t=${IPK_TARGET[$arch]}
		f=$d/$t/mmkit
		[ -f "$f" ] || continue
		seen=$((seen + 1))
		bytes=$(stat -c %s "$f")
		xzb=$(xz -9 -c "$f" | wc -c)
		budget=$(budget_bytes "$arch")
		goal=$(target_bytes "$t")
		if [ "$bytes" -gt "$budget" ]; then
			note="OVER THE BUDGET by $((bytes - budget))"
			over=1
		elif [ "$bytes" -gt "$goal" ]; then
			note="over the target by $((bytes - goal))"
		else
			note="under the target by $((goal - bytes))"
		fi
		printf '%-32s %9d %9d %9d %9d  %s\n' "$t" "$bytes" "$xzb" "$((budget - bytes))" "$goal" "$note"
	done
	if [ "$seen" = 0 ]; then
		echo "size-budget: no packaged binary in $d (build them with ci/mips-softfloat.sh, ci/musl-build.sh)"
	fi
	[ "$over" = 0 ]
}

self_test() {
	local tmp fails=0
	tmp=$(mktemp -d)
	expect() { # expect RC DESCRIPTION: the last report's status
		if [ "$1" = "$rc" ]; then echo "ok: $2"; else echo "FAIL: $2 (status $rc, expected $1)"; fails=$((fails + 1)); fi
	}
	mkdir -p "$tmp/empty" "$tmp/a/mipsel-unknown-linux-musl" "$tmp/a/x86_64-unknown-linux-musl"
	rc=0; report "$tmp/empty" >/dev/null || rc=$?
	expect 0 "no binary: passes"
	truncate -s 614400 "$tmp/a/mipsel-unknown-linux-musl/mmkit"
	truncate -s 500000 "$tmp/a/x86_64-unknown-linux-musl/mmkit"
	rc=0; out=$(report "$tmp/a") || rc=$?
	expect 0 "exactly at the budget, and over the target only: passes"
	rc=0; grep -q '^mipsel-unknown-linux-musl *614400 .* 0 *540000  over the target by 74400$' <<<"$out" || rc=$?
	expect 0 "mipsel line: bytes, headroom 0, target 540000, over by 74400"
	rc=0; grep -q '^x86_64-unknown-linux-musl *500000 .* 114400 *480000  over the target by 20000$' <<<"$out" || rc=$?
	expect 0 "x86_64 line: headroom 114400, target 480000"
	truncate -s 614401 "$tmp/a/mipsel-unknown-linux-musl/mmkit"
	rc=0; out=$(report "$tmp/a") || rc=$?
	expect 1 "one byte over the budget: fails"
	rc=0; grep -q 'OVER THE BUDGET by 1$' <<<"$out" || rc=$?
	expect 0 "says by how much"
	rm -rf "$tmp"
	echo "size-budget self-test: $fails failed"
	[ "$fails" = 0 ]
}

while [ $# -gt 0 ]; do
	case $1 in
	--dist) [ $# -ge 2 ] || { echo "--dist needs a directory" >&2; exit 2; }; dist=$2; shift 2 ;;
	--self-test) self_test; exit ;;
	*) sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
	esac
done
report "$dist"
