"""``model=python``: a PyTorch model from a function of the user's own (README "Measure your own model").

The contract, for ``model.factory=package.module:function``::

    def function(batch_size: int) -> tuple[torch.nn.Module, dict[str, torch.Tensor] | tuple[torch.Tensor, ...]]

It is called with ``batch_size=`` the job's batch size, after ``torch.manual_seed(seed)`` (random weights are
seeded), and returns the module and example inputs: a dict (the module is called with keywords) or a tuple
(called positionally; named ``input_0``, ``input_1``… in ONNX). The examples fix each input's name, dtype and
shape — the first dimension must be ``batch_size`` — and green_mlflow fills them with seeded synthetic values
(``models.inputs.declared_inputs``), the same in PyTorch and in its ONNX export. ``model.weights``, a state dict file,
is then loaded into the module (``torch_models.load_weights``, strict). The module is imported from
``model["factory_dir"]`` (the directory the plan found it in) or the interpreter's own path.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import torch

from green_mlflow.models.inputs import declared_inputs
from green_mlflow.models.torch_models import load_weights


class FactoryError(ValueError):
    """The factory could not be imported, raised, or returned something else than the contract; one line."""


@dataclass
class FactoryModel:
    module: torch.nn.Module
    inputs: dict[str, torch.Tensor]  # seeded values, by name, in the factory's order
    keywords: bool  # call ``module(**inputs)``; else positionally

    def __call__(self, module: torch.nn.Module | None = None):
        forward = module or self.module
        return forward(**self.inputs) if self.keywords else forward(*self.inputs.values())


def _function(factory: str, directory: str | None):
    module_name, _, function_name = factory.partition(":")
    if directory and directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise FactoryError(
            f"model.factory={factory}: importing {module_name} failed: {type(err).__name__}: {err}"
        ) from err
    function = getattr(module, function_name, None)
    if not callable(function):
        raise FactoryError(f"model.factory={factory}: {module_name} has no function {function_name}")
    return function


def _declared(factory: str, examples) -> tuple[list[tuple[str, str, list]], bool]:
    if isinstance(examples, dict):
        named, keywords = list(examples.items()), True
    elif isinstance(examples, (tuple, list)):
        named, keywords = [(f"input_{i}", t) for i, t in enumerate(examples)], False
    else:
        named, keywords = [], False
    bad = [name for name, t in named if not isinstance(t, torch.Tensor)]
    if not named or bad:
        raise FactoryError(
            f"model.factory={factory} must return (torch.nn.Module, example inputs: a dict of tensors by name or a "
            f"tuple of tensors); its example inputs are {type(examples).__name__}"
            + (f" with non-tensors {', '.join(map(str, bad))}" if bad else "")
        )
    return [(str(name), str(t.dtype).removeprefix("torch."), list(t.shape)) for name, t in named], keywords


def build_factory_model(model: dict, batch_size: int, seed: int) -> FactoryModel:
    """Call the user's factory (seeded), check what it returned, and bind seeded inputs of its declared shapes."""
    factory = model["factory"]
    function = _function(factory, model.get("factory_dir"))
    torch.manual_seed(seed)
    try:
        result = function(batch_size=batch_size)
    except Exception as err:
        raise FactoryError(
            f"model.factory={factory}: {factory.partition(':')[2]}(batch_size={batch_size}) raised "
            f"{type(err).__name__}: {err}"
        ) from err
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.nn.Module)):
        raise FactoryError(
            f"model.factory={factory} must return (torch.nn.Module, example inputs); it returned "
            f"{type(result).__name__}"
            + (f" of {', '.join(type(r).__name__ for r in result)}" if isinstance(result, tuple) else "")
        )
    if model.get("weights"):
        load_weights(result[0], model, f"the module of model.factory={factory}")
    declared, keywords = _declared(factory, result[1])
    try:
        arrays = declared_inputs(declared, model, batch_size, seed)
    except (ValueError, TypeError) as err:
        raise FactoryError(f"model.factory={factory}: its example inputs cannot be used: {err}") from err
    inputs = {name: torch.from_numpy(array) for name, array in arrays.items()}
    return FactoryModel(result[0].eval(), inputs, keywords)


def output_tensors(out) -> dict[str, torch.Tensor]:
    """A forward's outputs by name: ``output`` for one tensor, ``output_<i>`` for a tuple, a dict's own keys."""
    if isinstance(out, torch.Tensor):
        return {"output": out}
    if isinstance(out, dict):
        return {str(k): v for k, v in out.items() if isinstance(v, torch.Tensor)}
    if isinstance(out, (tuple, list)):
        return {f"output_{i}": t for i, t in enumerate(out) if isinstance(t, torch.Tensor)}
    raise FactoryError(f"the model returned {type(out).__name__}; expected tensors (a tensor, a tuple or a dict)")
