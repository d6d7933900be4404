# DeiT's distillation study (Tab. 3 and 4), from `distillation`. One row per student and head:
#   (a) test accuracy, ours (mean ± std over seeds) beside DeiT-Ti's on ImageNet (Tab. 3): dots
#       on a zoomed axis, not bars, since bars from 74 % would make 1–3 points look like a factor;
#   (b) how often each student disagrees with the ConvNet teacher, beside the paper's (Tab. 4);
#   (c) DeiT's Fig. 3: the class head's test accuracy after each epoch, averaged over seeds by
#       awk, from distillation-runs.tsv (variant, seed, epoch, train loss, test accuracy, ...).
# Columns of distillation-final.tsv: index, student, head, accuracy mean, std, paper, disagreement
# with the ConvNet mean, std, paper's disagreement, teacher accuracy. The printed accuracies are
# the JSON's full-precision means (json() in style.gp), rounded to 2 decimals as in the README.
load "style.gp"
final = "data/distillation-final.tsv"
summary = "data/distillation.json"
curve(v) = sprintf("< awk -F'\t' '!/^#/ && $1 == \"%s\" { s[$3] += $5; n[$3]++ } END { OFS = FS; for (e in s) print e, s[e] / n[e] }' data/distillation-runs.tsv | sort -n", v)

# Row labels from the student's name (kind-teacher[-per-element]) and head, e.g. token-vit and
# distillation: "DeiT⚗, ViT: dist. head". Unknown names pass through.
dash(s) = strstrt(s, "-")
kind(s) = (dash(s) ? s[1:dash(s) - 1] : s)
teacher(s) = (dash(s) == 0 ? "" : (strstrt(s, "-convnet") ? ", ConvNet" : (strstrt(s, "-vit") ? ", ViT" : ", " . s[dash(s) + 1:])) \
    . (strstrt(s, "per-element") ? " (KL per element)" : ""))
kindname(k) = (k eq "token" ? "DeiT⚗" : (k eq "none" ? "no teacher" : k))
headname(h) = (h eq "class+distillation" ? "both heads" : (h eq "distillation" ? "dist. head" : "class head"))
label(s, h) = kindname(kind(s)) . teacher(s) . (kind(s) eq "token" ? ": " . headname(h) : "")

seeds = int(real(json(summary, "config.seeds")))
# The per-epoch accuracy's test images (the recipe's curve_images; none, which json() reads as
# "nan": the whole test set).
curve_images = json(summary, "config.recipe.curve_images")
curve_images = (curve_images eq "nan" ? "" : curve_images)
mean(s, h) = real(json(summary, sprintf("results.%s.%s.accuracy_mean", s, h)))
std(s, h) = real(json(summary, sprintf("results.%s.%s.accuracy_std", s, h)))
# "79.54 ± 0.93" over several seeds, "79.54" over one (a 0 std would read as a measured spread)
shown(s, h) = (seeds > 1 ? sprintf("%.2f ± %.2f", mean(s, h), std(s, h)) : sprintf("%.2f", mean(s, h)))
ours = (seeds > 1 ? sprintf("ours (mean ± std over %d seeds)", seeds) : "ours (1 seed)")

# Panel (a)'s zoom: from just below the lowest mark to just above the highest error bar.
stats final using ($6 == $6 && $6 < $4 - $5 ? $6 : $4 - $5) nooutput
low = floor(STATS_min) - 1
stats final using ($4 + $5) nooutput
high = ceil(STATS_max) + 1
rows = STATS_records
stats final using ($7 + $8 > $9 || $9 != $9 ? 100 * ($7 + $8) : 100 * $9) nooutput
disagree_max = STATS_max

paper = 'pt 12 ps 1.6 lw 1.5 lc rgb "#333333"'      # open diamond: the paper's value
dot = 'lt 1 pt 7 ps 1.1 lw 1.5'                     # ours, with its std as an error bar

do for [fmt in formats] {
    eval output(fmt, "distillation", 1800, 500)
    set multiplot title "DeiT: learning from a teacher (ours: a small ViT student on Fashion-MNIST; paper: DeiT-Ti on ImageNet)" font ",13"
    # The panels share the rows, so they share the top and bottom margins.
    set tmargin at screen 0.83; set bmargin at screen 0.20
    set yrange [rows - 0.5:-0.5]
    set ytics 1 scale 0 font ",10"
    set grid xtics ytics
    unset key

    set title "(a) Test accuracy (DeiT Tab. 3)"
    set lmargin at screen 0.125; set rmargin at screen 0.345
    set xrange [low:high]
    set xtics 1 font ",10"
    set xlabel sprintf("top-1 accuracy (%%): zoomed, the axis starts at %d %%", low) offset 0, 0.3
    # The axis break: a gap with two slashes on the x axis near its start (border behind the gap).
    set border back
    set object 1 rectangle from graph 0.022, graph -0.03 to graph 0.040, graph 0.03 fc rgb "white" fs solid noborder front
    set arrow 1 from graph 0.014, graph -0.025 to graph 0.030, graph 0.025 nohead lc rgb "#444444" lw 1.2 front
    set arrow 2 from graph 0.032, graph -0.025 to graph 0.048, graph 0.025 nohead lc rgb "#444444" lw 1.2 front
    plot final using 4:1:5:ytic(label(strcol(2), strcol(3))) with xerrorbars @dot notitle, \
         final using 6:1 with points @paper notitle, \
         final using 4:($1 - 0.4):(shown(strcol(2), strcol(3))) with labels font ",9" notitle, \
         final using 6:($1 - 0.4):(sprintf("%.1f", $6)) with labels font ",9" tc rgb "#333333" notitle
    unset object 1; unset arrow 1; unset arrow 2
    set border front

    set title "(b) Disagreement with the ConvNet teacher (DeiT Tab. 4)"
    set lmargin at screen 0.375; set rmargin at screen 0.62
    set xrange [0:1.1 * disagree_max]
    set xtics autofreq
    set ytics format ""
    set xlabel "test images labelled unlike the ConvNet teacher (%), axis from 0"
    plot final using (100 * $7):1:(100 * $8) with xerrorbars @dot notitle, \
         final using (100 * $9):1 with points @paper notitle

    set title sprintf("(c) Accuracy per epoch (DeiT Fig. 3; %s%s)", seeds > 1 ? sprintf("mean of %d seeds", seeds) : "1 seed", \
                      curve_images eq "" ? "" : sprintf("; first %s test images", thousands(real(curve_images))))
    set lmargin at screen 0.69; set rmargin at screen 0.985
    set xlabel "epoch"
    set ylabel "top-1 accuracy (%), class head"
    set autoscale
    unset grid; set grid ytics
    set ytics autofreq format "% h" font ",10" scale 0.6
    set xtics autofreq
    set key inside bottom right vertical font ",11"
    plot curve("none") using 1:2 with linespoints lt 1 pt 7 pi 5 title "no teacher", \
         curve("hard-convnet") using 1:2 with linespoints lt 2 pt 5 pi 5 title "hard, ConvNet teacher", \
         curve("token-convnet") using 1:2 with linespoints lt 3 pt 9 pi 5 title "DeiT⚗, ConvNet teacher"

    # One key for (a) and (b), the same marks in both, on a strip of its own below them: a key
    # can be no wider than its plot.
    unset title; unset xlabel; unset ylabel; unset border; unset tics; unset grid
    set lmargin at screen 0.125; set rmargin at screen 0.62; set tmargin at screen 0.05; set bmargin at screen 0
    set key inside center center horizontal font ",10"
    set xrange [0:1]; set yrange [0:1]
    plot NaN notitle, keyentry with xerrorbars @dot title ours, keyentry with points @paper title "paper (ImageNet)"
    unset multiplot
}
