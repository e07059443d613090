"""Runs the HQQ authors' quantizer (github.com/mobiusml/hqq, imported in place from HQQ_ROOT, not
copied) on weights written by bench/hqqFaithfulness.ts and writes the dequantized weights back.

usage: hqqReference.py HQQ_ROOT DIR   (DIR/layers.json lists {name, rows, cols}; DIR/<name>.w.bin is
float32 row-major rows x cols; writes DIR/<name>.<variant>.w<bits>.bin and DIR/stats.json)

Variants, both through hqq.core.quantize.Quantizer.quantize(axis=1, bitpack=False, device='cpu'):
  default  the package's default optimizer (optimize_weights_proximal) with BaseQuantizeConfig's
           round_zero (True at 4 bits, False otherwise)
  v2       optimize_weights_proximal_v2 (beta grows by kappa, early stop keeps the best zero), round_zero False
Groups are consecutive input columns of one output row. A row length that is not a multiple of the
group size (stories260K's w2: 172) is split into the full groups and one ragged group, each quantized
by its own call (HQQ's early stop then runs per call).
"""
import json
import os
import sys
import types

import numpy as np
import torch

root, d = sys.argv[1], sys.argv[2]
sys.modules.setdefault('termcolor', types.SimpleNamespace(colored=lambda s, *a, **k: s))  # only used for warnings
if not hasattr(torch, 'compile'):  # torch < 2 (Debian's 1.13): hqq decorates a few kernels with torch.compile
    torch.compile = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
sys.path.insert(0, root)
from hqq.core import optimize as hopt  # noqa: E402
from hqq.core.quantize import Quantizer  # noqa: E402

torch.set_num_threads(int(os.environ.get('LOWBIT_THREADS', '2')))
layers = json.load(open(os.path.join(d, 'layers.json')))
bits_list = json.load(open(os.path.join(d, 'config.json')))['bits']
group = json.load(open(os.path.join(d, 'config.json')))['group']
default_opt = Quantizer.optimize_weights


def quant(w, bits, g, variant):
    Quantizer.optimize_weights = default_opt if variant == 'default' else hopt.optimize_weights_proximal_v2
    round_zero = (bits == 4) if variant == 'default' else False
    wq, meta = Quantizer.quantize(w, nbits=bits, channel_wise=True, group_size=g, optimize=True,
                                  round_zero=round_zero, axis=1, bitpack=False, device='cpu')
    meta['compute_dtype'] = torch.float32
    return Quantizer.dequantize(wq, meta).reshape(w.shape)


stats = {}
for l in layers:
    w = torch.from_numpy(np.fromfile(os.path.join(d, l['name'] + '.w.bin'), dtype=np.float32).reshape(l['rows'], l['cols']))
    for bits in bits_list:
        for variant in ('default', 'v2'):
            full = (l['cols'] // group) * group
            parts = [quant(w[:, :full].contiguous(), bits, group, variant)]
            if full < l['cols']:
                parts.append(quant(w[:, full:].contiguous(), bits, l['cols'] - full, variant))
            out = torch.cat(parts, dim=1).float().numpy()
            out.astype(np.float32).tofile(os.path.join(d, '%s.%s.w%d.bin' % (l['name'], variant, bits)))
stats['torch'] = torch.__version__
json.dump(stats, open(os.path.join(d, 'stats.json'), 'w'))
