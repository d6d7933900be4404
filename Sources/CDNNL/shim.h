// oneDNN 2.x's C API (Debian: libdnnl-dev), the ConvNet's convolutions (Tensor/Kernels/OneDNN.swift).
// Debian builds it on OpenMP (libgomp), whose thread count each calling thread sets for itself.
#include <dnnl.h>
#include <dnnl_debug.h>
void omp_set_num_threads(int);
