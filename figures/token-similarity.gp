# DeiT §4's token similarity, from `token-similarity`: cosine between the class token and the
# distillation token of DeiT⚗ through the network, against a ViT with two class tokens trained on
# the labels alone, with the paper's 0.06 (learned tokens), 0.93 (last layer) and 0.999 (two
# class tokens) marked. Columns of token-similarity.tsv: depth, where, the two cosines.
load "style.gp"
data = "data/token-similarity.tsv"

do for [fmt in formats] {
    eval output(fmt, "token-similarity", 800, 480)
    stats data using 1 nooutput
    last = STATS_max
    set title "Class vs distillation token: cosine similarity through the network" font ",13"
    set xlabel "where (tokens = the learned embeddings; norm = what the heads read)"
    set ylabel "cosine similarity (mean over test images)"
    set yrange [-0.3:1.08]
    set xrange [-0.3:last + 0.3]
    set key bottom right
    set label 1 "paper 0.06" at 0.15, 0.06 font ",9" tc rgb "#555555"
    set label 2 "paper 0.93" at last - 0.9, 0.93 font ",9" tc rgb "#555555"
    set label 3 "paper 0.999" at last - 0.95, 1.03 font ",9" tc rgb "#555555"
    plot data using 1:3:xtic(2) with linespoints lt 1 title "DeiT⚗: class and distillation tokens", \
         data using 1:4 with linespoints lt 2 title "control: two class tokens, no teacher", \
         "+" using (0):(0.06) every ::0::0 with points pt 6 ps 1.4 lc rgb "#777777" notitle, \
         "+" using (last):(0.93) every ::0::0 with points pt 6 ps 1.4 lc rgb "#777777" notitle, \
         "+" using (last):(0.999) every ::0::0 with points pt 4 ps 1.4 lc rgb "#777777" title "paper (DeiT-B⚗, ImageNet)"
}
