"""Named plug-ins, one registry per plug-in point, low in the import graph.

A config validates a name (``ModelConfig.arch``) against a registry here, while the
plug-ins that fill it live higher up: :mod:`neurotunes.models` registers the
built-in architectures into :data:`architectures` when it is imported, and the
``neurotunes`` package imports it before anything else can build a config.  So
the config never imports the plug-ins, and the import graph has no cycle.
"""

from __future__ import annotations

import inspect
import re
from typing import Generic, TypeVar

from .errors import BadConfig

T = TypeVar("T")

#: Names travel in configs, CLI flags, file names and share links: keep them plain.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,39}")


class Registry(Generic[T]):
    """Plug-ins of one kind by name, in the order they were registered.

    Parameters
    ----------
    kind
        What a plug-in is called in messages ("architecture").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; returns it.

        Registering the same item again is harmless (a module imported twice); another
        item under a taken name is refused.
        """
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise BadConfig(f"{self.kind} names are 1-40 lower-case letters, digits, _ or - starting with a "
                            f"letter (they go into configs, CLI flags and links), got {name!r}")
        taken = self._items.get(name)
        if taken is not None and taken is not item:
            raise BadConfig(f"the {self.kind} name {name!r} is taken by {_describe(taken)}; "
                            f"give {_describe(item)} another")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """The plug-in called ``name``; BadConfig naming the available ones if there is none."""
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable value from a hand-written JSON config
            raise BadConfig(f"unknown {self.kind} {name!r}; available: {', '.join(self._items)}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def add_class(self, plugin: type, base: type) -> type:
        """Register a plug-in class under its ``name`` after checking it is a complete ``base`` subclass with a
        one-line ``description``; returns the class, so it serves as a class decorator."""
        if not (isinstance(plugin, type) and issubclass(plugin, base)):
            raise BadConfig(f"only {base.__name__} subclasses can be registered, not {plugin!r}")
        if inspect.isabstract(plugin):
            missing = ", ".join(sorted(plugin.__abstractmethods__))
            raise BadConfig(f"{plugin.__name__} cannot be registered: it does not implement {missing}")
        if not isinstance(getattr(plugin, "description", None), str) or not plugin.description:
            raise BadConfig(f"{plugin.__name__} needs a one-line `description` to be registered")
        return self.add(getattr(plugin, "name", None), plugin)


def _describe(item: object) -> str:
    kind = item if isinstance(item, type) else type(item)
    return f"{kind.__module__}.{kind.__qualname__}"


#: Sequence-model architectures (:class:`neurotunes.models.Architecture` subclasses), filled by
#: :mod:`neurotunes.models`.
architectures: Registry = Registry("architecture")
#: Token encodings (:class:`neurotunes.encodings.Encoding` subclasses), filled by :mod:`neurotunes.encodings`.
encodings: Registry = Registry("encoding")
