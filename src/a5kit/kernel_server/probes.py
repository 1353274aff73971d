"""Helpers a test may run *in the student's process* through ``submission.kit(name, ...)``.

Tests never touch the student's objects directly: across the Gradescope process boundary they
only see plain data and Handles. When a test needs an object built where the student's code runs
(batches of torch tensors, a tiny Enformer to fine-tune) or a fact about an object that lives there (the
parameters of a model the student trained), it asks for one of the functions below by name. Only
functions listed in ``PROBES`` can be called this way.

The table is bound when this module is imported: ``PROBES`` is read-only and :func:`run` keeps its
own reference to it, so a notebook that assigns ``probes.parameters = fake`` or tries
``probes.PROBES["parameters"] = fake`` changes nothing (the grader's kernel side goes further and
runs a private copy of this module, see :mod:`a5kit.kernel_server.server`). What a probe reports
from the student's process is still only evidence: the tests that matter recompute it (q5b
recomputes the loss in numpy from the head's weights and embeddings it computed itself).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np


def tensor(array: Any, dtype: str = "float32") -> Any:
    """A torch tensor holding ``array`` (e.g. a batch for the student's training loop)."""
    import torch

    return torch.as_tensor(np.asarray(array), dtype=getattr(torch, dtype))


class TensorBatches:
    """A read-only list of tuples of torch tensors that stays in the student's process.

    A list of tensors would come back to the test as numpy arrays (plain data); this object
    comes back as a Handle, so a test can pass real tensors to the student's training loop.
    """

    def __init__(self, batches: list[tuple[Any, ...]]) -> None:
        self._batches = batches

    def __len__(self) -> int:
        return len(self._batches)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return self._batches[index]

    def __iter__(self):
        return iter(self._batches)

    def __repr__(self) -> str:
        return f"TensorBatches({len(self)} batches)"


def tensor_batches(batches: list[Any], dtype: str = "float32") -> TensorBatches:
    """``batches`` (a list of tuples of arrays, e.g. ``[(X, Y), ...]``) as tuples of torch tensors, in a list-like Handle."""
    return TensorBatches([tuple(tensor(a, dtype) for a in batch) for batch in batches])


def tiny_enformer(seed: int = 0, target_length: int | None = None) -> Any:
    """A fresh tiny Enformer (same class as the real one, random weights), whatever A5KIT_MODE says.

    ``target_length``: the number of bins its output is cropped to (-1: no crop); default the
    model's own (896, as the real Enformer).
    """
    from a5kit import models

    model = models.tiny_enformer(seed)
    if target_length is not None:
        model.set_target_length(int(target_length))
    return model


def manual_seed(seed: int) -> None:
    """Seed torch's global generator (dropout, initialisation) so a case runs the same every time."""
    import torch

    torch.manual_seed(int(seed))


def parameters(module: Any) -> dict[str, np.ndarray]:
    """A torch module's named parameters as float32 arrays (for tiny models only: they are copied)."""
    return {name: p.detach().cpu().float().numpy().copy() for name, p in module.named_parameters()}


def set_parameters(module: Any, values: dict[str, Any]) -> None:
    """Overwrite some named parameters of a torch module in place, e.g. a head that a case must know to judge a step."""
    import torch

    params = dict(module.named_parameters())
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise KeyError(f"the module has no parameters {unknown[:3]}")
    with torch.no_grad():
        for name, array in values.items():
            params[name].copy_(torch.as_tensor(np.asarray(array), dtype=params[name].dtype))


def holds_grad(module: Any) -> dict[str, bool]:
    """Which of a torch module's parameters hold a gradient (``.grad`` set by a backward pass)."""
    return {name: p.grad is not None for name, p in module.named_parameters()}


def requires_grad(module: Any) -> dict[str, bool]:
    """Which of a torch module's parameters would be trained."""
    return {name: bool(p.requires_grad) for name, p in module.named_parameters()}


def forward(module: Any, x: Any, **kwargs: Any) -> np.ndarray:
    """``module(x, **kwargs)`` in eval mode without gradients, as a float32 array; the module's mode is restored.

    An array ``x`` becomes a float32 tensor on the module's device.
    """
    import torch

    if isinstance(x, np.ndarray):
        first = next(module.parameters(), None)
        x = torch.as_tensor(x, dtype=torch.float32, device=None if first is None else first.device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x, **kwargs)
    finally:
        module.train(was_training)
    return out.detach().cpu().float().numpy()


def embeddings(module: Any, x: Any) -> np.ndarray:
    """The trunk's embeddings of ``x`` (batch, bins, features) in eval mode, without gradients, as float32.

    ``module``: a HeadAdapterWrapper (its ``enformer``) or an Enformer; the crop is the model's own.
    The module's training mode is restored.
    """
    return forward(getattr(module, "enformer", module), x, return_only_embeddings=True)


def dropout_active(module: Any) -> dict[str, bool]:
    """Which dropout layers of a module are in training mode (would drop activations), by name."""
    import torch

    return {
        name: bool(m.training)
        for name, m in module.named_modules()
        if isinstance(m, torch.nn.modules.dropout._DropoutNd)
    }


def has_convolution(module: Any) -> bool:
    """Whether a torch module has a convolution layer anywhere inside it (nn.Conv1d, Conv2d, ...)."""
    import torch

    if not isinstance(module, torch.nn.Module):  # a student's model of another kind has none either
        return False
    return any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in module.modules())


_GRADIENT_WATCH: dict[str, Any] = {}


def watch_gradients(enabled: bool) -> dict[str, int]:
    """Start (True) or stop (False) watching backward passes in this process; returns the counts so far.

    While on, each parameter of every module that runs forward gets a hook that fires when its
    gradient is computed, before PyTorch adds it to ``.grad``: ``kept`` counts gradients that found
    the last step's ``.grad`` still there (not cleared, so they add up), ``cleared`` those that found
    none or zeros. Architecture and optimiser do not matter. Stopping removes every hook.
    """
    import torch

    state = _GRADIENT_WATCH
    if enabled and not state:
        seen: set[int] = set()
        counts = {"cleared": 0, "kept": 0}
        handles: list[Any] = []

        def on_gradient(param: Any) -> Any:
            def hook(grad: Any) -> None:
                old = param.grad
                counts["kept" if old is not None and bool(torch.any(old != 0)) else "cleared"] += 1

            return hook

        def on_forward(module: Any, inputs: Any) -> None:
            for param in module.parameters(recurse=False):
                if param.requires_grad and id(param) not in seen:
                    seen.add(id(param))
                    handles.append(param.register_hook(on_gradient(param)))

        handles.append(torch.nn.modules.module.register_module_forward_pre_hook(on_forward))
        state.update(handles=handles, counts=counts)
    seen_so_far = dict(state.get("counts", {"cleared": 0, "kept": 0}))
    if not enabled and state:
        for handle in state["handles"]:
            handle.remove()
        state.clear()
    return seen_so_far


def wraps(model: Any, enformer: Any) -> bool:
    """Whether ``model.enformer`` is the very object ``enformer`` (not a copy of it)."""
    return getattr(model, "enformer", None) is enformer


def crop(model: Any) -> int:
    """The number of bins the (wrapped) Enformer currently crops its output to (-1: no crop)."""
    enformer = getattr(model, "enformer", model)
    return int(enformer.crop_final.target_length)


_SILENCED: list[Any] = []


def progress_bars(enabled: bool) -> None:
    """Silence (False) or restore (True) tqdm progress bars in this process, e.g. while a check trains.

    Forces ``disable=True`` on every new ``tqdm.tqdm`` (and its notebook and auto subclasses),
    whatever the student's code passes; restoring puts the original constructor back.
    """
    try:
        import tqdm.std
    except ImportError:
        return
    cls = tqdm.std.tqdm
    if not enabled and not _SILENCED:
        original = cls.__init__

        def quiet_init(self, *args, **kwargs):
            kwargs["disable"] = True
            original(self, *args, **kwargs)

        _SILENCED.append(original)
        cls.__init__ = quiet_init
    elif enabled and _SILENCED:
        cls.__init__ = _SILENCED.pop()


def _bind(table: dict[str, Any]):
    bound = MappingProxyType(dict(table))

    def run(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call probe ``name``; an unknown name is a bug in a test, not the student's fault."""
        try:
            probe = bound[name]
        except KeyError:
            raise KeyError(f"no kit probe named {name!r}; known: {', '.join(sorted(bound))}") from None
        return probe(*args, **kwargs)

    return bound, run


PROBES, run = _bind(
    {
        f.__name__: f
        for f in (
            tensor_batches,
            tiny_enformer,
            manual_seed,
            parameters,
            set_parameters,
            requires_grad,
            holds_grad,
            forward,
            embeddings,
            dropout_active,
            has_convolution,
            watch_gradients,
            progress_bars,
            wraps,
            crop,
        )
    }
)
