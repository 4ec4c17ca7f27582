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

# protocol name -> module, in the order ``consensus-lab run --list`` shows them
_MODULES = {
    "broadcast": "broadcast",
    "twopc": "twopc",
    "paxos": "paxos",
    "multi-paxos": "multipaxos",
    "raft": "raft",
    "primary-backup": "primary_backup",
    "quorum": "quorum",
    "gossip": "gossip",
    "sharded-txn": "sharded_txn",
    "partitioned": "partitioned",
    "raft-follower-reads": "realsystems",
    "truetime": "realsystems",
}

_REGISTRY: dict[str, ProtocolSpec] = {}
_imported: set[str] = set()


def register(spec: ProtocolSpec) -> ProtocolSpec:
    """Add a spec (a student's own protocol, for example) to the registry."""
    _REGISTRY[spec.name] = spec
    return spec


def _import(module_name: str) -> None:
    if module_name in _imported:
        return
    _imported.add(module_name)
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{module_name}":
            return  # not written yet
        raise
    for spec in getattr(module, "SPECS", ()):
        _REGISTRY.setdefault(spec.name, spec)


def _load_all() -> None:
    for module_name in dict.fromkeys(_MODULES.values()):
        _import(module_name)


def names() -> list[str]:
    """Every registered protocol, built-in ones in course order first."""
    _load_all()
    order = list(_MODULES)
    return sorted(_REGISTRY, key=lambda n: (order.index(n) if n in order else len(order), n))


def specs() -> list[ProtocolSpec]:
    return [_REGISTRY[n] for n in names()]


def get(name: str) -> ProtocolSpec:
    """The spec called ``name``; imports only the module that defines it."""
    if name not in _REGISTRY:
        if name in _MODULES:
            _import(_MODULES[name])
        else:
            _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r} (known: {', '.join(names())})") from None
