"""Share links: a generated take as URL query parameters, and back.

A link names a shipped model (and the first 12 hex digits of its content hash)
and every setting that differs from the defaults.  Opening it regenerates the
identical notes.  Everything read from a link is validated like any other
input: a tampered link gives a clear message, never an exception trace.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Mapping

from .config import GenerateConfig
from .constants import SHIPPED_MODELS
from .errors import BadConfig

HASH_CHARS = 12
MAX_PARAM_CHARS = 64


def share_params(model: str, model_hash: str, config: GenerateConfig) -> dict[str, str]:
    """Query parameters for a take made by a shipped model with ``config`` (no primer)."""
    if model not in SHIPPED_MODELS:
        raise BadConfig("only takes from a shipped model can be shared as a link (others need the model file)")
    defaults = GenerateConfig().to_dict()
    params = {"model": model, "hash": model_hash[:HASH_CHARS]}
    params.update({k: str(v) for k, v in config.to_dict().items() if v != defaults[k]})
    return params


def parse_share_params(params: Mapping[str, str]) -> tuple[str, str, GenerateConfig]:
    """``(model name, short hash, config)`` from query parameters.

    Raises
    ------
    BadConfig
        Unknown model or setting, a value of the wrong type or out of range.
    """
    model = params.get("model", "")
    if model not in SHIPPED_MODELS:
        raise BadConfig(f"the link names an unknown model {model[:MAX_PARAM_CHARS]!r}")
    model_hash = params.get("hash", "")
    if len(model_hash) != HASH_CHARS or any(c not in "0123456789abcdef" for c in model_hash):
        raise BadConfig("the link's model hash is malformed")
    types = {f.name: f.type for f in fields(GenerateConfig)}
    values: dict[str, object] = {}
    for key, raw in params.items():
        if key in ("model", "hash"):
            continue
        if key not in types:
            raise BadConfig(f"the link has an unknown setting {key[:MAX_PARAM_CHARS]!r}")
        if len(raw) > MAX_PARAM_CHARS:
            raise BadConfig(f"the link's value for {key} is too long")
        kind = types[key]
        try:
            values[key] = int(raw) if kind == "int" else float(raw) if kind == "float" else str(raw)
        except ValueError:
            raise BadConfig(f"the link's value for {key} is not a number: {raw[:MAX_PARAM_CHARS]!r}") from None
    return model, model_hash, GenerateConfig.from_dict(values)
