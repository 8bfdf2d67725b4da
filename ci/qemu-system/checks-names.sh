# shellcheck shell=dash
# Registers by name (reg, wait, where) and busybox applet links, on the
# real boards (sourced by /init with lib.sh after checks-$ARCH.sh;
# MODE=relaxed|strict). The maps from regmaps/ are installed in /etc/mmkit,
# where mmkit picks the one for this board by its device-tree compatible.
# NEVER write the Malta board reset register 0x1F000500.

# centiseconds since boot
up_cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }

# named NAME WANT_RC NEEDLE CMD...: pass when CMD exits WANT_RC and its
# stdout or stderr contains NEEDLE.
named() {
    nm=$1
    want=$2
    needle=$3
    shift 3
    run "$@"
    o=$(printf '%s' "$OUT" | tr '\n' '|' | cut -c1-600)
    if [ "$RC" = "$want" ] && contains "$OUT $ERR" "$needle"; then
        pass "$nm" "$* -> exit $RC: $o $ERR"
    else
        fail "$nm" "$* -> exit $RC (want $want and '$needle'): $o $ERR"
    fi
}

# reg_agree NAME REG ADDR: the value `mmkit reg REG` prints on its first line
# is what busybox devmem reads at ADDR.
reg_agree() {
    run busybox devmem "$3" 32
    bb=$OUT
    run mmkit reg "$2"
    first=$(printf '%s\n' "$OUT" | head -n1)
    if [ "$RC" = 0 ] && [ "$first" != "${first%= "$bb"}" ]; then
        pass "$1" "mmkit reg $2: '$first' = busybox devmem $3 $bb"
    else
        fail "$1" "mmkit reg $2: exit $RC '$first', busybox devmem $3 '$bb': $ERR"
    fi
}

ls /etc/mmkit/*.regs >/dev/null 2>&1 || fail regmaps-installed "no /etc/mmkit/*.regs in the initramfs"

if [ "$ARCH" = arm ]; then
    # both modes: the GIC distributor is not claimed by a driver
    named reg-gicd-iidr-field 0 0x43B mmkit reg gicd.IIDR.Implementer
    reg_agree reg-gicd-typer gicd.TYPER 0x08000004
    named reg-gicd-typer-decode 0 "ITLinesNumber [4:0]" mmkit reg gicd.TYPER
    named reg-map-for-this-board 2 "no block 'fpga'" mmkit reg fpga.STATUS
    named where-list-gic 0 "0x08000000 +0x10000  /intc@8000000" mmkit where
    named where-list-pl031 0 "0x09010000 +0x1000   /pl031@9010000  arm,pl031 arm,primecell" mmkit where
    named where-pl011-addr 0 "/pl011@9000000  arm,pl011 arm,primecell (offset 0x18)" mmkit where 0x09000018
    named where-pl011-regmap 0 "register map: uart0.FR" mmkit where 0x09000018
    named where-pl011-iomem 0 "iomem: 09000000-09000fff" mmkit where 0x09000018
    named where-by-name 0 "/pl031@9010000" mmkit where pl031
    if [ "$MODE" = relaxed ]; then
        named reg-pl011-periphid0 0 "uart0.PeriphID0 0x09000FE0 = 0x00000011" mmkit reg uart0.PeriphID0
        named reg-pl011-dump-cellid3 0 "uart0.CellID3 0x09000FFC = 0x000000B1" mmkit reg dump uart0
        named reg-pl011-dump-skips-dr 0 "uart0.DR 0x09000000 (reading clears it" mmkit reg dump uart0
        reg_agree reg-pl011-fr uart0.FR 0x09000018
        named reg-pl011-fr-decode 0 "TXFE [7]" mmkit reg uart0.FR
        named reg-pl011-cr-field 0 "0x1" mmkit reg uart0.CR.UARTEN
        named reg-pl031-periphid0 0 "rtc.PeriphID0 0x09010FE0 = 0x00000031" mmkit reg rtc.PeriphID0
        named reg-pl031-cr-enum 0 "START [0]     0x1 running" mmkit reg rtc.CR
        named reg-pl031-list 0 "0x0901001C 32 wo" mmkit reg list 'rtc.*'
        # wait on the PL031 counter changing (1 Hz)
        v=$(busybox devmem 0x09010000 32)
        t0=$(up_cs)
        run mmkit wait "rtc.DR!=$v" --timeout 3s --interval 10ms
        t1=$(up_cs)
        if [ "$RC" = 0 ] && [ $((t1 - t0)) -le 150 ]; then
            pass wait-pl031-changes "rtc.DR!=$v: exit 0 after $((t1 - t0)) cs"
        else
            fail wait-pl031-changes "rtc.DR!=$v: exit $RC after $((t1 - t0)) cs (want 0 within 1.5 s): $ERR"
        fi
        v=$(busybox devmem 0x09010000 32)
        run mmkit wait "0x09010000!=$v" --timeout 3s
        if [ "$RC" = 0 ]; then
            pass wait-pl031-addr "0x09010000!=$v: exit 0"
        else
            fail wait-pl031-addr "0x09010000!=$v: exit $RC: $ERR"
        fi
        t0=$(up_cs)
        run mmkit wait rtc.DR=0 --timeout 1500ms
        t1=$(up_cs)
        # mmkit measures 1500-1599 ms itself; starting a process under TCG adds wall time
        if [ "$RC" = 11 ] && [ $((t1 - t0)) -ge 150 ] && [ $((t1 - t0)) -le 500 ] && contains "$ERR" "timed out after 15"; then
            pass wait-pl031-timeout "rtc.DR=0: exit 11 after $((t1 - t0)) cs: $ERR"
        else
            fail wait-pl031-timeout "rtc.DR=0 --timeout 1500ms: exit $RC after $((t1 - t0)) cs (want 11 after 1.5 s, 'timed out after 15xx ms'): $ERR"
        fi
    else
        named reg-pl011-eperm 8 "iomem=relaxed" mmkit reg uart0.FR
        named where-pl011-claimed 0 "claimed by" mmkit where 0x09000000
    fi
else
    LEDBAR=0x1F000408
    named reg-revision 0 "malta.REVISION 0x1FC00010 = 0x00000420" mmkit reg malta.REVISION
    named reg-revision-proid 0 "0x2 Malta" mmkit reg malta.REVISION
    named reg-revision-corid 0 "0x01 CoreLV" mmkit reg malta.REVISION
    named reg-fpga-status 0 "fpga.STATUS 0x1F000208 = 0x00000010" mmkit reg fpga.STATUS
    named reg-fpga-brkres 0 "fpga.BRKRES 0x1F000508 = 0x0000000A" mmkit reg fpga.BRKRES
    named reg-map-for-this-board 2 "no block 'uart0'" mmkit reg uart0.FR
    busybox devmem $LEDBAR 32 0xA5
    named reg-ledbar-field-rmw 0 "0x000000A5 -> 0x0000005A  LEDS 0xA5 -> 0x5A" mmkit reg fpga.LEDBAR.LEDS=0x5A
    run busybox devmem $LEDBAR 32
    if [ "$OUT" = 0x0000005A ]; then
        pass reg-ledbar-busybox-reads "busybox devmem $LEDBAR: $OUT"
    else
        fail reg-ledbar-busybox-reads "busybox devmem $LEDBAR: '$OUT', want 0x0000005A"
    fi
    named reg-ledbar-field-read 0 "0x5A" mmkit reg fpga.LEDBAR.LEDS
    # wait for a value another process writes a second later
    busybox devmem $LEDBAR 32 0
    (
        sleep 1
        busybox devmem $LEDBAR 32 0x33
    ) &
    t0=$(up_cs)
    run mmkit wait fpga.LEDBAR.LEDS=0x33 --timeout 5s --interval 10ms
    t1=$(up_cs)
    wait
    if [ "$RC" = 0 ] && [ $((t1 - t0)) -ge 80 ] && [ $((t1 - t0)) -le 250 ]; then
        pass wait-ledbar-set "fpga.LEDBAR.LEDS=0x33 set by another process after 1 s: exit 0 after $((t1 - t0)) cs"
    else
        fail wait-ledbar-set "fpga.LEDBAR.LEDS=0x33: exit $RC after $((t1 - t0)) cs (want 0 after ~100): $ERR"
    fi
    named wait-ledbar-addr-field 0 "" mmkit wait $LEDBAR:7:4=3
    t0=$(up_cs)
    run mmkit wait fpga.LEDBAR=0x44 --timeout 500ms
    t1=$(up_cs)
    if [ "$RC" = 11 ] && [ $((t1 - t0)) -ge 50 ] && [ $((t1 - t0)) -le 300 ] && contains "$ERR" "timed out after 5"; then
        pass wait-ledbar-timeout "exit 11 after $((t1 - t0)) cs: $ERR"
    else
        fail wait-ledbar-timeout "exit $RC after $((t1 - t0)) cs (want 11 after 0.5 s, 'timed out after 5xx ms'): $ERR"
    fi
    busybox devmem $LEDBAR 32 0
    named where-malta-list 0 "device tree" mmkit where
    named where-malta-fpga 0 "register map: fpga.LEDBAR" mmkit where $LEDBAR
    named where-malta-syscon 0 "/system-controller@1f000000  mti,malta-fpga syscon simple-mfd (offset 0x408)" mmkit where $LEDBAR
    # ISA I/O ports (the RTC at port 0x70) are not memory-mapped regions
    run mmkit where
    if [ "$RC" = 0 ] && ! contains "$OUT" "/isa/rtc@70"; then
        pass where-malta-no-isa-io "the ISA RTC (I/O port 0x70) is not listed as MMIO"
    else
        fail where-malta-no-isa-io "exit $RC; /isa/rtc@70 listed as MMIO: $(printf '%s' "$OUT" | grep isa)"
    fi
fi

# busybox applet names: links made by mmkit next to one that exists
mkdir -p /tmp/applets
ln -sf /bin/busybox /tmp/applets/md
named applet-install-links 0 "kept /tmp/applets/md" mmkit --install-links /tmp/applets
if [ "$(readlink /tmp/applets/md)" = /bin/busybox ] && [ "$(readlink /tmp/applets/devmem)" = /bin/mmkit ]; then
    pass applet-links "devmem -> $(readlink /tmp/applets/devmem), md kept -> $(readlink /tmp/applets/md)"
else
    fail applet-links "devmem -> '$(readlink /tmp/applets/devmem)', md -> '$(readlink /tmp/applets/md)'"
fi
case $ARCH in
arm) probe=0x08000008 want=0x0000043B ;;
*) probe=0x1FC00010 want=0x00000420 ;;
esac
run /tmp/applets/devmem $probe
if [ "$RC" = 0 ] && [ "$OUT" = "$want" ]; then
    pass applet-devmem "/tmp/applets/devmem $probe (mmkit as devmem, under busybox sh) = $OUT"
else
    fail applet-devmem "/tmp/applets/devmem $probe: exit $RC '$OUT' (want $want): $ERR"
fi
run /tmp/applets/devmem $((probe + 1)) 32
if [ "$RC" = 2 ] && contains "$ERR" "aligned"; then
    pass applet-devmem-is-mmkit "unaligned refused (busybox would not): $ERR"
else
    fail applet-devmem-is-mmkit "exit $RC, want 2: $OUT $ERR"
fi
rm -rf /tmp/applets
