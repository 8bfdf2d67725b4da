for spec in 0x1FC00010:32 0x1FC00010:16 0x1FC00010:8 0x1FC00011:8 0x1FC00012:32 0x1F000208:32 0x1F000508:32 0x1F000408:32 0x1F000A00:32; do
    a=${spec%:*}; w=${spec#*:}
    run busybox devmem "$a" "$w"; echo "EXPLORE bb devmem $a $w -> rc=$RC out=[$OUT] err=[$ERR]"
done
run busybox devmem 0x1F000408 32 0x5A; echo "EXPLORE w rc=$RC $ERR"
run busybox devmem 0x1F000408 32; echo "EXPLORE r $OUT"
mount -t debugfs none /sys/kernel/debug; cat /sys/kernel/debug/mips/unaligned_action
