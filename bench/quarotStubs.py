"""The stand-ins QuaRot's fake_quant code needs to run in place on this CPU machine (shared by
quarotReference.py and quarotLayerNormReference.py). Only what is not installed here or needs CUDA is
replaced, and nothing of QuaRot itself: `transformers` (just the class names QuaRot checks with
isinstance), `accelerate` and `tqdm` (imported by utils / rotation_utils) and
`fast_hadamard_transform` (a CUDA kernel).
"""
import sys
import types


def stub(name, **attrs):
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    return m


class Other:
    """A class no model module is an instance of."""


def install(folder, llama=None, opt=None, hadamard_transform=None):
    """Installs the stubs and puts QuaRot's fake_quant `folder` on the import path.

    llama / opt: the classes QuaRot's isinstance checks should see for that family, as a dict with the
    Hugging Face names (LlamaForCausalLM, LlamaDecoderLayer, LlamaRMSNorm / OPTForCausalLM,
    OPTDecoderLayer); a family left out gets placeholders nothing matches.
    """
    ll = {'LlamaForCausalLM': Other, 'LlamaDecoderLayer': Other, 'LlamaRMSNorm': Other, **(llama or {})}
    op = {'OPTForCausalLM': Other, 'OPTDecoderLayer': Other, **(opt or {})}
    llama_m = stub('transformers.models.llama.modeling_llama', **ll)
    opt_m = stub('transformers.models.opt.modeling_opt', **op)
    falcon_m = stub('transformers.models.falcon.modeling_falcon', FalconLinear=Other)
    stub('transformers.models.llama', modeling_llama=llama_m)
    stub('transformers.models.opt', modeling_opt=opt_m)
    stub('transformers.models.falcon', modeling_falcon=falcon_m)
    stub(
        'transformers.models',
        llama=sys.modules['transformers.models.llama'],
        opt=sys.modules['transformers.models.opt'],
        falcon=sys.modules['transformers.models.falcon'],
    )
    stub('transformers', models=sys.modules['transformers.models'])
    stub('accelerate', dispatch_model=None, infer_auto_device_map=None)
    stub('accelerate.utils', get_balanced_memory=None)
    stub('tqdm', tqdm=lambda it, **k: it)
    stub('fast_hadamard_transform', hadamard_transform=hadamard_transform)
    sys.path.insert(0, folder)
