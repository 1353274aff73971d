"""Helpers a test may run *in the student's process* through ``submission.kit(name, ...)``.

Tests never touch the student's objects directly: across the Gradescope process boundary they
only see plain data and Handles. When a test needs an object built where the student's code runs
(batches of torch tensors, a tiny Enformer to fine-tune) or a fact about an object that lives there (the
parameters of a model the student trained), it asks for one of the functions below by name. Only
functions listed in ``PROBES`` can be called this way.
"""

from __future__ import annotations

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


PROBES = {f.__name__: f for f in (tensor_batches, tiny_enformer, manual_seed, parameters, requires_grad, forward)}


def run(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call probe ``name``; an unknown name is a bug in a test, not the student's fault."""
    try:
        probe = PROBES[name]
    except KeyError:
        raise KeyError(f"no kit probe named {name!r}; known: {', '.join(sorted(PROBES))}") from None
    return probe(*args, **kwargs)
