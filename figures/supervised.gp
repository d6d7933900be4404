# Supervised training curves of the two teachers, from `supervised`: by default distillation's
# teachers (a subset of the training images under DeiT's augmentation, DeiTStudent.teacherRecipe).
# Columns of supervised-<model>.tsv: epoch, train loss, test accuracy, seconds, images/s.
load "style.gp"
convnet = "data/supervised-convnet.tsv"
vit = "data/supervised-vit.tsv"
summary = "data/supervised.json"

# What the teachers learned from, as the table's recipe comment states it (no "train_images": all).
images = note(convnet, "\"train_images\":[0-9]+")
images = (images eq "" ? "all" : thousands(real(images[strstrt(images, ":") + 1:])))
augmentation = (note(convnet, "\"mix\":[{]") eq "" ? "flips only" : "DeiT's augmentation")
final(model) = real(json(summary, sprintf("results.%s.final_test_accuracy", model)))
# The per-epoch accuracy's test images (recipe.curve_images; none: all); the key's final
# accuracies are on the whole test set.
curve_images = note(convnet, "\"curve_images\":[0-9]+")
measured = (curve_images eq "" ? "Fashion-MNIST test set" : sprintf("per epoch: first %s test images", thousands(real(curve_images[strstrt(curve_images, ":") + 1:]))))

do for [fmt in formats] {
    eval output(fmt, "supervised", 1000, 420)
    set multiplot layout 1, 2 title sprintf("The DeiT teachers: supervised on %s Fashion-MNIST training images, %s", images, augmentation) font ",13"

    set title sprintf("Test accuracy (%s)", measured)
    set xlabel "epoch"
    set ylabel "accuracy (%)"
    set key bottom right
    set yrange [*:*]
    plot convnet using 1:3 with linespoints lt 1 title sprintf("ConvNet: %.2f %% at the end (whole test set)", final("convnet")), \
         vit using 1:3 with linespoints lt 2 title sprintf("ViT: %.2f %% at the end (whole test set)", final("vit"))

    # The targets are the smoothed (and, under DeiT's augmentation, mixed) labels, so the loss
    # stays well above 0.
    set title "Training loss"
    set ylabel "cross-entropy vs. training targets (nats)"
    set key top right
    plot convnet using 1:2 with linespoints lt 1 title "ConvNet", \
         vit using 1:2 with linespoints lt 2 title "ViT"

    unset multiplot
}
