"""Runs QuaRot's own rotation code (github.com/spcl/QuaRot, fake_quant/rotation_utils.py) in place on CPU.

usage: python3 quarotReference.py <QuaRot fake_quant folder> <weights folder> <seed> <out folder>

<weights folder> holds manifest.json ({name: dims}) and <name>.bin (float32, little-endian) in the
Hugging Face Llama layout (torch Linear weights [out, in]), written by bench/quarotReference.ts from
stories260K. The model is built as a module tree with Hugging Face Llama's attribute names, then
QuaRot's `fuse_layer_norms` and `rotate_model` (rotate_mode 'hadamard') run on it unchanged.
Stubbed, because they are not installed here or need CUDA, and nothing else is changed:
`transformers` (only the class names QuaRot checks with isinstance), `accelerate` and `tqdm` (imported
by utils / rotation_utils), `fast_hadamard_transform.hadamard_transform` (a CUDA kernel; replaced by
the same unnormalized Walsh–Hadamard transform times `scale` on CPU), and `Tensor.cuda` (identity).
Writes every rotated weight, the rotation Q and the Hadamard matrices QuaRot applies on the input side
of o_proj / down_proj and per head on v_proj's output, as <name>.bin + manifest.json in <out folder>.
"""
import json
import math
import os
import sys
import types

folder, wdir, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
import torch  # noqa: E402

torch.set_num_threads(1)


def fwht(x, scale=1.0):
    n = x.shape[-1]
    assert n & (n - 1) == 0, n
    y = x.clone().reshape(-1, n)
    h = 1
    while h < n:
        y = y.view(-1, n // (2 * h), 2, h)
        a, b = y[:, :, 0, :].clone(), y[:, :, 1, :].clone()
        y[:, :, 0, :], y[:, :, 1, :] = a + b, a - b
        h *= 2
    return (y.reshape(x.shape) * scale).to(x.dtype)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quarotStubs  # noqa: E402


class LlamaRMSNorm(torch.nn.Module):
    def __init__(self, w, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(w)
        self.variance_epsilon = eps


class LlamaForCausalLM(torch.nn.Module):
    pass


class LlamaDecoderLayer(torch.nn.Module):
    pass


quarotStubs.install(
    folder,
    llama={'LlamaForCausalLM': LlamaForCausalLM, 'LlamaDecoderLayer': LlamaDecoderLayer, 'LlamaRMSNorm': LlamaRMSNorm},
    hadamard_transform=fwht,
)
torch.Tensor.cuda = lambda self, *a, **k: self
import rotation_utils  # noqa: E402
import hadamard_utils  # noqa: E402

man = json.load(open(os.path.join(wdir, 'manifest.json')))


def load(name):
    dims = man['tensors'][name]
    with open(os.path.join(wdir, name + '.bin'), 'rb') as f:
        t = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    return t.reshape(dims).clone()


def linear(name):
    w = load(name)
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    lin.weight.data = w
    return lin


cfg = man['config']
model = LlamaForCausalLM()
model.config = types.SimpleNamespace(hidden_size=cfg['dim'], num_attention_heads=cfg['heads'], intermediate_size=cfg['hidden'])
model.model = torch.nn.Module()
model.model.embed_tokens = torch.nn.Embedding(cfg['vocab'], cfg['dim'])
model.model.embed_tokens.weight.data = load('embed_tokens')
layers = []
for i in range(cfg['layers']):
    L = LlamaDecoderLayer()
    L.self_attn = torch.nn.Module()
    for p in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
        setattr(L.self_attn, p, linear(f'layers.{i}.{p}'))
    L.mlp = torch.nn.Module()
    for p in ['gate_proj', 'up_proj', 'down_proj']:
        setattr(L.mlp, p, linear(f'layers.{i}.{p}'))
    L.input_layernorm = LlamaRMSNorm(load(f'layers.{i}.input_layernorm'), cfg['eps'])
    L.post_attention_layernorm = LlamaRMSNorm(load(f'layers.{i}.post_attention_layernorm'), cfg['eps'])
    layers.append(L)
model.model.layers = torch.nn.ModuleList(layers)
model.model.norm = LlamaRMSNorm(load('norm'), cfg['eps'])
model.lm_head = linear('lm_head')

# The rotation Q rotate_model draws first (same seed, same RNG call).
torch.manual_seed(seed)
Q = rotation_utils.get_orthogonal_matrix(cfg['dim'], 'hadamard', 'cpu')
torch.manual_seed(seed)
with torch.no_grad():
    rotation_utils.fuse_layer_norms(model)
    rotation_utils.rotate_model(model, types.SimpleNamespace(rotate_mode='hadamard'))


def hadamard_of(n_in, had_dim, output):
    """The matrix QuaRot's apply_exact_had_to_linear multiplies a weight by (run on an identity Linear)."""
    lin = torch.nn.Linear(n_in, n_in, bias=False)
    lin.weight.data = torch.eye(n_in)
    hadamard_utils.apply_exact_had_to_linear(lin, had_dim=had_dim, output=output)
    return lin.weight.data.clone()


res = {'Q': Q.float(), 'embed_tokens': model.model.embed_tokens.weight.data, 'lm_head': model.lm_head.weight.data}
for i, L in enumerate(model.model.layers):
    for p in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
        res[f'layers.{i}.{p}'] = getattr(L.self_attn, p).weight.data
    for p in ['gate_proj', 'up_proj', 'down_proj']:
        res[f'layers.{i}.{p}'] = getattr(L.mlp, p).weight.data
head_dim = cfg['dim'] // cfg['heads']
res['H_o_in'] = hadamard_of(cfg['dim'], -1, False)  # o_proj: W ← W·H_o_in
res['H_down_in'] = hadamard_of(cfg['hidden'], -1, False)  # down_proj: W ← W·H_down_in
res['H_v_out'] = hadamard_of(cfg['kv_dim'], head_dim, True)  # v_proj: W ← H_v_out·W
os.makedirs(out, exist_ok=True)
for k, v in res.items():
    with open(os.path.join(out, k + '.bin'), 'wb') as f:
        f.write(v.contiguous().float().numpy().tobytes() if hasattr(v, 'numpy') else b'')
json.dump(
    {'tensors': {k: list(v.shape) for k, v in res.items()}, 'torch': torch.__version__, 'norm_types': type(model.model.norm).__name__},
    open(os.path.join(out, 'manifest.json'), 'w'),
)
print(json.dumps({'ok': True, 'torch': torch.__version__, 'had172': math.isclose(float((res['H_down_in'] @ res['H_down_in'].T - torch.eye(cfg['hidden'])).abs().max()), 0, abs_tol=1e-5)}))
