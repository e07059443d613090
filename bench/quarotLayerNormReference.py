"""Runs QuaRot's own LayerNorm fusion (github.com/spcl/QuaRot, fake_quant/rotation_utils.fuse_layer_norms,
OPT path) in place on CPU, on the weights of Lowbit's GPT-2-style LayerNorm fixture.

usage: python3 quarotLayerNormReference.py <QuaRot fake_quant folder> <weights folder> <out folder>

<weights folder> holds manifest.json ({tensors: {name: dims}, config}) and <name>.bin (float32,
little-endian) in the Hugging Face OPT layout (torch Linear weights [out, in]), written by
bench/quarotLayerNormReference.ts. The model is built as a module tree with Hugging Face OPT's attribute
names (decoder.embed_tokens / embed_positions, layers[i].self_attn.{q,k,v,out}_proj,
self_attn_layer_norm, final_layer_norm, fc1, fc2, decoder.final_layer_norm, lm_head; norms are
torch.nn.LayerNorm), then QuaRot's `fuse_layer_norms` runs on it unchanged: embeddings centred,
out_proj / fc2 mean baked in, γ and β fused into the next linears, LayerNorms replaced by its RMSN.
Stubbed because they are not installed here or need CUDA (nothing else is changed): `transformers`
(only the class names QuaRot checks with isinstance), `accelerate`, `tqdm`, `fast_hadamard_transform`.
Writes every weight and bias after the fusion as <name>.bin + manifest.json in <out folder>.
"""
import json
import os
import sys
import types

folder, wdir, out = sys.argv[1], sys.argv[2], sys.argv[3]
import torch  # noqa: E402

torch.set_num_threads(1)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quarotStubs  # noqa: E402


class OPTForCausalLM(torch.nn.Module):
    pass


class OPTDecoderLayer(torch.nn.Module):
    pass


quarotStubs.install(folder, opt={'OPTForCausalLM': OPTForCausalLM, 'OPTDecoderLayer': OPTDecoderLayer})
import rotation_utils  # noqa: E402
import model_utils  # noqa: E402

man = json.load(open(os.path.join(wdir, 'manifest.json')))
cfg = man['config']


def load(name):
    dims = man['tensors'][name]
    with open(os.path.join(wdir, name + '.bin'), 'rb') as f:
        t = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    return t.reshape(dims).clone()


def linear(name, bias=True):
    w = load(name + '.weight')
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias)
    lin.weight.data = w
    if bias:
        lin.bias.data = load(name + '.bias')
    return lin


def layer_norm(name):
    ln = torch.nn.LayerNorm(cfg['dim'], eps=cfg['eps'])
    ln.weight.data = load(name + '.weight')
    ln.bias.data = load(name + '.bias')
    return ln


def embedding(name):
    w = load(name)
    e = torch.nn.Embedding(w.shape[0], w.shape[1])
    e.weight.data = w
    return e


model = OPTForCausalLM()
model.config = types.SimpleNamespace(hidden_size=cfg['dim'], ffn_dim=cfg['ffn'])
model.model = torch.nn.Module()
dec = model.model.decoder = torch.nn.Module()
dec.embed_tokens = embedding('embed_tokens')
dec.embed_positions = embedding('embed_positions')
layers = []
for i in range(cfg['layers']):
    L = OPTDecoderLayer()
    L.self_attn = torch.nn.Module()
    for p in ['q_proj', 'k_proj', 'v_proj', 'out_proj']:
        setattr(L.self_attn, p, linear(f'layers.{i}.self_attn.{p}'))
    L.self_attn_layer_norm = layer_norm(f'layers.{i}.self_attn_layer_norm')
    L.final_layer_norm = layer_norm(f'layers.{i}.final_layer_norm')
    L.fc1 = linear(f'layers.{i}.fc1')
    L.fc2 = linear(f'layers.{i}.fc2')
    layers.append(L)
dec.layers = torch.nn.ModuleList(layers)
dec.final_layer_norm = layer_norm('final_layer_norm')
model.lm_head = linear('lm_head', bias=False)

with torch.no_grad():
    rotation_utils.fuse_layer_norms(model)

res = {'embed_tokens': dec.embed_tokens.weight.data, 'embed_positions': dec.embed_positions.weight.data}
for i, L in enumerate(dec.layers):
    mods = {f'self_attn.{p}': getattr(L.self_attn, p) for p in ['q_proj', 'k_proj', 'v_proj', 'out_proj']}
    mods.update({'fc1': L.fc1, 'fc2': L.fc2})
    for p, m in mods.items():
        res[f'layers.{i}.{p}.weight'] = m.weight.data
        res[f'layers.{i}.{p}.bias'] = m.bias.data
res['lm_head.weight'] = model.lm_head.weight.data
res['lm_head.bias'] = model.lm_head.bias.data
os.makedirs(out, exist_ok=True)
for k, v in res.items():
    with open(os.path.join(out, k + '.bin'), 'wb') as f:
        f.write(v.contiguous().float().numpy().tobytes())
norms = sorted({type(m).__name__ for m in model.modules() if 'Norm' in type(m).__name__ or type(m).__name__ == 'RMSN'})
json.dump({'tensors': {k: list(v.shape) for k, v in res.items()}, 'torch': torch.__version__, 'norms': norms}, open(os.path.join(out, 'manifest.json'), 'w'))
print(json.dumps({'ok': True, 'torch': torch.__version__, 'norms': norms, 'rmsn_eps': [m.eps for m in model.modules() if type(m).__name__ == 'RMSN'][:1]}))
