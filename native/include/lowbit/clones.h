// LOWBIT_CLONES: multiversions a function for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and baseline
// x86-64, chosen at load time, so serial loops vectorize on the machine at hand while the addon is
// still built with portable flags. A no-op on other compilers and architectures.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOWBIT_CLONES
#endif
