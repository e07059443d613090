// Internal helpers shared by flrq.cc, flrq_rank_authors.cc, lorc.cc and lqer.cc.
#pragma once
#include <vector>

#include "lowbit/lowrank.h"

namespace lowbit {

/** max |a_i| (0 for an empty vector): FLRQ's rank rules track the residual's absmax. */
double Amax(const std::vector<double>& a);

/** out = base + sign·L·R (rows×cols). */
void ApplyLowRank(const double* base, const std::vector<double>& L, const std::vector<double>& R,
                  int rows, int cols, int rank, double sign, int threads, double* out);

/** Int8 symmetric absmax fake quantization of L's columns and R's rows (per rank component). */
void FakeQuantFactors(std::vector<double>* L, std::vector<double>* R, int rows, int cols, int rank);

/** Fills rel_error_before/after (vs `plain` = Q(W), only read: may be `out->q`) and storage_overhead of `out`. */
void FinishErrors(const std::vector<double>& W, const double* H, const SymQuant& plain,
                  int threads, LowRankResult* out);

/** The common end of the SVD baselines (LoRC, LQER): int8 factors when asked, the singular-value
 *  curve (first 64) and the before/after errors. `res->q` must already hold Q(W). */
void FinishSvdBaseline(const LowRankBaselineOptions& opt, const std::vector<double>& singular,
                       const std::vector<double>& W, const double* H, int threads, LowRankResult* res);

}  // namespace lowbit
