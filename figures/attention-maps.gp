# DINO's attention maps (Fig. 1, 3), from `attention-maps`: the last block's class-token attention
# per head for four test images, for the DINO, supervised and random ViTs of one shape. Each
# attention-maps-<model>.tsv holds, per image, the image then each head then the head mean, as
# 28 × 28 blocks (gnuplot indices). The Jaccard indices over the test set are in
# attention-maps.tsv, drawn in the last row.
load "style.gp"
models = "dino supervised random"
titles = "DINO supervised random"
images = 4
stats "data/attention-maps-dino.tsv" nooutput
panels = STATS_blocks / images          # image, heads, mean
heads = panels - 2
stats_file = "data/attention-maps.tsv"

do for [fmt in formats] {
    eval output(fmt, "attention-maps", 150 * panels + 120, 130 * 3 * images + 360)
    rows = 3 * images
    set multiplot title "Where the class token looks (last block, per head)" font ",13"
    unset key; unset tics; unset border; unset colorbox; unset grid
    set size ratio -1
    set xrange [-0.5:27.5]; set yrange [27.5:-0.5]
    left = 0.09; right = 0.99; top = 0.93; bottom = 0.27
    w = (right - left) / panels; h = (top - bottom) / rows
    do for [c = 0:panels - 1] {
        set label c + 1 (c == 0 ? "image" : (c == panels - 1 ? "head mean" : sprintf("head %d", c))) at screen left + (c + 0.5) * w, top + 0.008 center font ",10"
    }
    do for [m = 1:3] {
        file = sprintf("data/attention-maps-%s.tsv", word(models, m))
        do for [i = 0:images - 1] {
            do for [c = 0:panels - 1] {
                row = (m - 1) * images + i
                set origin left + c * w, top - (row + 1) * h
                set size w, h
                set ylabel (c == 0 && i == 0 ? word(titles, m) : "") font ",12" offset 1, 0
                if (c == 0) { set palette gray } else { set palette defined (0 "#000004", 0.35 "#56106e", 0.6 "#bb3754", 0.8 "#f98c0a", 1 "#fcffa4") }
                set cbrange [0:1]
                plot file index (i * panels + c) matrix with image
            }
        }
    }
    # The number behind the maps: the best head's Jaccard over the 10 000 test images.
    unset label
    set origin 0.08, 0.02
    set size 0.9, 0.2
    set size noratio
    set border 3; set tics nomirror out scale 0.6; set ytics nomirror; set grid ytics
    set xrange [-0.6:2.6]; set yrange [0:*]
    set xtics nomirror ("DINO" 0, "supervised" 1, "random" 2)
    set title "10 000 test images: Jaccard of the 60 %-mass mask with the object (best head); attention on the object (head mean)" font ",9" offset 0, 0
    set ylabel "%" font ",10" offset 0, 0
    set yrange [0:100]
    set style fill solid 0.75 border -1
    set boxwidth 0.25
    set key top center horizontal
    plot stats_file using ($1 - 0.27):3 with boxes lt 1 title "Jaccard, ours", \
         stats_file using ($1):8 with boxes lt 7 fs pattern 4 title "Jaccard, paper (ViT-S/16, VOC12)", \
         stats_file using ($1 + 0.27):6 with boxes lt 3 title "attention on the object", \
         stats_file using ($1 + 0.27):7:(0.125) with xerrorbars pt 0 lc rgb "#333333" lw 2 title "object share of the patches (uniform attention)", \
         stats_file using ($1 - 0.27):($3 + 4):(sprintf("%.1f", $3)) with labels font ",9" notitle, \
         stats_file using ($1 + 0.27):($6 + 4):(sprintf("%.1f", $6)) with labels font ",9" notitle
    unset multiplot
}
