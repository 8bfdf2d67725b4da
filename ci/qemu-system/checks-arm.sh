# shellcheck shell=dash
# ARM virt checks (sourced by /init with lib.sh; MODE=relaxed|strict).
# Register values: docs/qemu-system.md and embedded-facts.md.

PL011=0x09000000
PL031=0x09010000
GICD=0x08000000
DEAD=0x0C000000

if [ "$MODE" = relaxed ]; then
    # PL011 and PL031 PeriphID0..3 / CellID0..3, 32-bit reads.
    for spec in \
        0xFE0=0x11 0xFE4=0x10 0xFE8=0x14 0xFEC=0x00 \
        0xFF0=0x0D 0xFF4=0xF0 0xFF8=0x05 0xFFC=0xB1; do
        off=${spec%=*}
        want=${spec#*=}
        devmem_agree "pl011-id+$off" $((PL011 + off)) 32 "$want"
    done
    for spec in \
        0xFE0=0x31 0xFE4=0x10 0xFE8=0x14 0xFEC=0x00 \
        0xFF0=0x0D 0xFF4=0xF0 0xFF8=0x05 0xFFC=0xB1; do
        off=${spec%=*}
        want=${spec#*=}
        devmem_agree "pl031-id+$off" $((PL031 + off)) 32 "$want"
    done
    # Narrow reads of the same registers.
    devmem_agree pl011-periphid0-w16 $((PL011 + 0xFE0)) 16 0x11
    devmem_agree pl011-periphid0-w8 $((PL011 + 0xFE0)) 8 0x11
    devmem_agree pl031-cellid3-w8 $((PL031 + 0xFFC)) 8 0xB1
    devmem_agree pl031-control $((PL031 + 0xC)) 32 0x1

    # PL031 data register: seconds since the epoch, advancing.
    run mmkit devmem $PL031 32
    m1=$OUT
    r1=$RC
    run busybox devmem $PL031 32
    b1=$OUT
    sleep 2
    run mmkit devmem $PL031 32
    m2=$OUT
    if [ "$r1" = 0 ] && hexeq "$m1" "$m1" && hexeq "$b1" "$b1" && hexeq "$m2" "$m2" &&
        [ $((m2 - m1)) -ge 1 ] && [ $((m2 - m1)) -le 4 ] &&
        [ $((b1 - m1)) -ge 0 ] && [ $((b1 - m1)) -le 1 ]; then
        pass pl031-counter "mmkit $m1 -> $m2 after 2 s, busybox $b1"
    else
        fail pl031-counter "mmkit $m1 (rc $r1) -> $m2 after 2 s, busybox $b1; want +1..+4 s and busybox within 1 s"
    fi

    # md of the PL011 ID block shows the bytes busybox reads one by one.
    md_agree pl011-md-w32 $((PL011 + 0xFE0)) 32 32
    md_agree pl011-md-w8 $((PL011 + 0xFE0)) 32 8
fi

# The GIC distributor is not claimed by a driver: readable in both modes.
devmem_agree gicd-iidr $((GICD + 8)) 32 0x43B
# Its IIDR ignores writes: a write succeeds without a read-back, as with
# busybox; --verify sees the difference. Each command makes exactly the
# accesses busybox makes.
ignored_write gicd-iidr $((GICD + 8)) 0 0x43B
accesses gicd-access-read "R 0x8000008 32" mmkit devmem $((GICD + 8))
accesses gicd-access-write "W 0x8000008 32" mmkit devmem $((GICD + 8)) 32 0
accesses gicd-access-verify "W 0x8000008 32, R 0x8000008 32" mmkit devmem --verify $((GICD + 8)) 32 0x43B
accesses gicd-access-md "R 0x8000000 32, R 0x8000004 32, R 0x8000008 32" mmkit md $GICD+12

# A physical address where no device answers: busybox dies of SIGBUS,
# mmkit reports the bus error and exits 7.
dead_address $DEAD C000000

if [ "$MODE" = strict ]; then
    # Booted without iomem=relaxed: the PL011 is claimed by its driver, so
    # /dev/mem refuses it (EPERM). busybox just says so; mmkit explains.
    run busybox devmem $((PL011 + 0xFE0)) 32
    if [ "$RC" != 0 ] && contains "$ERR" "not permitted"; then
        pass eperm-busybox "busybox: exit $RC: $ERR"
    else
        fail eperm-busybox "busybox: exit $RC, want a failure with EPERM: out '$OUT' err '$ERR'"
    fi
    run mmkit devmem $((PL011 + 0xFE0)) 32
    if [ "$RC" = 8 ] && contains "$ERR" "iomem=relaxed"; then
        pass eperm-mmkit "exit 8: $ERR"
    else
        fail eperm-mmkit "exit $RC (want 8 and a hint naming iomem=relaxed): out '$OUT' err '$ERR'"
    fi
    run mmkit md $((PL011 + 0xFE0))+32
    if [ "$RC" = 8 ]; then
        pass eperm-mmkit-md "exit 8"
    else
        fail eperm-mmkit-md "exit $RC, want 8: out '$OUT' err '$ERR'"
    fi
fi

# Register alignment is checked by mmkit itself (QEMU does not fault an
# unaligned device read, real hardware may).
run mmkit devmem $((GICD + 9)) 32
if [ "$RC" = 2 ] && contains "$ERR" "aligned"; then
    pass unaligned-register "exit 2: $ERR"
else
    fail unaligned-register "exit $RC (want 2 and an alignment message): out '$OUT' err '$ERR'"
fi
