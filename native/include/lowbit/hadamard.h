// Fast Walsh–Hadamard transform for the residual-stream rotation (docs/algorithms.md §3d):
// each row of length p·m, viewed as [p, m], is multiplied along its p axis by Sylvester's H_p
// (unnormalized, entries ±1): v[a, b] ← Σ_c H_p[a, c]·v[c, b]. O(p log p · m) per row, in float64.
#pragma once
#include <cstddef>

#include "lowbit/status.h"

namespace lowbit {

/** In place over `rows` rows of p·m doubles; p must be a power of two. Rows are threaded. */
Status FwhtRows(double* v, size_t rows, size_t p, size_t m, int threads);

}  // namespace lowbit
