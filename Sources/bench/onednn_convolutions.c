/* The ConvNet teacher's convolutions (batch 128, fp32, no bias) on oneDNN 2.x alone, the
 * measurement that chose it over im2col + OpenBLAS (papers/notebook.md, "The ConvNet on oneDNN"):
 * forward, backward to the input and backward to the weights, each (a) in the layouts oneDNN
 * chooses (format `any`: channel blocks; reorders not timed) and (b) in plain NCHW/OIHW; the
 * direct algorithm, and for the stride-1 3x3 convolutions also `auto` and `winograd`.
 *
 *   gcc -O2 -std=c11 -Wall -o /tmp/onednn_convolutions Sources/bench/onednn_convolutions.c -ldnnl
 *   OMP_NUM_THREADS=1 /tmp/onednn_convolutions     # one core, as the Swift core calls it per core
 *   ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 ...  # the AVX2 kernels */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl_debug.h"

#define N 128
#define MIN_TIME 0.3 /* seconds of timed repetitions per measurement */

static void chk(dnnl_status_t s, const char *call, int line) {
    if (s == dnnl_success) return;
    fprintf(stderr, "line %d: %s failed: %s\n", line, call, dnnl_status2str(s));
    exit(1);
}
#define CHK(f) chk((f), #f, __LINE__)

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct { const char *name; int C, O, H, K, S; } conv_t; /* pad = K/2 */
static const conv_t convs[] = {
    {"stem", 1, 32, 28, 3, 1},
    {"l1.c1", 32, 32, 14, 3, 1},
    {"l1.c2", 32, 32, 14, 3, 1},
    {"l2.c1", 32, 64, 14, 3, 2},
    {"l2.c2", 64, 64, 7, 3, 1},
    {"l2.ds", 32, 64, 14, 1, 2},
    {"l3.c1", 64, 128, 7, 3, 2},
    {"l3.c2", 128, 128, 4, 3, 1},
    {"l3.ds", 64, 128, 7, 1, 2},
};
#define NCONV ((int)(sizeof convs / sizeof convs[0]))

static const dnnl_alg_kind_t algs[] = {dnnl_convolution_direct, dnnl_convolution_auto, dnnl_convolution_winograd};
static const char *alg_names[] = {"direct", "auto", "winograd"};
static const dnnl_format_tag_t layouts[] = {dnnl_format_tag_any, dnnl_abcd}; /* abcd == nchw == oihw */
static const char *layout_names[] = {"any", "nchw"};
static const char *pass_names[] = {"fwd", "bwd_data", "bwd_wei"};

typedef struct { dnnl_memory_desc_t src, wei, dst; dnnl_dims_t st, pad; double flops; } shape_t;

static void make_shape(shape_t *s, const conv_t *c, dnnl_format_tag_t tag) {
    int P = c->K / 2, Ho = (c->H + 2 * P - c->K) / c->S + 1;
    dnnl_dims_t sd = {N, c->C, c->H, c->H}, wd = {c->O, c->C, c->K, c->K}, dd = {N, c->O, Ho, Ho};
    CHK(dnnl_memory_desc_init_by_tag(&s->src, 4, sd, dnnl_f32, tag));
    CHK(dnnl_memory_desc_init_by_tag(&s->wei, 4, wd, dnnl_f32, tag));
    CHK(dnnl_memory_desc_init_by_tag(&s->dst, 4, dd, dnnl_f32, tag));
    s->st[0] = s->st[1] = c->S;
    s->pad[0] = s->pad[1] = P;
    s->flops = 2.0 * N * c->O * c->C * c->K * c->K * Ho * Ho;
}

/* Short layout name, e.g. "aBcd8b" (= nChw8c), "ABcd8b8a"; uppercase = blocked dim. */
static const char *md2str(const dnnl_memory_desc_t *md, char *buf) {
    if (md->format_kind != dnnl_blocked) return dnnl_fmt_kind2str(md->format_kind);
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int ord[DNNL_MAX_NDIMS], n = md->ndims, k = 0;
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++) /* stable sort by outer stride, descending */
        for (int j = i; j > 0 && b->strides[ord[j - 1]] < b->strides[ord[j]]; j--) {
            int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        int blk = 0;
        for (int j = 0; j < b->inner_nblks; j++) blk |= b->inner_idxs[j] == ord[i];
        buf[k++] = (char)((blk ? 'A' : 'a') + ord[i]);
    }
    for (int j = 0; j < b->inner_nblks; j++)
        k += sprintf(buf + k, "%lld%c", (long long)b->inner_blks[j], (char)('a' + b->inner_idxs[j]));
    buf[k] = 0;
    return buf;
}

/* Memory in the layout the primitive wants for `what`; zeroed, or filled with small
 * random values (written in plain layout and reordered, so block padding stays zero). */
static dnnl_memory_t make_mem(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int fill) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
    if (!md) { fprintf(stderr, "dnnl_primitive_desc_query_md(%d) failed\n", (int)what); exit(1); }
    dnnl_memory_t m, pm;
    void *p;
    CHK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    CHK(dnnl_memory_get_data_handle(m, &p));
    memset(p, 0, dnnl_memory_desc_get_size(md));
    if (!fill) return m;
    dnnl_memory_desc_t pmd;
    CHK(dnnl_memory_desc_init_by_tag(&pmd, md->ndims, md->dims, dnnl_f32, dnnl_abcd));
    CHK(dnnl_memory_create(&pm, &pmd, eng, DNNL_MEMORY_ALLOCATE));
    CHK(dnnl_memory_get_data_handle(pm, &p));
    float *f = p;
    for (size_t i = 0, n = dnnl_memory_desc_get_size(&pmd) / sizeof(float); i < n; i++)
        f[i] = 0.1f * ((float)rand() / RAND_MAX - 0.5f);
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r;
    CHK(dnnl_reorder_primitive_desc_create(&rpd, &pmd, eng, md, eng, NULL));
    CHK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, pm}, {DNNL_ARG_TO, m}};
    CHK(dnnl_primitive_execute(r, strm, 2, a));
    CHK(dnnl_stream_wait(strm));
    CHK(dnnl_primitive_destroy(r));
    CHK(dnnl_primitive_desc_destroy(rpd));
    CHK(dnnl_memory_destroy(pm));
    return m;
}

/* Creates a primitive descriptor; returns NULL (reported as unsupported, not fatal)
 * if creation fails, normally with dnnl_unimplemented. */
static dnnl_primitive_desc_t make_pd(const dnnl_convolution_desc_t *d, const_dnnl_primitive_desc_t hint) {
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, d, NULL, eng, hint);
    if (s == dnnl_success) return pd;
    if (s != dnnl_unimplemented) fprintf(stderr, "note: dnnl_primitive_desc_create: %s\n", dnnl_status2str(s));
    return NULL;
}

/* Times one primitive with 3 arguments; prints a result line; returns us/exec or -1. */
static double bench_pd(const_dnnl_primitive_desc_t pd, const int arg[3], const dnnl_query_t q[3],
        const int fill[3], const char *label, double flops) {
    if (!pd) { printf("%s  unsupported\n", label); return -1; }
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[3];
    char fmt[3][64];
    const char *impl;
    for (int i = 0; i < 3; i++) {
        args[i].arg = arg[i];
        args[i].memory = make_mem(pd, q[i], fill[i]);
        md2str(dnnl_primitive_desc_query_md(pd, q[i], 0), fmt[i]);
    }
    CHK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    CHK(dnnl_primitive_create(&prim, pd));
    CHK(dnnl_primitive_execute(prim, strm, 3, args)); /* warm-up */
    CHK(dnnl_stream_wait(strm));
    long it = 0;
    double t0 = now(), t;
    do {
        CHK(dnnl_primitive_execute(prim, strm, 3, args));
        CHK(dnnl_stream_wait(strm));
        it++;
    } while ((t = now() - t0) < MIN_TIME);
    double us = 1e6 * t / it;
    printf("%s %10.1f us %8.1f GFLOP/s  %-26s [%s %s %s]\n", label, us, flops / us * 1e-3, impl,
            fmt[0], fmt[1], fmt[2]);
    fflush(stdout);
    CHK(dnnl_primitive_destroy(prim));
    for (int i = 0; i < 3; i++) CHK(dnnl_memory_destroy(args[i].memory));
    return us;
}

/* Forward; the primitive descriptor is returned in *fwd (NULL if unsupported) as hint for backward. */
static double bench_fwd(const shape_t *s, dnnl_alg_kind_t alg, const char *label, dnnl_primitive_desc_t *fwd) {
    static const int a[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    static const dnnl_query_t q[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
    static const int f[3] = {1, 1, 0};
    dnnl_convolution_desc_t d;
    CHK(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, alg, &s->src, &s->wei, NULL,
            &s->dst, s->st, s->pad, s->pad));
    *fwd = make_pd(&d, NULL);
    return bench_pd(*fwd, a, q, f, label, s->flops);
}

static double bench_bwd_data(const shape_t *s, dnnl_alg_kind_t alg, const char *label, const_dnnl_primitive_desc_t fwd) {
    static const int a[3] = {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST};
    static const dnnl_query_t q[3] = {dnnl_query_diff_src_md, dnnl_query_weights_md, dnnl_query_diff_dst_md};
    static const int f[3] = {0, 1, 1};
    dnnl_convolution_desc_t d;
    CHK(dnnl_convolution_backward_data_desc_init(&d, alg, &s->src, &s->wei, &s->dst, s->st, s->pad, s->pad));
    dnnl_primitive_desc_t pd = fwd ? make_pd(&d, fwd) : NULL;
    double us = bench_pd(pd, a, q, f, label, s->flops);
    if (pd) CHK(dnnl_primitive_desc_destroy(pd));
    return us;
}

static double bench_bwd_weights(const shape_t *s, dnnl_alg_kind_t alg, const char *label, const_dnnl_primitive_desc_t fwd) {
    static const int a[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST};
    static const dnnl_query_t q[3] = {dnnl_query_src_md, dnnl_query_diff_weights_md, dnnl_query_diff_dst_md};
    static const int f[3] = {1, 0, 1};
    dnnl_convolution_desc_t d;
    CHK(dnnl_convolution_backward_weights_desc_init(&d, alg, &s->src, &s->wei, NULL, &s->dst, s->st,
            s->pad, s->pad));
    dnnl_primitive_desc_t pd = fwd ? make_pd(&d, fwd) : NULL;
    double us = bench_pd(pd, a, q, f, label, s->flops);
    if (pd) CHK(dnnl_primitive_desc_destroy(pd));
    return us;
}

static double T[NCONV][3][2][3]; /* [conv][alg][layout][pass] us, -1 = unsupported/not run */

/* Sum over convs of the first npass passes; alg < 0 = fastest supported alg per conv and pass.
 * Stem (conv 0) bwd_data excluded. Returns -1 if some term is unavailable. */
static double total_ms(int alg, int lay, int npass) {
    double sum = 0;
    for (int c = 0; c < NCONV; c++)
        for (int p = 0; p < npass; p++) {
            if (c == 0 && p == 1) continue;
            double best = -1;
            for (int a = 0; a < 3; a++)
                if ((alg < 0 || a == alg) && T[c][a][lay][p] >= 0 && (best < 0 || T[c][a][lay][p] < best))
                    best = T[c][a][lay][p];
            if (best < 0) return -1;
            sum += best;
        }
    return sum * 1e-3;
}

int main(void) {
    const dnnl_version_t *v = dnnl_version();
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("oneDNN %d.%d.%d (%s), cpu runtime %s, OMP_NUM_THREADS=%s, N=%d, min time %.2f s\n",
            v->major, v->minor, v->patch, v->hash ? v->hash : "?", dnnl_runtime2str(v->cpu_runtime),
            omp ? omp : "(unset)", N, MIN_TIME);
    printf("formats [src|diff_src  weights|diff_weights  dst|diff_dst]: letters a..d = dims "
           "(n,c,h,w / o,i,h,w), outer to inner; uppercase = blocked, e.g. aBcd8b = nChw8c\n");
    srand(1);
    CHK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    for (int c = 0; c < NCONV; c++)
        for (int a = 0; a < 3; a++)
            for (int l = 0; l < 2; l++)
                for (int p = 0; p < 3; p++) T[c][a][l][p] = -1;

    for (int c = 0; c < NCONV; c++) {
        const conv_t *cv = &convs[c];
        int Ho = (cv->H + 2 * (cv->K / 2) - cv->K) / cv->S + 1;
        printf("\n== %s: %d->%d %dx%d s%d, %dx%d -> %dx%d\n", cv->name, cv->C, cv->O, cv->K, cv->K, cv->S,
                cv->H, cv->H, Ho, Ho);
        int nalg = (cv->K == 3 && cv->S == 1) ? 3 : 1;
        for (int a = 0; a < nalg; a++)
            for (int l = 0; l < 2; l++) {
                shape_t s;
                char label[3][96];
                dnnl_primitive_desc_t fwd;
                make_shape(&s, cv, layouts[l]);
                for (int p = 0; p < 3; p++)
                    snprintf(label[p], sizeof label[p], "%-6s %-8s %-4s %-8s", cv->name, alg_names[a],
                            layout_names[l], pass_names[p]);
                T[c][a][l][0] = bench_fwd(&s, algs[a], label[0], &fwd);
                T[c][a][l][1] = bench_bwd_data(&s, algs[a], label[1], fwd);
                T[c][a][l][2] = bench_bwd_weights(&s, algs[a], label[2], fwd);
                if (fwd) CHK(dnnl_primitive_desc_destroy(fwd));
            }
    }

    printf("\n== Totals over all convs, batch %d (training = fwd + bwd_data + bwd_weights, stem bwd_data excluded)\n", N);
    printf("%-16s %10s %12s %12s %14s\n", "variant", "fwd ms", "fwd img/s", "train ms", "train img/s");
    for (int a = -1; a < 1; a++) /* a = 0: direct only; a = -1: fastest of direct/auto/winograd */
        for (int l = 0; l < 2; l++) {
            char name[32];
            snprintf(name, sizeof name, "%s %s", a < 0 ? "best-alg" : "direct", layout_names[l]);
            double f = total_ms(a, l, 1), t = total_ms(a, l, 3);
            printf("%-16s", name);
            if (f >= 0) printf(" %10.3f %12.0f", f, N / (f * 1e-3)); else printf(" %10s %12s", "n/a", "n/a");
            if (t >= 0) printf(" %12.3f %14.0f\n", t, N / (t * 1e-3)); else printf(" %12s %14s\n", "n/a", "n/a");
        }

    CHK(dnnl_stream_destroy(strm));
    CHK(dnnl_engine_destroy(eng));
    return 0;
}
