# Patch size against throughput (DINO Tab. 2) and DINO's k-NN against throughput at 28², from
# `patch-throughput`. Rows of patch-throughput-imagenet.tsv, in the order the experiment writes
# them: 0 ViT-S/16, 1 ViT-S/8, 2 ViT-B/16, 3 ViT-B/8, 4 DeiT-Ti, 5 DeiT-S⚗, 6 DeiT-B⚗.
load "style.gp"
big = "data/patch-throughput-imagenet.tsv"
dino = "data/patch-throughput-dino.tsv"

do for [fmt in formats] {
    eval output(fmt, "patch-throughput", 1000, 420)
    set multiplot layout 1, 2 title "Patch size and throughput" font ",13"

    set title "Forward images/s at 224² (log scale)"
    set xlabel "patch size (pixels)"
    set ylabel "images per second"
    set logscale y
    set yrange [0.5:*]
    set logscale x 2
    set xrange [6:20]
    set xtics ("8" 8, "16" 16)
    set key top left
    plot big every ::0::1 using 2:6 with linespoints lt 1 title "ViT-S, this CPU", \
         big every ::2::3 using 2:6 with linespoints lt 2 title "ViT-B, this CPU", \
         big every ::0::1 using 2:13 with linespoints lt 1 dt (6,4) pt 6 title "ViT-S, paper (V100)", \
         big every ::2::3 using 2:13 with linespoints lt 2 dt (6,4) pt 4 title "ViT-B, paper (V100)"

    set title "28² DINO ViTs: what smaller patches buy"
    set xlabel "forward images per second (log scale)"
    set ylabel "k-NN20 test accuracy (%)"
    unset logscale y
    set yrange [*:*]
    set logscale x 10
    set xrange [*:*]
    set xtics autofreq
    set key bottom right
    set offsets graph 0.1, graph 0.1, graph 0.15, graph 0.3
    plot dino using 3:6 with linespoints lt 3 title "momentum teachers, 3 epochs of 60 000 images", \
         dino using 3:6:(sprintf("patch %d", $1)) with labels offset char 0, char 1 notitle
    unset offsets
    unset multiplot
}
