# DINO's collapse study (§5.3, Fig. 7), from `collapse`: the teacher entropy h(Pt) and
# KL(Pt‖Ps) per training step, with centering only, sharpening only, and both.
# H(Pt, Ps) = h(Pt) + KL: KL → 0 is collapse; h → ln K is a uniform teacher, h → 0 a one-hot one.
load "style.gp"
data = "data/collapse.tsv"

do for [fmt in formats] {
    eval output(fmt, "collapse", 1100, 420)
    set multiplot layout 1, 2 title "DINO: centering and sharpening (Fashion-MNIST)" font ",13"

    set title "Teacher entropy h(Pt)"
    set xlabel "training step"
    set ylabel "nats"
    set key center right
    set yrange [-0.3:*]
    plot data using 2:(strcol(1) eq "centering-only" ? $4 : 1/0) with lines lt 1 title "centering only", \
         data using 2:(strcol(1) eq "sharpening-only" ? $4 : 1/0) with lines lt 2 title "sharpening only", \
         data using 2:(strcol(1) eq "both" ? $4 : 1/0) with lines lt 3 title "both (DINO)", \
         data using 2:8 with lines @reference title "ln K"

    set title "KL(Pt ‖ Ps)"
    set ylabel "nats"
    set yrange [*:*]
    set logscale y
    set key top right
    plot data using 2:(strcol(1) eq "centering-only" && $5 > 0 ? $5 : 1/0) with lines lt 1 title "centering only", \
         data using 2:(strcol(1) eq "sharpening-only" && $5 > 0 ? $5 : 1/0) with lines lt 2 title "sharpening only", \
         data using 2:(strcol(1) eq "both" && $5 > 0 ? $5 : 1/0) with lines lt 3 title "both (DINO)"
    unset logscale y
    unset multiplot
}
