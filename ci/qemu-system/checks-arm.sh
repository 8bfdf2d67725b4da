# ARM virt checks (sourced by /init; MODE=relaxed|strict).
for spec in 0x09000FE0:32 0x09000FE0:16 0x09000FE0:8 0x09010FE0:32 0x0C000000:32 0x08000008:32 0x09010000:32; do
    a=${spec%:*}; w=${spec#*:}
    run busybox devmem "$a" "$w"; echo "EXPLORE bb devmem $a $w -> rc=$RC out=[$OUT] err=[$ERR]"
done
cat /proc/cpu/alignment
ls -l /dev/mem
