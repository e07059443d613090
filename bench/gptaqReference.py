"""Runs the GPTAQ authors' fasterquant (github.com/Intelligent-Computing-Lab-Yale/GPTAQ,
fake_quant/gptaq_utils.py + quant_utils.WeightQuantizer) in place, on CPU, on one layer.

usage: python3 gptaqReference.py <fake_quant folder> <data folder> <rows> <cols> <bits> <groupsize> <blocksize>
Reads w.f32 (rows×cols), h.f64 and d.f64 (cols×cols: H = 2/N·Σx̃x̃ᵀ, D = 2/N·Σ(x − x̃)x̃ᵀ, as the
authors' add_batch accumulates H and dXXT) from the data folder, sets them on a GPTAQ object instead of
running add_batch, calls fasterquant(blocksize, percdamp=0.01, groupsize, alpha=0.25 default) and
writes the quantized weight to q.f32. Modules the file imports only for GPU / model plumbing
(transformers, accelerate, fast_hadamard_transform, tqdm, utils, model_utils, hadamard_utils) are
stubbed, and torch.cuda.synchronize is a no-op; the algorithm's code is not changed.
"""
import sys
import types

folder, data = sys.argv[1], sys.argv[2]
rows, cols, bits, groupsize, blocksize = (int(v) for v in sys.argv[3:8])
import numpy as np  # noqa: E402
import torch  # noqa: E402

for name in ['transformers', 'accelerate', 'accelerate.utils', 'fast_hadamard_transform', 'tqdm', 'utils', 'model_utils',
             'hadamard_utils']:
    sys.modules[name] = types.ModuleType(name)
# quant_utils names transformers.models.falcon.modeling_falcon.FalconLinear in a default argument.
falcon = types.SimpleNamespace(FalconLinear=type('FalconLinear', (), {}))
sys.modules['transformers'].models = types.SimpleNamespace(falcon=types.SimpleNamespace(modeling_falcon=falcon))
sys.modules['accelerate'].dispatch_model = sys.modules['accelerate'].infer_auto_device_map = None
sys.modules['accelerate.utils'].get_balanced_memory = None
torch.cuda.synchronize = lambda *a, **k: None
torch.cuda.empty_cache = lambda *a, **k: None
sys.path.insert(0, folder)
import quant_utils  # noqa: E402
import gptaq_utils  # noqa: E402

w = torch.from_numpy(np.fromfile(f'{data}/w.f32', dtype=np.float32).reshape(rows, cols).copy())
h = torch.from_numpy(np.fromfile(f'{data}/h.f64', dtype=np.float64).reshape(cols, cols)).float()
d = torch.from_numpy(np.fromfile(f'{data}/d.f64', dtype=np.float64).reshape(cols, cols)).float()
layer = torch.nn.Linear(cols, rows, bias=False)
with torch.no_grad():
    layer.weight.copy_(w)
g = gptaq_utils.GPTAQ(layer)
g.H, g.dXXT = h, d
g.quantizer = quant_utils.WeightQuantizer()
g.quantizer.configure(bits, perchannel=True, sym=False, mse=False)
g.fasterquant(blocksize=blocksize, percdamp=0.01, groupsize=groupsize)
layer.weight.data.numpy().astype(np.float32).tofile(f'{data}/q.f32')
print('ok')
