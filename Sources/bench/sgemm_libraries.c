/* Single-threaded sgemm of OpenBLAS (the core's products) against oneDNN's dnnl_sgemm (JIT
 * kernels, as in PyTorch's oneDNN path) on the products of a ViT-B/16 forward at 224² (8 images:
 * 1 576 rows) and on 1024³: the measurement behind papers/notebook.md, "BLAS kernels", "Against
 * oneDNN's sgemm". The core runs one single-threaded product per core, so one thread is the fair
 * setting.
 *
 *   gcc -O2 -std=c11 -Wall -o /tmp/sgemm_libraries Sources/bench/sgemm_libraries.c -lopenblas -ldnnl
 *   OMP_NUM_THREADS=1 OPENBLAS_CORETYPE=SkylakeX /tmp/sgemm_libraries                      # AVX-512
 *   OMP_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 /tmp/sgemm_libraries  # AVX2 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include "oneapi/dnnl/dnnl.h"

#define MIN_TIME 0.5 /* seconds of timed repetitions per library and shape */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* C (m×n) = A (m×k) · Bᵀ, B stored (n×k) as a Linear layer's weight; the best of repeated runs. */
static double best_seconds(int library, int m, int n, int k, const float *a, const float *b, float *c) {
    double best = 1e30, spent = 0;
    for (int rep = 0; spent < MIN_TIME || rep < 5; rep++) {
        double t = now();
        if (library == 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
        else if (dnnl_sgemm('N', 'T', m, n, k, 1, a, k, b, k, 0, c, n) != dnnl_success) {
            fprintf(stderr, "dnnl_sgemm failed on %dx%dx%d\n", m, n, k);
            exit(1);
        }
        t = now() - t;
        spent += t;
        if (t < best) best = t;
    }
    return best;
}

int main(void) {
    openblas_set_num_threads(1);
    printf("OpenBLAS %s kernels, one thread; oneDNN %d.%d.%d (ONEDNN_MAX_CPU_ISA caps its kernels)\n",
           openblas_get_corename(), dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
    printf("%-22s %6s %6s %6s  %9s %9s  %s\n", "product", "m", "n", "k", "OpenBLAS", "oneDNN", "GFLOP/s, oneDNN/OpenBLAS");
    const struct { const char *name; int m, n, k; } shapes[] = {
        {"1024^3", 1024, 1024, 1024},
        {"ViT-B/16 qkv", 1576, 2304, 768},
        {"ViT-B/16 attn.proj", 1576, 768, 768},
        {"ViT-B/16 mlp.fc1", 1576, 3072, 768},
        {"ViT-B/16 mlp.fc2", 1576, 768, 3072},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * n * k), *c = malloc(sizeof(float) * m * n);
        if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 1; }
        for (long i = 0; i < (long)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
        for (long i = 0; i < (long)n * k; i++) b[i] = (float)(i % 5) * 0.1f;
        double flop = 2.0 * m * n * k;
        double blas = flop / best_seconds(0, m, n, k, a, b, c) / 1e9;
        double dnnl = flop / best_seconds(1, m, n, k, a, b, c) / 1e9;
        printf("%-22s %6d %6d %6d  %9.1f %9.1f  %.3f\n", shapes[s].name, m, n, k, blas, dnnl, dnnl / blas);
        free(a); free(b); free(c);
    }
    return 0;
}
