# Patch size against throughput (DINO Tab. 2) and DINO's k-NN against throughput at 28², from
# `patch-throughput`. Columns of patch-throughput-imagenet.tsv: model, patch, width, tokens, batch,
# images/s, low, high, GFLOP/image, GFLOP/s, % of sgemm, peak MB, the paper's images/s (V100);
# rows are picked by model name (a quick run times DeiT-Ti alone). Columns of
# patch-throughput-dino.tsv: patch, tokens, images/s, GFLOP/image, training images/s, k-NN20 %, s;
# of patch-throughput-curves.tsv (when present): patch, epoch, cumulative training s, k-NN20 %.
load "style.gp"
big = "data/patch-throughput-imagenet.tsv"
dino = "data/patch-throughput-dino.tsv"
summary = "data/patch-throughput.json"
knn(patch) = real(json(summary, sprintf("results.dino_knn20.%d", patch)))   # full precision
family(f) = (strstrt(strcol(1), f . "/") == 1)    # this row is ViT-S/… (f = "ViT-S")

# DINO Tab. 2's ViT-S pair (papers/sources.md, A1): model, V100 images/s, ImageNet k-NN20 (%).
# The k-NN is in no data file, so it is written here, with its source.
set print $paper
print "ViT-S/16\t1007\t74.5"
print "ViT-S/8\t180\t78.3"
unset print

# The k-NN curves against training seconds (a third panel), when the run wrote them.
curves = "data/patch-throughput-curves.tsv"
has_curves = (system(sprintf("test -s '%s' && echo 1 || echo 0", curves)) eq "1")
bank = (has_curves ? note(curves, "first [0-9]+ training") : "")
bank = (bank eq "" ? "a subset of the training" : "the first " . thousands(real(word(bank, 2))) . " training")

# The training budget, as the table's comment states it ("3 epochs of 60000 images").
b = note(dino, "[0-9]+ epochs? of [0-9]+ images")
budget = (b eq "" ? "the same budget" : sprintf("%s %s of %s images", word(b, 1), word(b, 2), thousands(real(word(b, 4)))))

# The left panel's range holds every time (stats before any range is set: it keeps to them).
stats big using 6 nooutput
low = STATS_min; high = STATS_max
stats big using 13 nooutput
low = (STATS_min < low ? STATS_min : low); high = (STATS_max > high ? STATS_max : high)
stats big using (family("ViT-S") || family("ViT-B")) nooutput
vits = STATS_sum                        # 0 in a quick run: say so rather than leave a blank panel

# Each point's label goes above it if it is the upper end of its line, else below: never across it.
stats dino using 6 nooutput
ours_mid = STATS_mean
stats $paper using 3 nooutput
paper_mid = STATS_mean
above(y, mid) = (y > mid ? y : NaN)
below(y, mid) = (y > mid ? NaN : y)

do for [fmt in formats] {
    eval output(fmt, "patch-throughput", has_curves ? 1450 : 1000, 420)
    eval sprintf("set multiplot layout 1, %d title 'Patch size and throughput' font ',13'", has_curves ? 3 : 2)

    set title "Forward images/s at 224² (log scale)"
    set xlabel "patch size (pixels)"
    set ylabel "images per second"
    set logscale y
    set yrange [low / 1.8:high * 15]        # the top decade for the key
    set logscale x 2
    set xrange [6:20]
    set xtics ("8" 8, "16" 16)
    set key top left
    if (vits == 0) { set label 1 "no ViT-S or ViT-B timed in this run" at graph 0.5, graph 0.4 center tc rgb "#555555" }
    plot big using 2:(family("ViT-S") ? $6 : NaN) with linespoints lt 1 title "ViT-S, this CPU", \
         big using 2:(family("ViT-B") ? $6 : NaN) with linespoints lt 2 title "ViT-B, this CPU", \
         big using 2:(family("ViT-S") ? $13 : NaN) with linespoints lt 1 dt (6,4) pt 6 title "ViT-S, paper (V100)", \
         big using 2:(family("ViT-B") ? $13 : NaN) with linespoints lt 2 dt (6,4) pt 4 title "ViT-B, paper (V100)"
    unset label 1

    # Ours and the paper's on one pair of axes: in both, a smaller patch costs throughput; on
    # ImageNet it buys accuracy.
    set title "What smaller patches buy: k-NN against throughput\n(ours: DINO teachers, " . budget . " each)"
    set xlabel "forward images per second (log scale)"
    set ylabel "k-NN20 top-1 accuracy (%)"
    unset logscale y
    set yrange [*:*]
    set logscale x 10
    set xrange [*:*]
    set xtics autofreq
    set format x "10^{%T}"
    set key top center font ",9"          # short entries: a key wider than its plot is dropped
    set offsets graph 0.12, graph 0.12, graph 0.55, graph 0.18
    ours(patch) = sprintf("patch %d: %.2f", patch, knn(patch))
    theirs(model, value) = sprintf("%s: %.1f", model, value)
    plot dino using 3:6 with linespoints lt 3 title "ours: Fashion-MNIST 28², this CPU", \
         dino using 3:(above($6, ours_mid)):(ours($1)) with labels offset char 0, char 1 font ",9" notitle, \
         dino using 3:(below($6, ours_mid)):(ours($1)) with labels offset char 0, char -1 font ",9" notitle, \
         $paper using 2:3 with linespoints lc rgb "#555555" dt (6,4) lw 1.2 pt 12 ps 1.5 \
             title "paper: ImageNet 224², V100 (DINO Tab. 2)", \
         $paper using 2:(above($3, paper_mid)):(theirs(strcol(1), $3)) with labels offset char 0, char 1 font ",9" tc rgb "#555555" notitle, \
         $paper using 2:(below($3, paper_mid)):(theirs(strcol(1), $3)) with labels offset char 0, char -1 font ",9" tc rgb "#555555" notitle
    unset offsets
    set format x "% h"

    # The question of a fixed CPU budget: at equal seconds, which patch size has the better k-NN?
    if (has_curves) {
        set title "The same seconds: k-NN after each epoch\n(" . bank . " images as the bank)"
        set xlabel "training seconds (steps only, cumulative)"
        set ylabel "k-NN20 top-1 accuracy (%)"
        unset logscale x
        set xrange [0:*]
        set yrange [*:*]
        set key bottom right font ",9"
        patches = system(sprintf("awk '!/^#/ { printf \"%%s \", $1 }' '%s'", dino))
        plot for [i = 1:words(patches)] curves using ($1 == word(patches, i) + 0 ? $3 : NaN):4 \
             with linespoints lt i title "patch " . word(patches, i)
    }
    unset multiplot
}
