"""Simulated device models by short name, for the simulator command and for tests."""

from __future__ import annotations

import inspect
from typing import Any

from labnode.drivers.registry import load_class
from labnode.drivers.simulation.model import DeviceModel

#: Short name -> "module:Class" of the model (imported only when asked for).
MODEL_PATHS: dict[str, str] = {
    "tpg26x": "labnode.drivers.pfeiffer.tpg26x_sim:TPG26xModel",
    "alicat": "labnode.drivers.alicat.mass_flow_sim:AlicatMassFlowModel",
    "bronkhorst": "labnode.drivers.bronkhorst.propar_sim:BronkhorstProparModel",
    "mks937b": "labnode.drivers.mks.mks937b_sim:MKS937BModel",
    "omega_iseries": "labnode.drivers.omega.iseries_sim:OmegaISeriesModel",
}


def model_names() -> list[str]:
    """The short names of the known models."""
    return sorted(MODEL_PATHS)


def model_class(name: str) -> type[DeviceModel]:
    """The model class for a short name or a "package.module:Class" path."""
    path = MODEL_PATHS.get(name, name)
    if ":" not in path:
        raise LookupError(
            f"unknown simulated device {name!r}; known: {', '.join(model_names())}, "
            "or give a 'package.module:Class' path"
        )
    return load_class(path, DeviceModel)


def accepts_keyword(cls: type, keyword: str) -> bool:
    """Whether `cls(...)` takes `keyword` (named, or through **options)."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        parameter.kind == parameter.VAR_KEYWORD
        or (parameter.name == keyword and parameter.kind != parameter.POSITIONAL_ONLY)
        for parameter in parameters
    )


def create_model(name: str, **options: Any) -> DeviceModel:
    """A new model by short name or path, e.g. `create_model("tpg26x", seed=1)`."""
    return model_class(name)(**options)
