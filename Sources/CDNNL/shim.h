// oneDNN 2.x's C API (Debian: libdnnl-dev), the ConvNet's convolutions (Tensor/Kernels/OneDNN.swift).
#if !__has_include(<dnnl.h>)
#error "oneDNN's headers are missing: install them with `sudo apt-get install libdnnl-dev` (make setup does)"
#endif
#include <dnnl.h>
#include <dnnl_debug.h>
#if DNNL_CPU_RUNTIME != DNNL_RUNTIME_OMP
#error "this oneDNN does not run on OpenMP, whose team size Tensor/Kernels/OneDNN.swift sets per thread"
#endif
