/* Baseline for the Hessian benchmark: OpenBLAS sgemm computing XᵀX (n×n from T×n), the same flops
 * and shapes as lowbit's Hessian accumulation. Built and run by bench/gptq.ts when OpenBLAS is there.
 * Usage: sgemm_baseline <n> <tokens> <threads>; prints the best of 3 runs in seconds. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int n = atoi(argv[1]), T = atoi(argv[2]), threads = atoi(argv[3]);
  if (threads > 0) openblas_set_num_threads(threads);
  float *x = malloc(sizeof(float) * (size_t)T * n), *h = calloc((size_t)n * n, sizeof(float));
  if (!x || !h) return 1;
  unsigned s = 1;
  for (size_t i = 0; i < (size_t)T * n; i++) { s = s * 1664525u + 1013904223u; x[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f; }
  double best = 1e30;
  for (int r = 0; r < 3; r++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, T, 2.0f / T, x, n, x, n, 0.0f, h, n);
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  printf("%.6f\n", best);
  free(x);
  free(h);
  return 0;
}
