// OpenBLAS's cblas.h also declares openblas_get_corename(), openblas_get_config() and
// openblas_{get,set}_num_threads(), which the core uses to report and control the kernel.
#include <cblas.h>
