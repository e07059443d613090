"""Runs the authors' pruning code in place on layer weights and Hessians dumped by bench/sparseReference.ts.

usage: python3 sparseReference.py <dump folder> <sparsegpt folder> <wanda folder> <method> <sparsity> <bits>
  method: sparsegpt (IST-DASLab/sparsegpt: SparseGPT.fasterprune with its quant.py Quantizer, joint mode),
          wanda / magnitude (locuslab/wanda: lib/prune.py prune_wanda / prune_magnitude on a stand-in model);
  sparsity: a fraction (0.5) or N:M (2:4).
The dump folder holds manifest.json ([{name, rows, cols}]) and <i>.w (float32 rows×cols, W = out×in) and
<i>.h (float64 cols×cols, H = 2/N·Σxxᵀ) per layer. Writes <i>.<method>.out (float32 rows×cols).

What is stubbed, and nothing else is changed: `transformers` / `datasets` (imported for types and data
loading), torch.cuda.synchronize / empty_cache and Tensor.cuda (CPU only). Wanda's prune_* work on a
Hugging Face model: the stand-in has one module per layer whose forward feeds each Linear a pseudo
activation X with XᵀX = H (so WrappedGPT's scaler_row, ‖X_j‖², is the calibration one exactly), and
get_loaders / prepare_calibration_input return that module's input. Wanda and magnitude survivors are
then quantized with SparseGPT's quant.py Quantizer (per row, asymmetric min-max), as our pipeline does.
"""
import io, contextlib, json, sys, types  # noqa: E401

dump, sgpt_dir, wanda_dir, method, sparsity, bits = sys.argv[1:7]
bits = int(bits)
if ':' in sparsity:
    prune_n, prune_m = (int(v) for v in sparsity.split(':'))
    ratio = 0.0
else:
    prune_n, prune_m, ratio = 0, 0, float(sparsity)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)
for mod in ('transformers', 'datasets'):
    stub = types.ModuleType(mod)
    stub.Conv1D = type('Conv1D', (), {})
    stub.load_dataset = lambda *a, **k: None
    sys.modules[mod] = stub
torch.cuda.synchronize = lambda *a, **k: None
torch.cuda.empty_cache = lambda *a, **k: None
torch.Tensor.cuda = lambda self, *a, **k: self

manifest = json.load(open(f'{dump}/manifest.json'))


def load(i, L):
    W = np.fromfile(f'{dump}/{i}.w', dtype=np.float32).reshape(L['rows'], L['cols'])
    H = np.fromfile(f'{dump}/{i}.h', dtype=np.float64).reshape(L['cols'], L['cols'])
    return torch.from_numpy(W.copy()), torch.from_numpy(H.copy())


def quantizer_class():
    sys.path.insert(0, sgpt_dir)
    from quant import Quantizer, quantize  # noqa: E402
    return Quantizer, quantize


def run_sparsegpt():
    sys.path.insert(0, sgpt_dir)
    from sparsegpt import SparseGPT  # noqa: E402
    Quantizer, _ = quantizer_class()
    for i, L in enumerate(manifest):
        W, H = load(i, L)
        layer = nn.Linear(L['cols'], L['rows'], bias=False)
        with torch.no_grad():
            layer.weight.copy_(W)
        g = SparseGPT(layer)
        g.H = H.float()
        g.quantizer = Quantizer()
        g.quantizer.configure(bits, perchannel=True, sym=False, mse=False)
        with contextlib.redirect_stdout(io.StringIO()):
            g.fasterprune(ratio, prunen=prune_n, prunem=prune_m, blocksize=128, percdamp=0.01)
        layer.weight.data.numpy().astype(np.float32).tofile(f'{dump}/{i}.{method}.out')


class StandIn(nn.Module):
    """One 'decoder layer' per dumped linear: forward feeds the linear its pseudo activation."""

    def __init__(self, W, H):
        super().__init__()
        self.lin = nn.Linear(W.shape[1], W.shape[0], bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(W)
        lam, V = torch.linalg.eigh(H)
        self.x = (torch.diag(lam.clamp(min=0).sqrt()) @ V.t()).float().unsqueeze(0)  # XᵀX = H

    def forward(self, inp, attention_mask=None, position_ids=None):
        self.lin(self.x)
        return (inp,)


def run_wanda(kind):
    sys.path.insert(0, wanda_dir)
    import lib.prune as prune  # noqa: E402
    Quantizer, quantize = quantizer_class()
    layers = nn.ModuleList([StandIn(*load(i, L)) for i, L in enumerate(manifest)])
    model = types.SimpleNamespace(
        model=types.SimpleNamespace(layers=layers),
        config=types.SimpleNamespace(use_cache=False, hidden_size=1),
        hf_device_map={},
        seqlen=1,
    )
    args = types.SimpleNamespace(nsamples=1, seed=0, sparsity_ratio=ratio, use_variant=False)
    prune.get_loaders = lambda *a, **k: (None, None)
    prune.prepare_calibration_input = lambda *a, **k: (torch.zeros(1, 1, 1), torch.zeros(1, 1, 1), None, None)
    with contextlib.redirect_stdout(io.StringIO()):
        if kind == 'wanda':
            prune.prune_wanda(args, model, None, device=torch.device('cpu'), prune_n=prune_n, prune_m=prune_m)
        else:
            prune.prune_magnitude(args, model, None, device=torch.device('cpu'), prune_n=prune_n, prune_m=prune_m)
    for i, layer in enumerate(layers):
        W = layer.lin.weight.data
        keep = W != 0
        q = Quantizer()
        q.configure(bits, perchannel=True, sym=False, mse=False)
        q.find_params(W, weight=True)
        Q = quantize(W, q.scale, q.zero, q.maxq) * keep
        Q.numpy().astype(np.float32).tofile(f'{dump}/{i}.{method}.out')


if method == 'sparsegpt':
    run_sparsegpt()
else:
    run_wanda(method)
print(json.dumps({'method': method, 'sparsity': sparsity, 'bits': bits, 'layers': len(manifest), 'torch': torch.__version__}))
