"""Runs the FLRQ authors' code (github.com/grysgreat/Sketch_lopro, the repository holding r1_sketch.py
and get_clip_weight.py) in place on stories260K, on the windows bench/flrqReference.ts hands over.

usage: python3 flrqReference.py <Sketch_lopro folder> <work dir> <variant> <bits> <group> <ratio>

<work dir> holds (written by bench/flrqReference.ts):
  calib.i32  calibration windows, int32 [n, L]     eval.i32  evaluation windows, int32 [m, L]
  meta.json  {"calib": n, "eval": m, "seq": L, "layers": [the 35 body layer names]}
It writes fp.f32 (the float weights it loaded, for the caller to compare with the ONNX initializers),
quant.f32 (the 35 fake-quantized weights [out, in] in `layers` order) and result.json (ranks, bits,
its own perplexity).

The model is llama2.c's stories260K (stories260K.bin, read here; the same checkpoint the ONNX was
exported from) as a small torch module whose decoder layers look like Hugging Face's Llama layers to
the reference (`self_attn.{q,k,v,o}_proj`, `mlp.{gate,up,down}_proj`, an isinstance check against
LlamaDecoderLayer). The reference's own functions do the work, exactly as run_quantize.py's
default path (run_model_quant3) calls them:
  1. get_scale_quant.scale_quant_layer_ret_WR_2 on FP layer inputs (R1-Sketch low rank of W·diag(s),
     s = mean|x|^2.4 normalized, the get_best_sketch_fp8_ret rank rule, 8 sketch iterations);
  2. gptq_utils_lora.gptq_fwrd_lora: sequential GPTQ of W − W_R (asymmetric, MSE clip, no act-order)
     behind the partial permutation + block Walsh–Hadamard rotation.
Variants: `gptq` = as shipped (ha_bsize 4, id_bsize 0: the largest Walsh block that divides both 64
and 172, applied to every column); `gptq-norot` = the rotation replaced by the identity, the
authors' own ablation line in fasterquant_rot_new_perm_split (what a plain grid can store).
What is not the reference's: torch 1.13 has no float8, so `.to(torch.float8_e5m2)` rounds to the
e5m2 grid in float64 (round half to even, 2 mantissa bits, same exponent range as fp16); CUDA calls
are CPU no-ops; transformers / tqdm / matplotlib / safetensors / fast_hadamard_transform are empty
stubs (only imported, or used by code paths not taken). Nothing of the reference is edited.
"""
import importlib.abc
import importlib.machinery
import json
import math
import os
import struct
import sys
import types

import numpy as np
import torch
import torch.nn as nn

folder, work, variant = sys.argv[1], sys.argv[2], sys.argv[3]
bits, group, ratio = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
torch.set_num_threads(int(os.environ.get('FLRQ_REF_THREADS', '2')))

# ---- stubs for packages the reference imports but this path does not use -------------------------
STUB_ROOTS = ('transformers', 'tqdm', 'matplotlib', 'pandas', 'safetensors', 'fast_hadamard_transform')


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        if name[0].islower():  # a submodule (transformers.models.falcon.modeling_falcon)
            return importlib.import_module(f'{self.__name__}.{name}')
        cls = type(name, (nn.Module,), {})
        setattr(self, name, cls)
        return cls


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in STUB_ROOTS:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _StubModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _StubFinder())
torch.cuda.synchronize = lambda *a, **k: None
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self

# torch 1.13 has no float8: emulate the e5m2 conversion (values stay float64 on the e5m2 grid).
_F8 = 'float8_e5m2'
torch.float8_e5m2 = _F8
_orig_to = torch.Tensor.to


def _e5m2(x):
    x = _orig_to(x, torch.float64)
    m, e = torch.frexp(x)
    normal = torch.ldexp(torch.round(m * 8) / 8, e)
    sub = torch.round(x * 2.0**16) / 2.0**16  # below 2^-14: fixed quantum 2^-16
    y = torch.where(x.abs() < 2.0**-14, sub, normal)
    return y.clamp(-57344.0, 57344.0)


def _to(self, *args, **kwargs):
    if (args and args[0] == _F8) or kwargs.get('dtype') == _F8:
        return _e5m2(self)
    return _orig_to(self, *args, **kwargs)


torch.Tensor.to = _to

sys.path.insert(0, folder)
import get_scale_quant  # noqa: E402
import gptq_utils_lora  # noqa: E402
from transformers.models.llama.modeling_llama import LlamaDecoderLayer  # noqa: E402

# get_best_sketch_fp8_ret's rank rule can choose rank 0 (the amax drops by under 10%); sketch_pre_split
# then fails on the empty factor list (VS_L is None). The rule's intent, as in the reference's other
# paths (`if srank != 0 … else lora_W = zeros`), is no low-rank part: return empty factors instead.
_sketch_pre_split = get_scale_quant.sketch_pre_split
RANK0 = [0]


def _sketch_pre_split_rank0(W, feat_scale, **kw):
    try:
        return _sketch_pre_split(W, feat_scale, **kw)
    except TypeError:
        RANK0[0] += 1
        n_in, n_out = W.shape[1], W.shape[0]
        z = torch.zeros(0, dtype=W.dtype)
        return {'U': torch.zeros(n_in, 0, dtype=W.dtype), 'V': torch.zeros(0, n_out, dtype=W.dtype), 'Si': z,
                'Sa': (1.0 / feat_scale.float()).to(W.dtype)}, 0


get_scale_quant.sketch_pre_split = _sketch_pre_split_rank0

# ---- stories260K (llama2.c checkpoint) ------------------------------------------------------------
bin_path = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'models', 'stories260K', 'stories260K.bin')
bin_path = os.environ.get('STORIES_BIN', bin_path)
with open(bin_path, 'rb') as f:
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack('7i', f.read(28))
    raw = np.frombuffer(f.read(), dtype=np.float32)
shared_cls = vocab > 0
vocab = abs(vocab)
head = dim // n_heads
kv_dim = n_kv * head
pos = 0


def take(*shape):
    global pos
    n = int(np.prod(shape))
    t = torch.from_numpy(raw[pos:pos + n].copy()).reshape(*shape)
    pos += n
    return t


emb = take(vocab, dim)
rms_att = take(n_layers, dim)
wq, wk, wv, wo = take(n_layers, dim, dim), take(n_layers, kv_dim, dim), take(n_layers, kv_dim, dim), take(n_layers, dim, dim)
rms_ffn = take(n_layers, dim)
w1, w2, w3 = take(n_layers, hidden, dim), take(n_layers, dim, hidden), take(n_layers, hidden, dim)
rms_final = take(dim)
take(seq_len, head // 2)
take(seq_len, head // 2)
wcls = emb if shared_cls else take(vocab, dim)


class RMSNorm(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = nn.Parameter(w.clone(), requires_grad=False)

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


def linear(w):
    m = nn.Linear(w.shape[1], w.shape[0], bias=False)
    m.weight.data.copy_(w)
    m.weight.requires_grad_(False)
    return m


def rope(x, L):
    # llama2.c: interleaved (even, odd) pairs rotated by position · 10000^(−2i/head)
    freqs = 1.0 / (10000.0 ** (torch.arange(0, head, 2).float() / head))
    ang = torch.outer(torch.arange(L).float(), freqs)
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    xr, xi = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = xr * c - xi * s
    out[..., 1::2] = xr * s + xi * c
    return out


class Attention(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = linear(wq[i]), linear(wk[i]), linear(wv[i]), linear(wo[i])

    def forward(self, x):
        B, L, _ = x.shape
        q = rope(self.q_proj(x).view(B, L, n_heads, head), L).transpose(1, 2)
        k = rope(self.k_proj(x).view(B, L, n_kv, head), L).transpose(1, 2)
        v = self.v_proj(x).view(B, L, n_kv, head).transpose(1, 2)
        rep = n_heads // n_kv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(head)
        att = att + torch.triu(torch.full((L, L), float('-inf')), 1)
        y = (torch.softmax(att, -1) @ v).transpose(1, 2).reshape(B, L, dim)
        return self.o_proj(y)


class Mlp(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.gate_proj, self.down_proj, self.up_proj = linear(w1[i]), linear(w2[i]), linear(w3[i])

    def forward(self, x):
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(LlamaDecoderLayer):
    def __init__(self, i):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(rms_att[i]), RMSNorm(rms_ffn[i])
        self.self_attn, self.mlp = Attention(i), Mlp(i)

    def forward(self, x, **kwargs):
        h = x + self.self_attn(self.input_layernorm(x))
        return (h + self.mlp(self.post_attention_layernorm(h)),)


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.embed_tokens.weight.data.copy_(emb)
        self.layers = nn.ModuleList([Layer(i) for i in range(n_layers)])
        self.norm = RMSNorm(rms_final)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.config = types.SimpleNamespace(use_cache=False, hidden_size=dim)
        self.model = Inner()
        self.lm_head = linear(wcls)

    def forward(self, ids):
        h = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            h = layer(h, attention_mask=None, position_ids=None)[0]
        return self.lm_head(self.model.norm(h))


# ---- data -----------------------------------------------------------------------------------------
meta = json.load(open(os.path.join(work, 'meta.json')))
L = meta['seq']
calib = torch.from_numpy(np.fromfile(os.path.join(work, 'calib.i32'), dtype=np.int32).astype(np.int64)).view(meta['calib'], L)
evals = torch.from_numpy(np.fromfile(os.path.join(work, 'eval.i32'), dtype=np.int32).astype(np.int64)).view(meta['eval'], L)
NAMES = {'wq': 'self_attn.q_proj', 'wk': 'self_attn.k_proj', 'wv': 'self_attn.v_proj', 'wo': 'self_attn.o_proj',
         'w1': 'mlp.gate_proj', 'w2': 'mlp.down_proj', 'w3': 'mlp.up_proj'}


def module_of(model, onnx_name):
    _, i, w = onnx_name.split('.')
    m = model.model.layers[int(i)]
    for part in NAMES[w].split('.'):
        m = getattr(m, part)
    return m


@torch.no_grad()
def perplexity(model):
    nll, n = 0.0, 0
    for b in range(0, evals.shape[0], 8):
        ids = evals[b:b + 8]
        logp = torch.log_softmax(model(ids).double(), -1)
        nll -= logp[:, :-1].gather(-1, ids[:, 1:, None]).sum().item()
        n += ids[:, 1:].numel()
    return math.exp(nll / n)


model = Model().eval()
fp = np.concatenate([module_of(model, n).weight.detach().numpy().ravel() for n in meta['layers']])
fp.astype(np.float32).tofile(os.path.join(work, 'fp.f32'))
fp_ppl = perplexity(model)

# ---- step 1: low rank per linear on FP inputs (run_model_quant3's first loop) ---------------------
with torch.no_grad():
    inps = model.model.embed_tokens(calib)
    quant_infos = dict(lora_rank=0.0, lora_size=0.0, total_size=0.0, quant_size=0.0, layer_cnt=0.0, origin_size=0.0)
    WR = []
    np.random.seed(int(os.environ.get('FLRQ_REF_SEED', '0')))  # the sketch draws from numpy's global generator
    for i, layer in enumerate(model.model.layers):
        feats = {}
        hooks = [m.register_forward_hook(lambda mod, x, y, name=name: feats.setdefault(name, []).append(x[0].detach()))
                 for name, m in layer.named_modules() if isinstance(m, nn.Linear)]
        out = layer(inps)[0]
        for h in hooks:
            h.remove()
        feats = {k: torch.cat(v, 0) for k, v in feats.items()}
        _, wr = get_scale_quant.scale_quant_layer_ret_WR_2(layer, feats, quant_infos, w_bit=bits, fix_rank=0, ratio=ratio,
                                                           group_size=group, index=i, lora_bit=16, loratool='sketch', lora_iter=8)
        WR.append(wr)
        inps = out

# ---- step 2: sequential GPTQ of W − W_R (gptq_fwrd_lora) ------------------------------------------
if variant == 'gptq-norot':
    eye = lambda m, *a, **k: torch.eye(m, dtype=torch.float64)  # noqa: E731
    gptq_utils_lora.block_diagonal_walsh_matrix = eye
    gptq_utils_lora.construct_partial_permutation_matrix_upper = lambda S, m=512, dtype=torch.float16: torch.eye(m, dtype=dtype)
elif variant != 'gptq':
    sys.exit(f'unknown variant {variant}')
args = types.SimpleNamespace(nsamples=calib.shape[0], w_bits=bits, w_asym=True, int8_down_proj=False, w_clip=True,
                             w_groupsize=group, percdamp=0.01, act_order=False, id_bsize=0, ha_bsize=4)
model.seqlen = L
loader = [(calib[j:j + 1],) for j in range(calib.shape[0])]
import contextlib, io  # noqa: E402,E401
with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
    gptq_utils_lora.gptq_fwrd_lora(model, WR, loader, 'cpu', args)

q = np.concatenate([module_of(model, n).weight.detach().float().numpy().ravel() for n in meta['layers']])
q.astype(np.float32).tofile(os.path.join(work, 'quant.f32'))
ranks = []
for n in meta['layers']:
    _, i, w = n.split('.')
    ranks.append(int(WR[int(i)][NAMES[w]]['U'].shape[1]))
json.dump({'ranks': ranks, 'rank0_layers': RANK0[0], 'fp_ppl': fp_ppl, 'ppl': perplexity(model), 'avg_rank': quant_infos['lora_rank'] / max(1, quant_infos['layer_cnt']),
           'torch': torch.__version__}, open(os.path.join(work, 'result.json'), 'w'))
