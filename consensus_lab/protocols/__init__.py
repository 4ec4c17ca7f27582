"""Layer 2: the protocols, one module each, registered by name.

Every protocol module defines ``SPECS``: a list of
:class:`consensus_lab.sim.ProtocolSpec` (usually one).  The registry imports
the modules listed in ``_MODULES`` on first use; ``names()`` lists what is
there and ``get(name)`` returns a spec or raises ``KeyError`` with the list.
"""

from __future__ import annotations

import importlib

from ..sim import ProtocolSpec

__all__ = ["get", "names", "register", "specs"]

# protocol modules, in the order ``consensus-lab run --list`` shows them
_MODULES = (
    "broadcast",
    "twopc",
    "paxos",
    "multipaxos",
    "raft",
    "primary_backup",
    "quorum",
    "gossip",
    "sharded_txn",
)

_REGISTRY: dict[str, ProtocolSpec] = {}
_loaded = False


def register(spec: ProtocolSpec) -> ProtocolSpec:
    """Add a spec (a student's own protocol, for example) to the registry."""
    _REGISTRY[spec.name] = spec
    return spec


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{mod}":
                continue  # not written yet
            raise
        for spec in getattr(module, "SPECS", ()):
            _REGISTRY.setdefault(spec.name, spec)


def names() -> list[str]:
    _load()
    return list(_REGISTRY)


def specs() -> list[ProtocolSpec]:
    _load()
    return list(_REGISTRY.values())


def get(name: str) -> ProtocolSpec:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r} (known: {', '.join(_REGISTRY)})") from None
