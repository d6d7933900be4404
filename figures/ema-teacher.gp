# DINO's teacher study (§5.2, Fig. 6 right), from `ema-teacher`: k-NN accuracy of the teacher's
# features per epoch for five ways of building the teacher, mean ± std over seeds, and the final
# values beside the paper's (ImageNet, ViT-S, 300 epochs). Columns of ema-teacher-curves.tsv:
# epoch (0: the initialization all teachers of a seed share), then mean and std per teacher
# (by default momentum, student-copy, previous-iteration, previous-epoch, fixed-random; a run
# of fewer, `--teachers`, has fewer columns, read from the header), then raw pixels. The curves use a subset of the training images as the k-NN bank (a
# cheaper pass), the final bars all of them, so the curves sit a few points lower.
load "style.gp"
curves = "data/ema-teacher-curves.tsv"
final = "data/ema-teacher-final.tsv"
summary = "data/ema-teacher.json"
# The teachers this run trained, from the curves' header ("momentum_mean [%]" …); each keeps the
# colour of its place in the default order.
names = system(sprintf("awk '/^# epoch/ { for (i = 2; i <= NF; i++) if ($i ~ /_mean$/) { sub(/_mean$/, \"\", $i); printf \"%%s \", $i } exit }' '%s'", curves))
n = words(names)
order = "momentum student-copy previous-iteration previous-epoch fixed-random"
colour(t) = words(substr(order, 1, strstrt(order, t)))

# The banks and the seed count, as the JSON's config and the tables' comments state them.
bank = json(summary, "config.evaluation.subset_bank")
full = note(final, "all [0-9 ]+ training images")
# No subset bank (--subset-bank 0): the curves use every training image too.
subset = (bank eq "null" ? full : bank eq "nan" ? "a subset of the training images" : "the first " . thousands(real(bank)) . " training images")
bankOfAll = full[5:strstrt(full, " training") - 1]   # "60 000": raw pixels' bank is every training image, the curves' a subset
seeds = note(final, "over [0-9]+ seeds?")
spread = (seeds eq "over 1 seed" ? "1 seed" : "mean ± std " . seeds)   # a 0 std is no spread
# Chance for Fashion-MNIST's 10 classes. The paper's 0.1 for the collapsed teachers is ImageNet's
# chance (1000 classes), so ours needs its own line beside it.
classes = 10
chance = 100.0 / classes
# The printed means at full precision (json() in style.gp), as the README rounds them.
knn(t) = real(json(summary, sprintf("results.%s.knn20_mean", t)))

# The left panel's range: from below the lowest error bar (in steps of 10) to 100, with room for
# the key. (Before any range is set: stats keeps to the current ranges.)
lowest = 100
do for [i=1:n] { stats curves using (column(2*i) - column(2*i+1)) nooutput; lowest = (STATS_min < lowest ? STATS_min : lowest) }
stats curves using 1 nooutput
epochs = STATS_max

do for [fmt in formats] {
    eval output(fmt, "ema-teacher", 1100, 440)
    set multiplot layout 1, 2 title "DINO: which teacher? (Fashion-MNIST, weighted k-NN, k = 20)" font ",13"

    set title sprintf("During training: k-NN on %s, %s", subset, spread) font ",10"
    set xlabel "epoch"
    set ylabel "k-NN accuracy (%)"
    set key top right maxrows 3 font ",9"
    set yrange [10 * floor(lowest / 10):110]   # the key above 100, clear of the curves and raw pixels
    set xrange [-0.25:epochs + 0.25]
    set xtics 0, (epochs > 12 ? 5 : 1) norotate
    set ytics 10 * floor(lowest / 10), 10, 100
    # Raw pixels in the key, short: a label on their line would cross the curves that reach it.
    plot for [i=1:n] curves using 1:(column(2*i)):(column(2*i+1)) with yerrorlines lt colour(word(names, i)) title word(names, i), \
         curves using 1:(column(2*n+2)) with lines @reference title sprintf("raw pixels (%s): %.1f %%", bankOfAll, real(json(summary, "results.raw_pixels_knn.k20")))

    set title sprintf("Final: k-NN on %s, and the paper's (ImageNet)", full) font ",10"
    set xlabel ""
    set ylabel "k-NN accuracy (%)"
    set xrange [-0.6:n - 0.4]
    set xtics autofreq
    set yrange [0:115]   # the key above 100, clear of the bars' labels
    set ytics 0, 20, 100
    set style fill solid 0.75 border -1
    set boxwidth 0.38
    set xtics rotate by -20
    set key top right vertical maxrows auto font ",9" spacing 1
    plot final using ($1-0.2):3:4:xtic(2) with boxerrorbars lt 1 title sprintf("ours (%s)", spread), \
         final using ($1+0.2):9 with boxes lt 7 fs pattern 4 title "paper (ImageNet, 300 ep.; chance 0.1)", \
         chance with lines lc rgb "#444444" lw 1.5 dt (4,3) title sprintf("chance on Fashion-MNIST: %g %% (%d classes)", chance, classes), \
         final using ($1-0.2):($3+$4+4):(sprintf("%.1f", knn(strcol(2)))) with labels font ",9" notitle, \
         final using ($1+0.2):($9+4):(sprintf("%.1f", $9)) with labels font ",9" notitle
    unset multiplot
}
