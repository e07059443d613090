"""Runs BRECQ's layer-wise AdaRound (github.com/yhhhli/BRECQ, imported in place from BRECQ_ROOT, not
copied: QuantModule, AdaRoundQuantizer, LossFunction of quant/) on problems written by
bench/adaroundFaithfulness.ts, and writes the learned codes back.

usage: adaroundReference.py BRECQ_ROOT DIR   (DIR/problems.json lists {name, rows, cols, bits, iters,
lambda, lr, warmup}; DIR/<name>.{w,h,delta,zero}.bin: W float32 rows x cols, H float64 cols x cols, the
per-row grid float32 rows / float32 rows; writes DIR/<name>.codes.bin as uint8)

The layer gets inputs X with X^T X / N = H / 2 (from H's eigendecomposition, N = cols), so BRECQ's
reconstruction loss lp_loss(W~ x, W x) = (1/N) sum ||dW x||^2 equals our 1/2 tr(dW H dW^T); every step
uses all N rows (BRECQ samples batches of 32 from cached inputs: a full batch makes the two runs
comparable). The optimization loop is layer_reconstruction's (Adam on alpha, LossFunction with the
relaxation regularizer), driven here because layer_reconstruction needs a whole model to cache inputs.
"""
import json
import os
import sys
import types

import numpy as np
import torch

root, d = sys.argv[1], sys.argv[2]
sys.modules.setdefault('linklink', types.SimpleNamespace(allreduce=lambda *a, **k: None))  # multi-GPU only
sys.path.insert(0, root)
from quant.adaptive_rounding import AdaRoundQuantizer  # noqa: E402
from quant.layer_recon import LossFunction  # noqa: E402
from quant.quant_layer import QuantModule  # noqa: E402

torch.set_num_threads(int(os.environ.get('LOWBIT_THREADS', '2')))
torch.manual_seed(0)
for p in json.load(open(os.path.join(d, 'problems.json'))):
    rows, cols, name = p['rows'], p['cols'], p['name']
    rd = lambda ext, dt, shape: torch.from_numpy(np.fromfile(os.path.join(d, name + ext), dtype=dt).reshape(shape))
    w = rd('.w.bin', np.float32, (rows, cols))
    h = rd('.h.bin', np.float64, (cols, cols))
    ev, vec = torch.linalg.eigh(h / 2)
    x = (np.sqrt(cols) * (vec * ev.clamp(min=0).sqrt()).T).float()  # X^T X / N = H / 2
    lin = torch.nn.Linear(cols, rows, bias=False)
    lin.weight.data = w.clone()
    layer = QuantModule(lin, weight_quant_params=dict(n_bits=p['bits'], channel_wise=True))
    uaq = layer.weight_quantizer
    uaq.delta = rd('.delta.bin', np.float32, (rows, 1)).clone()
    uaq.zero_point = rd('.zero.bin', np.float32, (rows, 1)).clone()
    uaq.inited = True
    layer.set_quant_state(True, False)
    target = torch.nn.functional.linear(x, w)
    layer.weight_quantizer = AdaRoundQuantizer(uaq=uaq, round_mode='learned_hard_sigmoid', weight_tensor=layer.org_weight.data)
    layer.weight_quantizer.soft_targets = True
    opt = torch.optim.Adam([layer.weight_quantizer.alpha], lr=p['lr'])
    loss_func = LossFunction(layer, round_loss='relaxation', weight=p['lambda'], max_count=p['iters'], rec_loss='mse',
                             b_range=(20, 2), decay_start=0, warmup=p['warmup'], p=2.0)
    for i in range(p['iters']):
        opt.zero_grad()
        err = loss_func(layer(x), target)
        err.backward()
        opt.step()
    q = layer.weight_quantizer
    codes = torch.clamp(torch.floor(w / q.delta) + (q.alpha >= 0).float() + q.zero_point, 0, 2 ** p['bits'] - 1)
    codes.to(torch.uint8).numpy().tofile(os.path.join(d, name + '.codes.bin'))
