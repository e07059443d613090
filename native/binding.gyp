{
  "targets": [
    {
      "target_name": "lowbit_native",
      "sources": [
        "src/binding/addon.cc",
        "src/binding/binarize_binding.cc",
        "src/binding/lowrank_binding.cc",
        "src/binding/quant_binding.cc",
        "src/binding/rounding_binding.cc",
        "src/binding/scaling_binding.cc",
        "src/binding/sparse_binding.cc",
        "src/core/parallel.cc",
        "src/core/status.cc",
        "src/core/gemm.cc",
        "src/core/layer_error.cc",
        "src/core/scale_search.cc",
        "src/core/quant_grid.cc",
        "src/core/rtn.cc",
        "src/core/hessian.cc",
        "src/core/cholesky.cc",
        "src/core/scratch.cc",
        "src/core/gptq.cc",
        "src/core/gptq_fp32.cc",
        "src/core/gptaq_cross.cc",
        "src/core/sparse_mask.cc",
        "src/core/jsq.cc",
        "src/core/binarize_primitives.cc",
        "src/core/billm.cc",
        "src/core/billm_search.cc",
        "src/core/pbllm.cc",
        "src/core/dualbin.cc",
        "src/core/svd.cc",
        "src/core/sketch.cc",
        "src/core/lowrank_common.cc",
        "src/core/flrq.cc",
        "src/core/flrq_rank_authors.cc",
        "src/core/lorc.cc",
        "src/core/lqer.cc",
        "src/core/hqq.cc",
        "src/core/adaround.cc",
        "src/core/hadamard.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "include"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-pthread"],
      "cflags_cc!": ["-fno-exceptions"],
      "ldflags": ["-pthread"]
    }
  ]
}
