# Supervised training curves of the two teachers, from `supervised`: by default distillation's
# teachers (10 000 images under DeiT's augmentation, DeiTStudent.teacherRecipe).
load "style.gp"
convnet = "data/supervised-convnet.tsv"
vit = "data/supervised-vit.tsv"

do for [fmt in formats] {
    eval output(fmt, "supervised", 1000, 420)
    set multiplot layout 1, 2 title "The DeiT teachers: supervised on 10 000 Fashion-MNIST images under DeiT's augmentation" font ",13"

    set title "Test accuracy (10 000 images)"
    set xlabel "epoch"
    set ylabel "accuracy (%)"
    set key bottom right
    set yrange [*:*]
    plot convnet using 1:3 with linespoints lt 1 title "ConvNet (small ResNet)", \
         vit using 1:3 with linespoints lt 2 title "ViT"

    set title "Training loss (cross-entropy against the mixed, smoothed labels)"
    set ylabel "loss (nats)"
    set key top right
    plot convnet using 1:2 with linespoints lt 1 title "ConvNet", \
         vit using 1:2 with linespoints lt 2 title "ViT"

    unset multiplot
}
