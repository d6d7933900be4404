# DINO's teacher study (§5.2, Fig. 6 right), from `ema-teacher`: k-NN accuracy of the teacher's
# features per epoch for five ways of building the teacher, mean ± std over seeds, and the final
# values beside the paper's (ImageNet, ViT-S, 300 epochs). Columns of ema-teacher-curves.tsv:
# epoch (0: the initialization all teachers of a seed share), then mean and std for momentum,
# student-copy, previous-iteration, previous-epoch, fixed-random (the experiment's default
# order), then raw pixels. The curves use a 10 000-image bank (a cheaper pass), the final bars
# the official one of all 60 000 training images, so the curves sit a few points lower.
load "style.gp"
curves = "data/ema-teacher-curves.tsv"
final = "data/ema-teacher-final.tsv"
names = "momentum student-copy previous-iteration previous-epoch fixed-random"

do for [fmt in formats] {
    eval output(fmt, "ema-teacher", 1100, 440)
    set multiplot layout 1, 2 title "DINO: which teacher? (Fashion-MNIST, weighted k-NN, k = 20)" font ",13"

    set title "During training: 10 000-image bank, mean ± std"
    set xlabel "epoch"
    set ylabel "k-NN accuracy (%)"
    set key top left maxrows 3 width -2
    set yrange [30:100]
    set xrange [-0.5:*]
    set xtics 0, 1
    plot for [i=1:5] curves using 1:(column(2*i)):(column(2*i+1)) with yerrorlines lt i title word(names, i), \
         curves using 1:12 with lines @reference title "raw pixels (60 000 bank)"

    set title "Final: 60 000-image bank, and the paper's (ImageNet)"
    set xlabel ""
    set ylabel "k-NN accuracy (%)"
    set xrange [-0.6:4.6]
    set xtics autofreq
    set yrange [0:100]
    set style fill solid 0.75 border -1
    set boxwidth 0.38
    set xtics rotate by -20
    set key top right
    plot final using ($1-0.2):3:4:xtic(2) with boxerrorbars lt 1 title "ours (mean ± std)", \
         final using ($1+0.2):9 with boxes lt 7 fs pattern 4 title "paper (ImageNet, 300 ep.)", \
         final using ($1-0.2):($3+$4+4):(sprintf("%.1f", $3)) with labels font ",9" notitle, \
         final using ($1+0.2):($9+4):(sprintf("%.1f", $9)) with labels font ",9" notitle
    unset multiplot
}
