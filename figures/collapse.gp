# DINO's collapse study (§5.3, Fig. 7), from `collapse`: the teacher entropy h(Pt) and
# KL(Pt‖Ps) per training step, with centering only, sharpening only, and both.
# H(Pt, Ps) = h(Pt) + KL: KL → 0 is collapse; h → ln K is a uniform teacher, h → 0 a one-hot one.
load "style.gp"
data = "data/collapse.tsv"
# ln K from the table (column 8), before any range is set (stats keeps to the current ranges).
stats data using 8 nooutput
lnK = STATS_max
stats data using 2 nooutput
lastStep = STATS_max

do for [fmt in formats] {
    eval output(fmt, "collapse", 1100, 420)
    set multiplot layout 1, 2 title "DINO: centering and sharpening (Fashion-MNIST)" font ",13"

    set title "Teacher entropy h(Pt)"
    set xlabel "training step"
    if (lastStep > 5000) { set format x "%.0s%c" }   # 2k, 4k, …: the full scale's 18 750 steps stay legible
    set ylabel "nats"
    set key center right
    # Headroom above ln K, where a uniform teacher's entropy sits, for the line and its label.
    set yrange [-0.3:1.15 * lnK]
    set label 1 sprintf("ln K = %.2f (uniform over K = %d outputs)", lnK, int(exp(lnK) + 0.5)) at graph 0.02, first lnK left offset 0, 0.7 font ",9" tc rgb "#555555"
    plot data using 2:(strcol(1) eq "centering-only" ? $4 : 1/0) with lines lt 1 title "centering only", \
         data using 2:(strcol(1) eq "sharpening-only" ? $4 : 1/0) with lines lt 2 title "sharpening only", \
         data using 2:(strcol(1) eq "both" ? $4 : 1/0) with lines lt 3 title "both (DINO)", \
         data using 2:8 with lines @reference notitle
    unset label 1

    set title "KL(Pt ‖ Ps)"
    set ylabel "nats"
    set yrange [*:*]
    set logscale y
    set format y "10^{%L}"
    # A band above the curves for the key.
    set offsets 0, 0, graph 0.25, 0
    set key top right
    plot data using 2:(strcol(1) eq "centering-only" && $5 > 0 ? $5 : 1/0) with lines lt 1 title "centering only", \
         data using 2:(strcol(1) eq "sharpening-only" && $5 > 0 ? $5 : 1/0) with lines lt 2 title "sharpening only", \
         data using 2:(strcol(1) eq "both" && $5 > 0 ? $5 : 1/0) with lines lt 3 title "both (DINO)"
    unset logscale y
    set format y "%g"
    set offsets 0, 0, 0, 0
    unset multiplot
}
