# shellcheck shell=dash
# MIPS Malta checks (sourced by /init with lib.sh; MODE=relaxed|strict).
# NEVER write the board reset register 0x1F000500.

REVISION=0x1FC00010
STATUS=0x1F000208
LEDBAR=0x1F000408
BRKRES=0x1F000508
GPOUT=0x1F000A00

devmem_agree revision-w32 $REVISION 32 0x420
devmem_agree revision-w16 $REVISION 16 0x420
devmem_agree revision-w8 $REVISION 8 0x20
devmem_agree revision-w8+1 $((REVISION + 1)) 8 0x04
devmem_agree fpga-status $STATUS 32 0x10
devmem_agree fpga-brkres $BRKRES 32 0x0A

# Writes (mmkit writes, both read; busybox writes, mmkit reads).
# LEDBAR and GPOUT keep 8 bits.
for reg in LEDBAR:$LEDBAR GPOUT:$GPOUT; do
    n=$(echo "${reg%:*}" | tr '[:upper:]' '[:lower:]')
    a=${reg#*:}
    run mmkit devmem "$a" 32 0x5A
    wrc=$RC
    werr=$ERR
    devmem_agree "$n-write-mmkit" "$a" 32 0x5A
    [ "$wrc" = 0 ] || fail "$n-write-mmkit-rc" "mmkit devmem $a 32 0x5A: exit $wrc: $werr"
    busybox devmem "$a" 32 0xA5
    devmem_agree "$n-write-busybox" "$a" 32 0xA5
done

# Exactly the accesses busybox makes: a write is one write (no read-back), a
# bitfield write one read and one write, --verify adds one read, md reads
# each register once.
accesses ledbar-access-write "W 0x1F000408 32" mmkit devmem $LEDBAR 32 0x5A
accesses ledbar-access-verify "W 0x1F000408 32, R 0x1F000408 32" mmkit devmem --verify $LEDBAR 32 0x5A
accesses ledbar-access-bitfield "R 0x1F000408 32, W 0x1F000408 32" mmkit devmem $LEDBAR:3:0=0xA
accesses gpout-access-mw "W 0x1F000A00 32" mmkit mw $GPOUT 0x42
accesses fpga-access-md "R 0x1F000208 32, R 0x1F00020C 32, R 0x1F000210 32, R 0x1F000214 32" mmkit md $STATUS+16
# The FPGA status register ignores writes and reads 0x10: the write succeeds
# as with busybox; --verify sees the difference.
ignored_write fpga-status $STATUS 0 0x10

# Bitfield read-modify-write on LEDBAR: 0x5A, then bits 7:4 = 0x3 -> 0x3A;
# it prints the old and new values (and no read-back line).
run mmkit devmem $LEDBAR 32 0x5A
run mmkit devmem $LEDBAR:7:4=0x3
rmwrc=$RC
rmwerr=$ERR
rmwout=$(printf '%s' "$OUT" | tr '\n' '|')
run busybox devmem $LEDBAR 32
if [ "$rmwrc" = 0 ] && hexeq "$OUT" 0x3A &&
    [ "$rmwout" = "old:       0x0000005A [7:4]=0x5|new:       0x0000003A [7:4]=0x3" ]; then
    pass ledbar-bitfield-rmw "0x5A with bits 7:4=0x3 -> $OUT; printed $rmwout"
else
    fail ledbar-bitfield-rmw "0x5A with bits 7:4=0x3: exit $rmwrc ($rmwerr), printed '$rmwout', busybox reads '$OUT', want 0x3A"
fi
run mmkit devmem --verify $LEDBAR:7:4=0x3
if [ "$RC" = 0 ] && contains "$OUT" "read-back: 0x0000003A [7:4]=0x3"; then
    pass ledbar-bitfield-verify "--verify prints the read-back: $(printf '%s' "$OUT" | tr '\n' '|')"
else
    fail ledbar-bitfield-verify "--verify: exit $RC, out '$OUT' ($ERR), want a read-back line"
fi
# Reading a field prints just the field.
run mmkit devmem $LEDBAR:3:0
if [ "$RC" = 0 ] && hexeq "$OUT" 0xA; then
    pass ledbar-bitfield-read "bits 3:0 of 0x3A = $OUT"
else
    fail ledbar-bitfield-read "bits 3:0 of 0x3A: exit $RC, out '$OUT' ($ERR), want 0xA"
fi
# A field value that does not fit is refused, and the register is untouched.
run mmkit devmem $LEDBAR:7:4=0x13
r=$RC
run busybox devmem $LEDBAR 32
if [ "$r" = 2 ] && hexeq "$OUT" 0x3A; then
    pass ledbar-bitfield-too-wide "7:4=0x13 refused (exit 2), register still $OUT"
else
    fail ledbar-bitfield-too-wide "7:4=0x13: exit $r (want 2), register '$OUT' (want 0x3A)"
fi
busybox devmem $LEDBAR 32 0

# mw writes, md reads back (GPOUT).
run mmkit mw --verify $GPOUT 0x42
r=$RC
run busybox devmem $GPOUT 32
if [ "$r" = 0 ] && hexeq "$OUT" 0x42; then
    pass gpout-mw "mmkit mw $GPOUT 0x42 -> busybox reads $OUT"
else
    fail gpout-mw "mmkit mw $GPOUT 0x42: exit $r, busybox reads '$OUT'"
fi
md_agree fpga-md $STATUS 16 32
md_agree revision-md-w8 $REVISION 16 8
busybox devmem $GPOUT 32 0

# mmkit checks register alignment itself.
run mmkit devmem $((REVISION + 2)) 32
if [ "$RC" = 2 ] && contains "$ERR" "aligned"; then
    pass unaligned-register "exit 2: $ERR"
else
    fail unaligned-register "exit $RC (want 2 and an alignment message): out '$OUT' err '$ERR'"
fi

# A physical address where nothing answers (beyond the 256 MiB of RAM and the
# I/O window; QEMU raises a data bus error): busybox dies of SIGBUS, mmkit
# reports it and exits 7.
DEAD=0x20000000
dead_address $DEAD 20000000
