# DeiT §4's token similarity, from `token-similarity`: the cosine between the class token and the
# distillation token of DeiT⚗, against a control ViT with two class tokens trained on the labels
# alone (same initial weights, same views). Drawn as 1 − cos on a log axis, so 0.99 and 0.96 sit
# apart. Each seed thin, the median over seeds bold: the control is bimodal across seeds (most
# converge to one token, a seed may split), and its mean would be pulled by the seed that splits.
#   (a) through the network, with the paper's three values, each labelled;
#   (b) the learned tokens over training;   (c) the output (after the final norm) over training;
#   (d) the output against how often the teacher's label differs from the view's true label, over
#       the dose-response settings, with the control's band.
# Files: token-similarity.tsv (means and medians per depth), token-similarity-epochs.tsv (per epoch),
# token-similarity-seeds.tsv (each model: one block per seed, DeiT⚗'s then the control's),
# token-similarity-dose.tsv (per setting).
load "style.gp"
depth = "data/token-similarity.tsv"
epochs = "data/token-similarity-epochs.tsv"
dose = "data/token-similarity-dose.tsv"
seeds = "data/token-similarity-seeds.tsv"


do for [fmt in formats] {
    eval output(fmt, "token-similarity", 1200, 860)
    set multiplot layout 2, 2 title "Class vs distillation token (DeiT §4): DeiT⚗ against two class tokens; each seed thin, the median bold" font ",13"
    stats depth using 1 nooutput
    last = STATS_max
    stats seeds using 2 nooutput
    n = STATS_blocks / 2

    # (a) through the network
    set title "(a) through the network, at the end of training"
    set logscale y
    set format y "10^{%T}"
    set yrange [3e-4:3]
    set key top right
    set xrange [-0.3:last + 0.3]
    set xlabel "where (tokens: the learned embeddings; norm: what the heads read)"
    set ylabel "1 − cos (log)"
    set label 1 "paper, DeiT⚗ learned tokens: 0.06" at 0.15, 0.55 font ",9" tc rgb "#555555"
    set label 2 "paper, DeiT⚗ output: 0.93" at last - 0.15, 0.028 right font ",9" tc rgb "#555555"
    set label 3 "paper, two class tokens: 0.999" at last - 0.15, 0.0013 right font ",9" tc rgb "#555555"
    plot depth using 1:(1 - $7):xtic(2) with linespoints lt 1 lw 2.5 title "DeiT⚗: class vs distillation token", \
         depth using 1:(1 - $8) with linespoints lt 2 lw 2.5 title "control: two class tokens", \
         for [i=0:n-1] seeds index i using 1:(1 - $2) with lines lt 1 lw 0.8 notitle, \
         for [i=n:2*n-1] seeds index i using 1:(1 - $2) with lines lt 2 lw 0.8 notitle, \
         "+" using (0):(1 - 0.06) every ::0::0 with points pt 6 ps 1.5 lc rgb "#777777" notitle, \
         "+" using (last):(1 - 0.93) every ::0::0 with points pt 6 ps 1.5 lc rgb "#777777" notitle, \
         "+" using (last):(1 - 0.999) every ::0::0 with points pt 4 ps 1.5 lc rgb "#777777" notitle
    unset label 1; unset label 2; unset label 3

    # (b) the learned tokens over training
    set title "(b) the learned tokens over training"
    unset logscale y
    set format y "%g"
    set yrange [-0.5:1.05]
    set xrange [0:*]
    set xlabel "epoch"
    set ylabel "cos (learned tokens)"
    set key bottom right
    plot epochs using 1:12 with lines lt 1 lw 2.5 title "DeiT⚗", \
         epochs using 1:14 with lines lt 2 lw 2.5 title "two class tokens", \
         for [i=0:n-1] seeds index i using 3:4 with lines lt 1 lw 0.8 notitle, \
         for [i=n:2*n-1] seeds index i using 3:4 with lines lt 2 lw 0.8 notitle

    # (c) the output over training
    set title "(c) after the final norm, over training"
    set logscale y
    set format y "10^{%T}"
    set yrange [1e-3:1]
    set ylabel "1 − cos (log)"
    set key top right
    plot epochs using 1:(1 - $13) with lines lt 1 lw 2.5 title "DeiT⚗", \
         epochs using 1:(1 - $15) with lines lt 2 lw 2.5 title "two class tokens", \
         for [i=0:n-1] seeds index i using 3:(1 - $5) with lines lt 1 lw 0.8 notitle, \
         for [i=n:2*n-1] seeds index i using 3:(1 - $5) with lines lt 2 lw 0.8 notitle

    # (d) dose-response (its own study: make token-similarity-dose)
    set title "(d) output against the teacher's disagreement with the label"
    set xlabel "training views whose teacher argmax ≠ the true label (share)"
    set key bottom right
    if (system("test -f " . dose . " && echo yes") eq "yes") {
        # The control, each seed as a dashed line at its output cosine (the default run's models).
        set autoscale xy
        unset logscale y
        array control[n]
        do for [k=1:n] {
            stats seeds index (n + k - 1) every ::last::last using 2 nooutput
            control[k] = STATS_max
        }
        # The teachers that relabel about half the views sit close together: their labels go
        # above and below their points, and the 40-epoch teacher's to the left of its own.
        label_left(name) = name eq "distillation-40ep"
        label_shift(name) = name eq "supervised-7ep" ? 1.4 : name eq "supervised-2ep" ? 0.62 : name eq "distillation-2ep" ? 2.2 : 1.15
        set logscale y
        set xrange [0:1]
        set yrange [1e-3:1]
        plot for [k=1:n] "+" using 1:(1 - control[k]) with lines lt 2 lw 1 dt (6,4) title (k == 1 ? "control: two class tokens, each seed" : ""), \
             for [k=0:n-1] dose using 4:(1 - column(14 + k)) with points lt 1 pt 7 ps 0.9 title (k == 0 ? "DeiT⚗, each seed, by teacher" : ""), \
             dose using 4:(1 - $6) with points lt 1 pt 3 ps 2 title "DeiT⚗, mean", \
             dose using 4:((1 - $6) * label_shift(strcol(1))):(label_left(strcol(1)) ? "" : sprintf("%s (%.1f %%)", strcol(1), $3)) with labels left offset 1.2, 0 font ",8" tc rgb "#333333" notitle, \
             dose using 4:((1 - $6) * label_shift(strcol(1))):(label_left(strcol(1)) ? sprintf("%s (%.1f %%)", strcol(1), $3) : "") with labels right offset -1.2, 0 font ",8" tc rgb "#333333" notitle
    } else {
        set xrange [0:1]
        set yrange [1e-3:1]
        set label 4 "no dose-response study at this scale (make token-similarity-dose)" at graph 0.5, 0.5 center tc rgb "#777777"
        plot NaN notitle
        unset label 4
    }
    unset multiplot
}
