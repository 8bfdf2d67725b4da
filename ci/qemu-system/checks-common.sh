# shellcheck shell=dash
# Checks for every architecture, run in the iomem=relaxed boots (sourced by
# /init with lib.sh; ARCH=arm|mips): alignment traps switched to "signal",
# odd-layout files through gen/split/check/join, the empty-file mmap bus
# error, and the ipk installed the way opkg does.
# $ODD holds several flags and is split on purpose:
# shellcheck disable=SC2086
: "${ARCH:?}" "${SIGBUS_RC:?}"

# Negative controls (ci/controls/src/main.rs): the unsafe subcommands die of
# SIGBUS (exit $SIGBUS_RC: 128 + 7 on ARM, 128 + 10 on MIPS) when the kernel
# punishes what they do.
CONTROLS=/bin/mmkit-controls
# The naive decoder: a pointer-cast load at an odd offset. ARMv7 fixes up a
# plain unaligned `ldr` in hardware, so on ARM it is the u64 (`ldrd`) load
# that traps; MIPS traps on the u32 (`lw`).
case $ARCH in
arm) NAIVE=u64 ;;
*) NAIVE=u32 ;;
esac

# seed layout with a 137-byte file header: every record starts at an odd offset
ODD="--layout seed --header-len 137"

REC=${MMKIT_GUEST_TMP:-/tmp}/rec
mkdir -p "$REC"
cd "$REC" || exit 1

# naive_survives NAME FILE OFF: with the kernel's default fix-up the naive
# load survives and reads what read_unaligned reads (the control is sound).
naive_survives() {
    run "$CONTROLS" "$NAIVE-safe" "$2" "$3"
    safe=$OUT
    run "$CONTROLS" "$NAIVE" "$2" "$3"
    if [ "$RC" = 0 ] && [ -n "$OUT" ] && [ "$OUT" = "$safe" ]; then
        pass "$1" "$NAIVE pointer cast at offset $3 with the default fix-up: '$OUT' (same as read_unaligned)"
    else
        fail "$1" "$NAIVE pointer cast at offset $3 with the default fix-up: exit $RC '$OUT' $ERR; read_unaligned: '$safe'"
    fi
}
# naive_dies NAME FILE OFF: with alignment traps set to signal it dies.
naive_dies() {
    run "$CONTROLS" "$NAIVE" "$2" "$3"
    if [ "$RC" = "$SIGBUS_RC" ]; then
        pass "$1" "$NAIVE pointer cast at offset $3 of $2: killed by SIGBUS (exit $SIGBUS_RC)"
    else
        fail "$1" "$NAIVE pointer cast at offset $3 of $2: exit $RC '$OUT', want $SIGBUS_RC (SIGBUS): $ERR"
    fi
}

# -------------------------------------------------- alignment traps: signal
dd if=/dev/urandom of=probe.bin bs=4096 count=1 2>/dev/null
naive_survives control-naive-fixup probe.bin 137
case $ARCH in
arm)
    echo 4 >/proc/cpu/alignment
    if grep -q 'User faults:.*(signal)' /proc/cpu/alignment; then
        pass align-signal "/proc/cpu/alignment: $(grep 'User faults' /proc/cpu/alignment | tr -s '\t ' ' ')"
    else
        fail align-signal "could not set /proc/cpu/alignment to 4 (signal): $(grep 'User faults' /proc/cpu/alignment)"
    fi
    ;;
mips)
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    echo 1 >/sys/kernel/debug/mips/unaligned_action
    v=$(cat /sys/kernel/debug/mips/unaligned_action 2>&1)
    if [ "$v" = 1 ]; then
        pass align-signal "debugfs mips/unaligned_action = 1 (signal)"
    else
        fail align-signal "could not set debugfs mips/unaligned_action to 1: '$v'"
    fi
    ;;
esac
naive_dies control-naive-signal probe.bin 137

# ------------------------------------------- odd layouts: gen/split/check/join
REC=${MMKIT_GUEST_TMP:-/tmp}/rec
# roundtrip NAME FILE PIECE-SIZE WRITE-MODE LAYOUT-FLAGS...:
# split FILE, check every piece, join them, compare with FILE.
roundtrip() {
    rt=$1
    f=$2
    sz=$3
    wm=$4
    shift 4
    rm -rf "$rt.d" "$rt.joined"
    mkdir -p "$rt.d"
    run mmkit split "$f" -o "$rt.d" --size "$sz" --write "$wm" "$@"
    if [ "$RC" != 0 ]; then
        fail "$rt-split" "mmkit split $f --size $sz --write $wm $*: exit $RC: $ERR"
        return
    fi
    n=$(find "$rt.d" -type f | wc -l)
    if [ "$n" -lt 2 ]; then
        fail "$rt-split" "only $n piece(s) from $(wc -c <"$f") bytes at --size $sz"
        return
    fi
    pass "$rt-split" "$n pieces (--write $wm)"
    run mmkit check "$@" "$rt.d"/*
    if [ "$RC" = 0 ]; then
        pass "$rt-check" "all $n pieces clean"
    else
        fail "$rt-check" "mmkit check of the pieces: exit $RC: $ERR"
    fi
    run mmkit join -o "$rt.joined" "$@" "$rt.d"/*
    if [ "$RC" = 0 ] && cmp -s "$f" "$rt.joined"; then
        pass "$rt-join" "joined file identical to the original ($(wc -c <"$f") bytes)"
    else
        fail "$rt-join" "mmkit join: exit $RC, cmp: $(cmp "$f" "$rt.joined" 2>&1): $ERR"
    fi
}

# gen NAME FILE SIZE FLAGS...
gen() {
    gn=$1
    shift
    run mmkit gen "$@" -f
    if [ "$RC" = 0 ] && [ -s "$1" ]; then
        pass "$gn-gen" "mmkit gen $*: $(wc -c <"$1") bytes"
        return 0
    fi
    fail "$gn-gen" "mmkit gen $*: exit $RC: $ERR"
    return 1
}

if gen odd odd.seed $ODD --size 3M --seed 7 --min-payload 1 --max-payload 1001; then
    # The naive decoder dies on the first record's magic of this very file.
    naive_dies control-naive-decode odd.seed 137
    run mmkit check $ODD odd.seed
    if [ "$RC" = 0 ]; then pass odd-whole-check "odd.seed is clean: $(printf '%s' "$OUT" | tr '\n' ' ' | cut -c1-160)"; else fail odd-whole-check "exit $RC: $ERR"; fi
    roundtrip odd odd.seed 512K kernel $ODD
    roundtrip odd-mmap odd.seed 700K mmap $ODD
    # A corrupted record magic at an odd offset is reported (exit 3), not a crash.
    cp odd.seed bad.seed
    printf '\377' | dd of=bad.seed bs=1 seek=137 conv=notrunc 2>/dev/null
    run mmkit check $ODD bad.seed
    if [ "$RC" = 3 ]; then
        pass odd-malformed "corrupted magic at offset 137: exit 3: $(printf '%s' "$OUT $ERR" | tr '\n' ' ' | cut -c1-200)"
    else
        fail odd-malformed "corrupted magic at offset 137: exit $RC, want 3: $ERR"
    fi
    rm -f bad.seed
fi
if gen odd-be odd-be.seed $ODD --endian be --size 2M --seed 11 --min-payload 3 --max-payload 333; then
    roundtrip odd-be odd-be.seed 300K kernel $ODD --endian be
fi
if gen pcap odd.pcap --layout pcap --size 2M --seed 5 --min-payload 1 --max-payload 1499; then
    roundtrip pcap odd.pcap 400K mmap --layout pcap
fi

# ----------------------------------- the seed's classic: mmap of an empty file
run "$CONTROLS" empty-write "$REC/empty.out"
if [ "$RC" = "$SIGBUS_RC" ]; then
    pass control-empty-write "storing through a mapping of an empty new file: killed by SIGBUS (exit $SIGBUS_RC)"
else
    fail control-empty-write "mapping an empty new file and storing: exit $RC '$OUT', want $SIGBUS_RC (SIGBUS): $ERR"
fi
run "$CONTROLS" past-eof probe.bin
if [ "$RC" = "$SIGBUS_RC" ]; then
    pass control-past-eof "reading a mapped page wholly past EOF: killed by SIGBUS (exit $SIGBUS_RC)"
else
    fail control-past-eof "reading a mapped page past EOF: exit $RC '$OUT', want $SIGBUS_RC (SIGBUS): $ERR"
fi
if [ -s odd.seed ]; then
    rm -f copy.seed
    run mmkit copy odd.seed copy.seed --method mmap
    if [ "$RC" = 0 ] && cmp -s odd.seed copy.seed; then
        pass copy-mmap "mmkit copy --method mmap: identical ($(wc -c <copy.seed) bytes)"
    else
        fail copy-mmap "mmkit copy --method mmap: exit $RC: $ERR"
    fi
    # copy into an existing empty file (the seed's exact situation)
    rm -f copy2.seed
    : >copy2.seed
    run mmkit copy odd.seed copy2.seed --method mmap -f
    if [ "$RC" = 0 ] && cmp -s odd.seed copy2.seed; then
        pass copy-mmap-over-empty "over an existing 0-byte file: identical"
    else
        fail copy-mmap-over-empty "over an existing 0-byte file: exit $RC: $ERR"
    fi
    rm -f copy.seed copy2.seed

    # A full filesystem: mapped writes must end in ENOSPC (exit 5), not in a
    # SIGBUS when the page cache cannot be backed.
    mkdir -p /mnt/small
    if mount -t tmpfs -o size=1m tmpfs /mnt/small; then
        mkdir -p /mnt/small/p
        run mmkit split odd.seed -o /mnt/small/p --size 512K --write mmap $ODD
        if [ "$RC" = 5 ] && contains "$ERR" "ENOSPC"; then
            pass enospc-split-mmap "split --write mmap into a 1 MiB tmpfs: exit 5: $ERR"
        else
            fail enospc-split-mmap "split --write mmap into a 1 MiB tmpfs: exit $RC, want 5 (ENOSPC): $ERR"
        fi
        rm -rf /mnt/small/p
        run mmkit copy odd.seed /mnt/small/c --method mmap
        if [ "$RC" = 5 ] && [ ! -e /mnt/small/c ]; then
            pass enospc-copy-mmap "copy --method mmap into a 1 MiB tmpfs: exit 5, no partial file: $ERR"
        else
            fail enospc-copy-mmap "copy --method mmap into a 1 MiB tmpfs: exit $RC (want 5), partial file: $(ls /mnt/small): $ERR"
        fi
        # A register --file with holes on the full filesystem: a write is
        # ENOSPC (exit 5), not a bus error blamed on a missing device.
        rm -f /mnt/small/*
        dd if=/dev/zero of=/mnt/small/sparse.bin bs=1 count=0 seek=1048576 2>/dev/null
        dd if=/dev/zero of=/mnt/small/fill bs=4096 2>/dev/null
        run mmkit devmem --file /mnt/small/sparse.bin 0x8000 32 0x1
        if [ "$RC" = 5 ] && contains "$ERR" "ENOSPC"; then
            pass enospc-devmem-file "devmem --file, a hole of a sparse file on a full tmpfs: exit 5: $ERR"
        else
            fail enospc-devmem-file "devmem --file, a hole on a full tmpfs: exit $RC, want 5 (ENOSPC): $ERR"
        fi
        rm -f /mnt/small/*
        umount /mnt/small
    else
        fail enospc-setup "cannot mount a 1 MiB tmpfs on /mnt/small"
    fi

    # The spellings users type: --name=value, -vv and -q after the command;
    # -q leaves only errors (split prints no summary).
    rm -rf sp.d
    mkdir -p sp.d
    run mmkit split odd.seed --out-dir=sp.d --size=512K -q $ODD
    n=$(find sp.d -type f | wc -l)
    if [ "$RC" = 0 ] && [ -z "$OUT" ] && [ -z "$ERR" ] && [ "$n" -ge 2 ]; then
        pass cli-spellings "split --out-dir=sp.d --size=512K -q: $n pieces, no output"
    else
        fail cli-spellings "split --out-dir=sp.d --size=512K -q: exit $RC, $n pieces, out '$OUT', err '$ERR'"
    fi
    run mmkit check $ODD sp.d/* -vv
    if [ "$RC" = 0 ] && contains "$ERR" "mmkit: trace:"; then
        pass cli-vv-after "check ... -vv: exit 0 with trace logging"
    else
        fail cli-vv-after "check ... -vv: exit $RC: $(printf '%s' "$ERR" | cut -c1-200)"
    fi
    rm -rf sp.d
fi
cd / || exit 1
rm -rf "$REC"

# ---------------------------------------------------------------- the ipk
if [ -f /pkg/mmkit.ipk ]; then
    mkdir -p "${MMKIT_GUEST_TMP:-/tmp}/ipk"
    cd "${MMKIT_GUEST_TMP:-/tmp}/ipk" || exit 1
    if tar xzf /pkg/mmkit.ipk && [ -f data.tar.gz ] && [ -f control.tar.gz ] &&
        [ "$(cat debian-binary 2>/dev/null)" = "2.0" ]; then
        pass ipk-outer "gzip'd tar with debian-binary 2.0, data.tar.gz, control.tar.gz"
        tar xzf control.tar.gz
        arch=$(sed -n 's/^Architecture: //p' control 2>/dev/null)
        want_arch=$(cat /etc/mmkit-ipk-arch)
        if [ "$arch" = "$want_arch" ]; then
            pass ipk-arch "control: Architecture: $arch"
        else
            fail ipk-arch "control: Architecture: '$arch', want $want_arch"
        fi
        if tar xzf data.tar.gz -C / && [ -x /usr/bin/mmkit ]; then
            run /usr/bin/mmkit --version
            if [ "$RC" = 0 ] && contains "$OUT" "mmkit"; then
                pass ipk-install "installed /usr/bin/mmkit: $OUT"
            else
                fail ipk-install "/usr/bin/mmkit --version: exit $RC: $OUT $ERR"
            fi
            # the installed binary reads a register like the test binary
            case $ARCH in
            arm) probe=0x08000008 want=0x0000043B ;;
            *) probe=0x1FC00010 want=0x00000420 ;;
            esac
            run /usr/bin/mmkit devmem $probe
            if [ "$RC" = 0 ] && [ "$OUT" = "$want" ]; then
                pass ipk-devmem "/usr/bin/mmkit devmem $probe = $OUT"
            else
                fail ipk-devmem "/usr/bin/mmkit devmem $probe: exit $RC '$OUT' (want $want) $ERR"
            fi
        else
            fail ipk-install "data.tar.gz did not install /usr/bin/mmkit: $(tar tzf data.tar.gz 2>&1 | tr '\n' ' ')"
        fi
    else
        fail ipk-outer "not an OpenWrt ipk (gzip'd tar of debian-binary, data.tar.gz, control.tar.gz): $(tar tzf /pkg/mmkit.ipk 2>&1 | tr '\n' ' ')"
    fi
    cd / || exit 1
else
    skip ipk-install "no dist/ipk/mmkit_*_<arch>.ipk in this initramfs"
fi
