"""The nemesis: who breaks what, and when.

A fault schedule is a list of ``(time, action)`` pairs.  Write one by hand as a
script, ::

    parse_script("1.0 crash n1; 2.5 restart n1; 3 partition n1,n2|n3; 4 heal")

or let :func:`random_schedule` draw one from a seed with a chosen mix of
fault kinds.  Actions:

=================  ==============================================================
``crash N``        node N stops; volatile state and timers are lost, storage kept
``restart N``      node N boots again (``on_start`` runs)
``partition G|H``  cut every link between the groups (comma-separated node ids)
``cut A>B``        cut the one-way link A -> B (asymmetric fault)
``heal``           restore every link
``loss P``         set the message-loss probability to P
``skew N S [D]``   set node N's clock offset to S seconds (and drift to D)
``strike P D``     from now on, right after a node handles anything (a message, a
                   timer, a request) it crashes with probability P and restarts up
                   to D seconds later: a crash at the moment a step's effects went
                   out (``strike 0`` stops)
``snipe P D``      from now on, right after a node takes a client request without
                   answering it at once (a leader that just appended a command),
                   cut it off from every other node with probability P, for up
                   to D seconds: what it sent in that step never arrives
                   (``snipe 0`` stops; at most a minority is cut off at once)
=================  ==============================================================

The fault kind ``blip`` (``--nemesis crash,blip``) draws ``strike`` phases: quick
crash-restarts right after a step, the moments where what a node keeps on disk
matters.  With ``blip`` among the kinds the run starts with such a phase, since a
cluster's first moments (the first election, the first ballots) are the most fragile.
A protocol can ask for harder blips (``blip_p``, the range of the strike
probability) and for an opening blip phase that also cuts one pair of nodes off
from each other (``blip_split``: some nodes then miss the ballots others see).
The fault kind ``snipe`` draws ``snipe`` phases: leaders cut off right after
they take a command, again and again -- the logs of Raft's figure 8.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Crash",
    "Restart",
    "Partition",
    "Cut",
    "Heal",
    "SetLoss",
    "ClockSkew",
    "Strike",
    "Snipe",
    "Action",
    "FAULT_KINDS",
    "NemesisError",
    "parse_script",
    "random_schedule",
    "schedule_to_script",
]


class NemesisError(ValueError):
    """A fault script or nemesis name that cannot be understood."""


@dataclass(frozen=True)
class Crash:
    node: str

    def script(self) -> str:
        return f"crash {self.node}"


@dataclass(frozen=True)
class Restart:
    node: str

    def script(self) -> str:
        return f"restart {self.node}"


@dataclass(frozen=True)
class Partition:
    groups: tuple[tuple[str, ...], ...]

    def script(self) -> str:
        return "partition " + "|".join(",".join(g) for g in self.groups)


@dataclass(frozen=True)
class Cut:
    src: str
    dst: str

    def script(self) -> str:
        return f"cut {self.src}>{self.dst}"


@dataclass(frozen=True)
class Heal:
    def script(self) -> str:
        return "heal"


@dataclass(frozen=True)
class SetLoss:
    p: float

    def script(self) -> str:
        return f"loss {_num(self.p)}"


@dataclass(frozen=True)
class ClockSkew:
    node: str
    offset: float
    drift: float = 0.0

    def script(self) -> str:
        return f"skew {self.node} {_num(self.offset)} {_num(self.drift)}"


@dataclass(frozen=True)
class Strike:
    """Crash a node right after it handles an event, with probability ``p``; back within ``down`` s."""

    p: float
    down: float = 0.0

    def script(self) -> str:
        return f"strike {_num(self.p)} {_num(self.down)}"


@dataclass(frozen=True)
class Snipe:
    """Cut a node off right after it takes a client request it does not answer at once,
    with probability ``p``; its links come back within ``down`` s."""

    p: float
    down: float = 0.0

    def script(self) -> str:
        return f"snipe {_num(self.p)} {_num(self.down)}"


Action = Crash | Restart | Partition | Cut | Heal | SetLoss | ClockSkew | Strike | Snipe

#: fault kinds a random nemesis can mix (``--nemesis KIND``)
FAULT_KINDS = ("partition", "crash", "loss", "cut", "clock-skew", "blip", "snipe")


def _float(text: str, what: str, entry: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise NemesisError(f"bad {what} {text!r} in nemesis entry {entry!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise NemesisError(f"bad {what} {text!r} in nemesis entry {entry!r}")
    return v


def parse_script(text: str, nodes: Sequence[str] | None = None) -> list[tuple[float, Action]]:
    """Parse ``"TIME ACTION ARGS; ..."`` (``;`` or newlines between entries).

    Raises :class:`NemesisError` naming the entry that is wrong.
    """
    known = set(nodes) if nodes is not None else None

    def node(name: str, entry: str) -> str:
        if not name:
            raise NemesisError(f"missing node name in nemesis entry {entry!r}")
        if known is not None and name not in known:
            raise NemesisError(f"unknown node {name!r} in nemesis entry {entry!r} (nodes: {', '.join(nodes or ())})")
        return name

    out: list[tuple[float, Action]] = []
    for raw in text.replace("\n", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        words = entry.split()
        if words[0] == "at":
            words = words[1:]
        if len(words) < 2:
            raise NemesisError(f"nemesis entry {entry!r} needs 'TIME ACTION', e.g. '1.5 crash n1'")
        t = _float(words[0].rstrip(":"), "time", entry)
        if t < 0:
            raise NemesisError(f"negative time in nemesis entry {entry!r}")
        kind, args = words[1], words[2:]
        action: Action
        if kind in ("crash", "restart"):
            if len(args) != 1:
                raise NemesisError(f"{kind} takes one node in nemesis entry {entry!r}")
            action = Crash(node(args[0], entry)) if kind == "crash" else Restart(node(args[0], entry))
        elif kind == "partition":
            if len(args) != 1 or "|" not in args[0]:
                raise NemesisError(f"partition needs groups like n1,n2|n3 in nemesis entry {entry!r}")
            groups = tuple(tuple(node(n, entry) for n in g.split(",")) for g in args[0].split("|"))
            flat = [n for g in groups for n in g]
            if len(flat) != len(set(flat)):
                raise NemesisError(f"a node appears in two groups in nemesis entry {entry!r}")
            action = Partition(groups)
        elif kind == "cut":
            if len(args) != 1 or ">" not in args[0]:
                raise NemesisError(f"cut needs SRC>DST in nemesis entry {entry!r}")
            a, b = args[0].split(">", 1)
            action = Cut(node(a, entry), node(b, entry))
        elif kind == "heal":
            if args:
                raise NemesisError(f"heal takes no arguments in nemesis entry {entry!r}")
            action = Heal()
        elif kind == "loss":
            if len(args) != 1:
                raise NemesisError(f"loss takes one probability in nemesis entry {entry!r}")
            p = _float(args[0], "probability", entry)
            if not 0 <= p <= 1:
                raise NemesisError(f"loss probability must be in [0, 1] in nemesis entry {entry!r}")
            action = SetLoss(p)
        elif kind in ("strike", "snipe"):
            if len(args) not in (1, 2):
                raise NemesisError(f"{kind} takes P [DOWN] in nemesis entry {entry!r}")
            p = _float(args[0], "probability", entry)
            down = _float(args[1], "down time", entry) if len(args) == 2 else 0.0
            if not 0 <= p <= 1 or down < 0:
                raise NemesisError(f"{kind} needs P in [0, 1] and DOWN >= 0 in nemesis entry {entry!r}")
            action = Strike(p, down) if kind == "strike" else Snipe(p, down)
        elif kind == "skew":
            if len(args) not in (2, 3):
                raise NemesisError(f"skew takes NODE OFFSET [DRIFT] in nemesis entry {entry!r}")
            drift = _float(args[2], "drift", entry) if len(args) == 3 else 0.0
            action = ClockSkew(node(args[0], entry), _float(args[1], "offset", entry), drift)
        else:
            raise NemesisError(
                f"unknown nemesis action {kind!r} in entry {entry!r} "
                "(use crash, restart, partition, cut, heal, loss, skew, strike, snipe)"
            )
        out.append((t, action))
    out = [(round(t, 4), a) for t, a in out]  # millisecond-ish times read better and paste back exactly
    out.sort(key=lambda ta: ta[0])
    return out


def schedule_to_script(schedule: Sequence[tuple[float, Action]]) -> str:
    """The inverse of :func:`parse_script`: a schedule you can paste back."""
    return "; ".join(f"{_num(t)} {a.script()}" for t, a in schedule)


def _num(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (``1`` rather than ``1.0``)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def random_schedule(
    nodes: Sequence[str],
    duration: float,
    rng: random.Random,
    kinds: Sequence[str] = ("partition", "crash"),
    *,
    interval: float = 1.0,
    base_loss: float = 0.0,
    max_crashed: int | None = None,
    quiet: float = 0.2,
    blip_p: tuple[float, float] = (0.05, 0.3),
    blip_split: bool = False,
) -> list[tuple[float, Action]]:
    """Draw a fault timeline from ``rng``.

    Faults come one at a time: each starts after a random gap (mean
    ``interval``), holds for a while, then is repaired.  At most ``max_crashed``
    nodes are down at once (default: a minority).  The last ``quiet`` fraction of
    the run is fault-free -- every link healed, every node restarted -- so that
    a correct system can show it recovers.  ``blip_p`` is the range of a blip
    phase's strike probability; with ``blip_split`` the opening blip phase also
    cuts a random pair of nodes off from each other.
    """
    for k in kinds:
        if k not in FAULT_KINDS:
            raise NemesisError(f"unknown fault kind {k!r} (choose from {', '.join(FAULT_KINDS)})")
    nodes = list(nodes)
    n = len(nodes)
    if max_crashed is None:
        max_crashed = max(0, (n - 1) // 2)
    end = duration * (1.0 - quiet)
    out: list[tuple[float, Action]] = []
    t = rng.uniform(0.2, 1.0) * interval
    skewed: set[str] = set()
    if "blip" in kinds and end > 0:  # the first moments are the most fragile: start striking at once
        stop = min(rng.uniform(0.3, 1.5) * interval, end)
        out += _blips(0.0, stop, rng, blip_p)
        if blip_split and n > 2:
            a, b = rng.sample(nodes, 2)
            out += [(0.0, Cut(a, b)), (0.0, Cut(b, a)), (stop, Heal())]
        t = max(t, stop + rng.expovariate(1.0 / interval))
    while t < end and kinds:
        kind = kinds[rng.randrange(len(kinds))]
        hold = rng.uniform(0.3, 1.5) * interval
        stop = min(t + hold, end)
        if kind == "crash" and max_crashed > 0:
            k = 1 + rng.randrange(max_crashed)
            victims = sorted(rng.sample(nodes, k))
            out += [(t, Crash(v)) for v in victims]
            out += [(stop, Restart(v)) for v in victims]
        elif kind == "partition" and n > 1:
            shuffled = rng.sample(nodes, n)
            cut_at = 1 + rng.randrange(n - 1)
            groups = (tuple(sorted(shuffled[:cut_at])), tuple(sorted(shuffled[cut_at:])))
            out += [(t, Partition(groups)), (stop, Heal())]
        elif kind == "cut" and n > 1:
            a, b = rng.sample(nodes, 2)
            out += [(t, Cut(a, b)), (stop, Heal())]
        elif kind == "loss":
            out += [(t, SetLoss(round(rng.uniform(0.2, 0.6), 3))), (stop, SetLoss(base_loss))]
        elif kind == "blip":
            out += _blips(t, stop, rng, blip_p)
        elif kind == "snipe":
            p, down = round(rng.uniform(0.5, 0.9), 3), round(rng.uniform(0.1, 0.5), 3)
            out += [(t, Snipe(p, down)), (stop, Snipe(0.0))]
        elif kind == "clock-skew":
            v = nodes[rng.randrange(n)]
            skewed.add(v)
            out.append((t, ClockSkew(v, round(rng.uniform(-1.0, 1.0), 3), round(rng.uniform(-0.05, 0.05), 4))))
        t = stop + rng.expovariate(1.0 / interval)
    # final recovery: everything healed and restarted before the quiet period
    out.sort(key=lambda ta: ta[0])
    down: list[str] = []
    healed = True
    for _, a in out:
        if isinstance(a, Crash) and a.node not in down:
            down.append(a.node)
        elif isinstance(a, Restart) and a.node in down:
            down.remove(a.node)
        elif isinstance(a, Partition | Cut):
            healed = False
        elif isinstance(a, Heal):
            healed = True
    if not healed:
        out.append((end, Heal()))
    out += [(end, Restart(v)) for v in sorted(down)]
    if "loss" in kinds and out:
        out.append((end, SetLoss(base_loss)))
    out = [(round(t, 4), a) for t, a in out]  # millisecond-ish times read better and paste back exactly
    out.sort(key=lambda ta: ta[0])
    return out


def _blips(start: float, stop: float, rng: random.Random, p_range: tuple[float, float]) -> list[tuple[float, Action]]:
    """A phase of quick crash-restarts right after steps (``strike``) from ``start`` to ``stop``."""
    p = round(rng.uniform(*p_range), 3)
    down = round(rng.uniform(0.001, 0.01), 4)
    return [(start, Strike(p, down)), (stop, Strike(0.0))]
