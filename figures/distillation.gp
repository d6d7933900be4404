# DeiT's distillation study (Tab. 3 and 4), from `distillation`: test accuracy of each student
# and head, mean ± std over seeds, with DeiT-Ti's ImageNet numbers written above the bars, and
# how often each student disagrees with the ConvNet teacher beside the paper's Tab. 4. Columns of
# distillation-final.tsv: index, student, head, accuracy mean, std, paper, disagreement with the
# ConvNet mean, std, paper's disagreement, teacher accuracy. The third panel is DeiT's Fig. 3: the
# class head's test accuracy after each epoch, averaged over seeds (by awk), from
# distillation-runs.tsv (variant, seed, epoch, train loss, test accuracy, seconds, teacher label
# flips, teacher seconds).
load "style.gp"
final = "data/distillation-final.tsv"
curve(v) = sprintf("< awk -F'\t' '!/^#/ && $1 == \"%s\" { s[$3] += $5; n[$3]++ } END { OFS = FS; for (e in s) print e, s[e] / n[e] }' data/distillation-runs.tsv | sort -n", v)
cut = "-per-element"
student(s) = (strstrt(s, cut) > 0 ? s[1:strstrt(s, cut) - 1] . "\nKL/element" : s)
label(s, h) = (h eq "class" ? student(s) : s . "\n" . (h eq "class+distillation" ? "class+dist" : (h eq "distillation" ? "dist" : h)))

do for [fmt in formats] {
    eval output(fmt, "distillation", 1800, 500)
    set multiplot layout 1, 3 title "DeiT: learning from a teacher (Fashion-MNIST ViT student; paper: DeiT-Ti on ImageNet)" font ",13"

    set autoscale
    stats final using 4 nooutput
    low = STATS_min - 3
    set title "Test accuracy (mean ± std over seeds; DeiT-Ti's value inside the bar)"
    set xlabel ""
    set ylabel "top-1 accuracy (%)"
    set yrange [low:STATS_max + 2]
    set xrange [-0.6:STATS_records - 0.4]
    set xtics rotate by -35 font ",9"
    set style fill solid 0.75 border -1
    set boxwidth 0.6
    unset key
    plot final using 1:4:5:xtic(label(strcol(2), strcol(3))) with boxerrorbars lt 1 notitle, \
         final using 1:(low + 0.6):(strcol(6) eq "nan" ? "" : sprintf("paper\n%.1f", $6)) with labels font ",8" tc rgb "white" notitle, \
         final using 1:($4 + $5 + 0.4):(sprintf("%.2f", $4)) with labels font ",8" notitle

    set title "Disagreement with the ConvNet teacher (DeiT Tab. 4)"
    set ylabel "share of test images"
    set autoscale
    stats final using 7 nooutput
    set yrange [0:1.45 * (STATS_max > 0.133 ? STATS_max : 0.133)]
    set xrange [-0.6:STATS_records - 0.4]
    set boxwidth 0.38
    set key top left
    plot final using ($1-0.2):7:8:xtic(label(strcol(2), strcol(3))) with boxerrorbars lt 2 title "ours (mean ± std)", \
         final using ($1+0.2):9 with boxes lt 7 fs pattern 4 title "paper (ImageNet)"

    set title "Test accuracy per epoch (DeiT Fig. 3; mean over seeds)"
    set xlabel "epoch"
    set ylabel "top-1 accuracy (%), class head"
    set autoscale
    set xtics norotate font ",10"
    set key bottom right
    set xtics 5
    plot curve("none") using 1:2 with linespoints lt 1 pt 7 pi 5 title "no distillation", \
         curve("hard-convnet") using 1:2 with linespoints lt 2 pt 5 pi 5 title "hard (ConvNet)", \
         curve("token-convnet") using 1:2 with linespoints lt 3 pt 9 pi 5 title "DeiT⚗ (ConvNet)"
    unset multiplot
}
