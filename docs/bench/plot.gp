# Plots for docs/benchmarks.md, from the files ci/bench.sh writes.
#   gnuplot -e "dir='docs/bench'; fses='tmpfs disk'; readmmap=1" docs/bench/plot.gp
# tools.svg/.png:    throughput (MiB/s, higher is better) of every tool, per
#                    filesystem and input layout (tools.dat)
# readmmap.svg/.png: read()/write() time divided by mmap time for the notes'
#                    increment experiment, by file size (readmmap-<fs>.dat);
#                    above 1, mapping is faster

if (!exists("dir")) dir = "docs/bench"
if (!exists("fses")) fses = "tmpfs disk"
if (!exists("readmmap")) readmmap = 1

set datafile missing "-"
set grid ytics lc rgb "#dddddd"
set key top right
ncols = words(system("head -n 1 '" . dir . "/tools.dat'"))

do for [fmt in "svg png"] {
    if (fmt eq "svg") {
        set terminal svg size 1000,520 dynamic font "sans,12" background rgb "white"
    } else {
        set terminal pngcairo size 1000,520 font "sans,10" background rgb "white"
    }

    # ---- tools -------------------------------------------------------------
    set output dir . "/tools." . fmt
    set title "Throughput on a warm page cache (MiB/s of input, median; higher is better)"
    set style data histograms
    set style histogram clustered gap 1
    set style fill solid 0.85 border -1
    set boxwidth 0.9
    unset logscale x
    unset xlabel
    set format x "%g"
    set xtics rotate by -35 nomirror
    set ylabel "MiB/s"
    set yrange [0:*]
    plot for [i=2:ncols] dir . "/tools.dat" using i:xtic(1) title columnheader(i)

    # ---- read vs mmap ------------------------------------------------------
    if (readmmap) {
        set output dir . "/readmmap." . fmt
        set title "read()/write() time / mmap time, increment every integer of a file (above 1: mmap faster)"
        set style data linespoints
        set logscale x 2
        set format x "%.0b %BB"
        set xtics norotate mirror
        set xlabel "file size"
        set ylabel "read time / mmap time (medians)"
        set yrange [0:*]
        plot for [fs in fses] dir . "/readmmap-" . fs . ".dat" using 1:2 title fs lw 2 pt 7, \
             1 with lines dt 2 lc rgb "black" title "equal"
    }
}
set output
