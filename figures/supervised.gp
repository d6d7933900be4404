# Supervised training curves of the two teachers (Lab/Teachers.swift), from `supervised`.
load "style.gp"
convnet = "data/supervised-convnet.tsv"
vit = "data/supervised-vit.tsv"

do for [fmt in formats] {
    eval output(fmt, "supervised", 1000, 420)
    set multiplot layout 1, 2 title "Supervised training on Fashion-MNIST" font ",13"

    set title "Test accuracy (10 000 images)"
    set xlabel "epoch"
    set ylabel "accuracy (%)"
    set key bottom right
    set yrange [*:*]
    plot convnet using 1:3 with linespoints lt 1 title "ConvNet (small ResNet)", \
         vit using 1:3 with linespoints lt 2 title "ViT", \
         92.5 with lines @reference title "targets: ConvNet 92.5, ViT 88", \
         88 with lines @reference notitle

    set title "Training loss (label-smoothed cross-entropy)"
    set ylabel "loss (nats)"
    set key top right
    plot convnet using 1:2 with linespoints lt 1 title "ConvNet", \
         vit using 1:2 with linespoints lt 2 title "ViT"

    unset multiplot
}
