"""Runs the JSQ authors' saliency code (github.com/uanu2002/JSQ, jsq/layerwrapper.py + jsq/utils.py) in place.

usage: python3 jsqReference.py <dump folder> <JSQ folder> <rho> <sparsity> <clip_h>

<dump folder> (written by bench/jsqReference.ts) holds manifest.json ([{name, rows, cols, windows, window}])
and per layer <i>.w (float32 rows×cols, W = out×in) and <i>.x (float32, windows·window × cols: the
calibration activations of the layer's input, window after window). Per layer, exactly as `joint_pq`
does: each window goes through `clip_matrix(inp, abs=True, 0, clip_h)` and `WrappedGPT.add_batch`, then
W_metric = |W|·sqrt(scaler_row) + rho·generate_ss(inp_sum / inp_num, W) and the per-row mask of
`joint_pq` (stable sort, the lowest int(cols·sparsity) pruned). The mask lines are `joint_pq`'s own,
which is one function with the model loop and cannot be called on one layer; they are repeated here.
Writes <i>.ss (float64 rows×cols), <i>.mask (uint8, 1 = pruned) and <i>.tau (float64, the clip threshold
of each window, or nothing when clip_h is 0).
Stubbed, and nothing else: `transformers` (jsq/quantize.py and jsq/smooth.py import Llama/OPT/Bloom
classes at import time; only fake_quant, layerwrapper and utils run).
"""
import json
import sys
import types

dump, jsq_dir, rho, sparsity, clip_h = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
for mod in ('transformers', 'transformers.models', 'transformers.models.llama', 'transformers.models.llama.modeling_llama'):
    sys.modules[mod] = types.ModuleType(mod)
sys.path.insert(0, jsq_dir)
from jsq.layerwrapper import WrappedGPT  # noqa: E402
from jsq.utils import clip_matrix, generate_ss  # noqa: E402

for i, L in enumerate(json.load(open(f'{dump}/manifest.json'))):
    rows, cols, T = L['rows'], L['cols'], L['window']
    W = torch.from_numpy(np.fromfile(f'{dump}/{i}.w', dtype=np.float32).reshape(rows, cols).copy())
    X = torch.from_numpy(np.fromfile(f'{dump}/{i}.x', dtype=np.float32).reshape(-1, T, cols).copy())
    lin = torch.nn.Linear(cols, rows, bias=False)
    lin.weight.data = W.clone()
    wrapped = WrappedGPT(lin)
    taus = []
    for w in range(X.shape[0]):
        inp = X[w].unsqueeze(0)
        if clip_h:
            k = int(clip_h * inp.numel())
            taus.append(float(torch.topk(inp.abs().flatten(), k=k)[0][-1]))
        wrapped.add_batch(clip_matrix(inp, True, 0, clip_h), None)
    activation = torch.sqrt(wrapped.scaler_row.reshape((1, -1)))
    ss = generate_ss(wrapped.inp_sum / wrapped.inp_num, W)
    W_metric = torch.abs(W) * activation + rho * ss
    W_mask = torch.zeros_like(W_metric) == 1
    sort_res = torch.sort(W_metric, dim=-1, stable=True)
    indices = sort_res[1][:, :int(W_metric.shape[1] * sparsity)]
    W_mask.scatter_(1, indices, True)
    ss.double().numpy().tofile(f'{dump}/{i}.ss')
    W_mask.numpy().astype(np.uint8).tofile(f'{dump}/{i}.mask')
    np.array(taus, dtype=np.float64).tofile(f'{dump}/{i}.tau')
