# DINO's attention maps (Fig. 1, 3), from `attention-maps`: the last block's class-token attention
# of the DINO, supervised and random ViTs (one backbone shape, its patch grid from the JSON). Each
# attention-maps-<model>.tsv holds, per shown image, the image, each head's map (as a multiple of
# uniform attention: 1 where the class token spreads evenly over the patches), the head mean, and
# the best head's 60 %-mass mask, as 28 × 28 blocks (gnuplot indices). The heads drawn: every head, numbered from
# 0 as the JSON numbers them; the mask: the head with the best Jaccard over the test images of
# that setting (the paper's "best head"). The measures over the test set, with 95 % bootstrap
# intervals, are in attention-maps.tsv, drawn below.
#
# Every map of every model is drawn on one scale, from 0 to the most focused head's peak, so a
# near-uniform head looks faint and a focused one bright; each mask panel also states how many
# patches hold the mask's mass.
load "style.gp"
models = "dino supervised random"
titles = "DINO supervised random"
summary = "data/attention-maps.json"
stats_file = "data/attention-maps.tsv"
map(m) = sprintf("data/attention-maps-%s.tsv", word(models, m))
backbone(key) = int(real(json(summary, "config.dino.backbone." . key)))
heads = backbone("heads")
grid = backbone("image_size") / backbone("patch_size")        # patches per side
mass = 100 * real(json(summary, "config.mass"))              # % of the attention the mask keeps
# The shown images: "test images 19, 2, 8, 18 (classes …), then on the canvas 1, 0" in the comment.
centered = words(note(map(1), "test images [0-9, ]*[0-9]")) - 2
stats map(1) nooutput
per = heads + 3                          # blocks per image: image, heads, head mean, mask
images = STATS_blocks / per
bank = note(stats_file, "the [0-9 ]+ test images")
# Each shown mask's head (0-based, as the JSON) and its size in patches, before any range is set
# (stats keeps to the current ranges).
array kept[3 * images]
do for [m = 1:3] {
    do for [i = 0:images - 1] {
        stats map(m) index (i * per + heads + 2) matrix using 3 nooutput
        kept[(m - 1) * images + i + 1] = int(STATS_sum * grid * grid / STATS_records + 0.5)
    }
}
best(m, i) = int(real(json(summary, sprintf("results.models.%s.%s.jaccard.best_head", word(models, m), i < centered ? "centered" : "canvas"))))
# The one scale: the highest value of any head's map, of any shown image and model.
peak = 0
do for [m = 1:3] {
    do for [i = 0:images - 1] {
        do for [c = 1:heads] {
            stats map(m) index (i * per + c) matrix using 3 nooutput
            if (STATS_max > peak) { peak = STATS_max }
        }
    }
}
# Attention drawn over the image: a warm colour whose opacity is the attention over the peak.
red(v) = 255; green(v) = int(230 * v); blue(v) = 0; alpha(v) = int(235 * v ** 1.5)
shared(a) = a / peak
set style textbox opaque fillcolor rgb "#000000" noborder margins 1, 1

do for [fmt in formats] {
    columns = 1 + 3 * (heads + 1)
    eval output(fmt, "attention-maps", 95 * columns + 120, 95 * images + 560)
    set multiplot title sprintf("Where the class token looks (last block; patch %d of %d: a %d × %d grid)", backbone("patch_size"), backbone("image_size"), grid, grid) font ",13"
    unset key; unset tics; unset border; unset colorbox; unset grid
    set margins 0.3, 0.3, 0.3, 0.3
    set size ratio -1
    set xrange [-0.5:27.5]; set yrange [27.5:-0.5]
    left = 0.08; right = 0.99; top = 0.92; bottom = 0.40
    w = (right - left) / columns; h = (top - bottom) / images
    set label 1 "image" at screen left + 0.5 * w, top + 0.012 center font ",9"
    set label 2 sprintf("Every head is drawn, its attention as the warm overlay, on one scale for all maps: fully opaque at %.1f × uniform attention\n(the most focused head shown), nearly clear at uniform attention (1 ×), so colours compare across heads and models.\nThe %g %% mask is that of the head with the best Jaccard over %s of its setting (the rest of the image is dimmed);\non it, that head and how many of the %d patches hold %g %% of its attention: fewer is more focused, uniform attention needs %d.", \
        peak, mass, bank, grid * grid, mass, ceil(mass / 100 * grid * grid)) at screen 0.5, bottom - 0.015 center font ",9"
    do for [m = 1:3] {
        set label 10 * m word(titles, m) at screen left + (1 + (m - 1) * (heads + 1) + (heads + 1) / 2.0) * w, top + 0.035 center font ",11"
        do for [c = 1:heads] {
            set label 10 * m + c sprintf("head %d", c - 1) at screen left + (1 + (m - 1) * (heads + 1) + c - 0.5) * w, top + 0.012 center font ",9"
        }
        set label 10 * m + 9 sprintf("%g %% mask", mass) at screen left + (1 + (m - 1) * (heads + 1) + heads + 0.5) * w, top + 0.012 center font ",9"
    }
    set palette gray
    set cbrange [0:1]
    do for [i = 0:images - 1] {
        set ylabel (i == 0 ? "centered" : (i == centered ? "canvas" : "")) font ",10" offset 1.5, 0
        set origin left, top - (i + 1) * h
        set size w, h
        plot map(1) index (i * per) matrix with image
        unset ylabel
        unset label                      # the headers and the note: drawn once, not under every panel
        do for [m = 1:3] {
            file = map(m)
            do for [c = 1:heads + 1] {
                set origin left + (1 + (m - 1) * (heads + 1) + c - 1) * w, top - (i + 1) * h
                set size w, h
                if (c <= heads) {
                    plot file index (i * per) matrix with image, \
                         file index (i * per + c) matrix using 1:2:(red(shared($3))):(green(shared($3))):(blue(shared($3))):(alpha(shared($3))) with rgbalpha
                } else {
                    # Fig. 3's mask: the kept patches lit, the rest dimmed; its head and size below.
                    set label 3 sprintf("head %d: %d/%d", best(m, i), kept[(m - 1) * images + i + 1], grid * grid) \
                        at graph 0.5, graph 0.08 center font ",8" tc rgb "white" boxed front
                    plot file index (i * per) matrix with image, \
                         file index (i * per + heads + 2) matrix using 1:2:(0):($3 > 0.5 ? 158 : 0):($3 > 0.5 ? 115 : 0):($3 > 0.5 ? 80 : 215) with rgbalpha
                    unset label 3
                }
            }
        }
    }

    # The measures over the test images: best head, 95 % bootstrap intervals. Rows of
    # attention-maps.tsv: 0–2 centered (DINO, supervised, random), 3–5 canvas. Columns: mass 4–6,
    # Jaccard 11–13, AUROC 18–20 (best head: mean, low, high); object share 25; paper's Jaccard 26.
    set size noratio
    unset margins
    set border 3; set tics nomirror out scale 0.6; set ytics nomirror; set grid ytics
    set xrange [-0.6:2.6]; set yrange [0:128]
    set ytics 0, 20, 100
    set xtics nomirror ("mass on object" 0, sprintf("Jaccard, %g %%%% mask", mass) 1, "AUROC" 2) font ",9"
    set ylabel "% (best head)" font ",10" offset 1, 0
    set style fill solid 0.75 border -1
    set boxwidth 0.25
    x(group, row) = group + (int(row) % 3 - 1) * 0.27
    # The 95 % intervals as plain lines (yerrorbars would blank a disk around a point at the mean).
    do for [s = 0:1] {
        set origin 0.02 + s * 0.49, 0.01
        set size 0.48, 0.33
        set title (s == 0 ? bank . " as they are (centered, on black)" : "the same garments at half size, off center, with clutter") font ",10"
        set key at graph 0.01, graph 0.99 left top horizontal maxcols 3 Left reverse width -1 font ",9" samplen 1.2
        first = 3 * s; last = 3 * s + 2
        plot for [g = 0:2] stats_file every ::first::last using (x(g, $1)):(column(4 + 7 * g)):(int($1) % 3 + 1) with boxes lc variable notitle, \
             for [g = 0:2] stats_file every ::first::last using (x(g, $1)):(column(5 + 7 * g)):(0):(column(6 + 7 * g) - column(5 + 7 * g)) \
                 with vectors nohead lc rgb "#222222" lw 1.5 notitle, \
             stats_file every ::first::last using (x(1, $1)):26 with points pt 6 ps 1.2 lc rgb "#555555" title "paper's Jaccard", \
             stats_file every ::first::first using (-0.45):25:(0.9):(0) with vectors nohead lc rgb "#555555" dt (6,4) lw 1.5 title "uniform attention", \
             stats_file every ::first::first using (1.55):(50):(0.9):(0) with vectors nohead lc rgb "#555555" dt (6,4) lw 1.5 notitle, \
             for [m = 1:3] NaN with boxes lt m title word(titles, m)
    }
    unset multiplot
}
