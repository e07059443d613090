"""Times the IST-DASLab GPTQ reference (gptq.py / quant.py from github.com/IST-DASLab/gptq) on CPU.

usage: python3 gptqReference.py <folder with gptq.py and quant.py> <n> <tokens> <threads,...> <reps>
The first repetition runs once per listed thread count (on a loaded machine torch's threads can make
the reference many times slower than on one thread); the other repetitions use the fastest. Prints
one JSON line: {"solve_s": [...], "torch": version, "threads": best, "probe": {threads: s}}. The same problem as
bench/gptq.ts: W n×n, 4-bit, group 128, asymmetric, blocksize 128, percdamp 0.01, act-order off.
`transformers` is only used by the reference for an isinstance check against Conv1D, and
torch.cuda.synchronize() fails without CUDA: both are stubbed, nothing else is changed.
"""
import json
import sys
import time
import types

folder, n, tokens, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[5])
thread_list = [int(t) for t in sys.argv[4].split(',')]
import torch  # noqa: E402

stub = types.ModuleType('transformers')
stub.Conv1D = type('Conv1D', (), {})
sys.modules['transformers'] = stub
torch.cuda.synchronize = lambda *a, **k: None
sys.path.insert(0, folder)
from gptq import GPTQ  # noqa: E402
from quant import Quantizer  # noqa: E402
import io, contextlib  # noqa: E402,E401

torch.manual_seed(0)
x = torch.randn(tokens, n)
x[:, 1:] += 0.5 * x[:, :-1].clone()


def run_once():
    layer = torch.nn.Linear(n, n, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n, n) * 0.02)
    g = GPTQ(layer)
    g.quantizer = Quantizer()
    g.quantizer.configure(4, perchannel=True, sym=False, mse=False)
    g.add_batch(x, None)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        g.fasterquant(blocksize=128, percdamp=0.01, groupsize=128)
    return time.perf_counter() - t


probe = {}
for t in thread_list:
    torch.set_num_threads(t)
    probe[t] = run_once()
best = min(probe, key=probe.get)
torch.set_num_threads(best)
times = [probe[best]] + [run_once() for _ in range(reps - 1)]
print(json.dumps({'solve_s': times, 'torch': torch.__version__, 'threads': best, 'probe': probe}))
