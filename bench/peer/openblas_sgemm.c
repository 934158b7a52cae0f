/* OpenBLAS peer for GemmBench: times cblas_sgemm on the 2B model's GEMM shapes, the same
 * y[M,N] = x[M,K] * w[N,K]^T as our Linear (w row-major [N,K] => CblasTrans on B).
 * Build and run with bench/peer/run-openblas-peer.sh (uses Debian's libopenblas0-pthread). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(void) {
    int ms[] = {1, 16, 144, 1024, 4096};
    int kn[][2] = {{2048, 6144}, {2048, 8192}, {8192, 2048}, {2048, 2048}};
    printf("M,K,N,GFLOPS_best,GFLOPS_median\n");
    for (int a = 0; a < 5; a++) for (int b = 0; b < 4; b++) {
        int m = ms[a], k = kn[b][0], n = kn[b][1];
        float *x = malloc(sizeof(float) * (size_t) m * k), *w = malloc(sizeof(float) * (size_t) n * k), *y = malloc(sizeof(float) * (size_t) m * n);
        for (size_t i = 0; i < (size_t) m * k; i++) x[i] = (float) rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < (size_t) n * k; i++) w[i] = (float) rand() / RAND_MAX - 0.5f;
        double flop = 2.0 * m * n * k, times[15];
        int reps = m >= 1024 ? 5 : 15;
        cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1, x, k, w, k, 0, y, n);
        for (int r = 0; r < reps; r++) {
            double t = now();
            int inner = m < 144 ? 10 : 1;
            for (int i = 0; i < inner; i++) cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1, x, k, w, k, 0, y, n);
            times[r] = (now() - t) / inner;
        }
        for (int i = 0; i < reps; i++) for (int j = i + 1; j < reps; j++) if (times[j] < times[i]) { double s = times[i]; times[i] = times[j]; times[j] = s; }
        printf("%d,%d,%d,%.1f,%.1f\n", m, k, n, flop / times[0] / 1e9, flop / times[reps / 2] / 1e9);
        fflush(stdout);
        free(x); free(w); free(y);
    }
    return 0;
}
