"""Exercise 4 judged: quorum replication with read repair.

The rules, all checked in the grader's process: a replica's version only
grows; a replica answers with what it stores and acknowledges a write only
after storing it; a read or write is answered only when ``w`` replicas store
its version (that is what read repair is for); and the whole client history
is linearizable.
"""

from __future__ import annotations

from typing import Any

from ...sim.clients import Ok
from ..checks import Check, Judge, NodeSpec, Violation
from ..hosting import _ABSENT
from ._histories import linearizability_problem

NO_VERSION = (0, "")


def _is_version(v: Any) -> bool:
    return type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is str


class QuorumJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.version_of: dict[Any, tuple] = {}
        self.value_of: dict[tuple, Any] = {}
        self.w = int(self.options["w"])

    def _stored(self, nid: str) -> tuple:
        v = self.store(nid).get("version", NO_VERSION)
        return v if _is_version(v) else NO_VERSION

    def _holding(self, version: tuple) -> int:
        return sum(1 for n in self.nodes if self._stored(n) >= version)

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        st = self.store(node.id)
        if "version" in before:
            new = st.get("version", NO_VERSION)
            if not _is_version(new):
                raise Violation("versions", f"{node.id} stored version {new!r}; a version is (counter, node id)", now)
            old = before["version"]
            if old is not _ABSENT and _is_version(old) and new < old:
                raise Violation("versions only grow", f"{node.id} replaced version {old} with the older {new}", now)
        for eff in effects:
            if eff[0] == "send":
                msg = eff[2]
                name = type(msg).__name__
                if name == "ReadReply":
                    held = (st.get("version", NO_VERSION), st.get("value"))
                    if (msg.version, msg.value) != held:
                        raise Violation("replicas report what they store",
                                        f"{node.id} answered version {msg.version} value {msg.value!r} but stores "
                                        f"version {held[0]} value {held[1]!r}", now)
                elif name == "WriteAck":
                    if not _is_version(msg.version) or self._stored(node.id) < msg.version:
                        raise Violation("store before you acknowledge",
                                        f"{node.id} acknowledged version {msg.version} but stores {self._stored(node.id)}", now)
                elif name == "Write":
                    if not _is_version(msg.version):
                        raise Violation("versions", f"{node.id} sent a Write with version {msg.version!r}", now)
                    named = self.value_of.setdefault(msg.version, msg.value)
                    if named != msg.value:
                        raise Violation("a version names one value",
                                        f"version {msg.version} was written with {named!r} and with {msg.value!r}: "
                                        "never issue the same version twice", now)
                    if msg.value is not None:
                        known = self.version_of.setdefault(msg.value, msg.version)
                        if known != msg.version:
                            raise Violation("one version per write",
                                            f"value {msg.value!r} was written with versions {known} and {msg.version}", now)
            elif eff[0] == "reply":
                request, result = eff[1], eff[2]
                value = result.value if isinstance(result, Ok) else result
                if request.f == "read":
                    if value is None:
                        continue
                    version = self.version_of.get(value)
                    if version is None:
                        raise Violation("reads return written values", f"{node.id} answered a read with {value!r}, "
                                        "which no Write carried", now)
                    if self._holding(version) < self.w:
                        raise Violation("read repair", f"{node.id} answered read -> {value!r} (version {version}) "
                                        f"when only {self._holding(version)} replica(s) stored it; w = {self.w}", now)
                elif request.f == "write" and isinstance(result, Ok):
                    version = self.version_of.get(request.value)
                    if version is None or self._holding(version) < self.w:
                        have = 0 if version is None else self._holding(version)
                        raise Violation("write quorum", f"{node.id} answered write {request.value!r} when only "
                                        f"{have} replica(s) stored it; w = {self.w}", now)

    def final(self) -> str | None:
        history = self.sim.history
        expect = self.params.get("expect", {})
        ok = sum(1 for op in history if op.type == "ok")
        if ok < int(expect.get("min_ok", 0)):
            return f"only {ok} operations completed; expected at least {expect['min_ok']}"
        return linearizability_problem(history, "register")


class Spec(NodeSpec):
    id = "ex04"
    title = "quorum reads with read repair"
    notebook = "ex04_quorum_read_repair.ipynb"
    judge_class = QuorumJudge
    default_options = {"r": 2, "w": 2}
    defaults = {
        "nodes": 3,
        "duration": 3.0,
        "workload": {"clients": 3, "keys": ["x"], "mix": [["read", 0.5], ["write", 0.5]], "think": 0.05,
                     "timeout": 1.0, "deadline": 1.0},
    }
    checks = (
        Check("reads see writes, no faults", 3, hint="A read must wait for r replies and return the value "
              "with the highest version; a write must wait for w acknowledgements.",
              params={"seeds": [1, 2], "duration": 2.0, "workload": {"clients": 2}, "expect": {"min_ok": 30}}),
        Check("read repair", 3, hint="Before a read answers, the newest version must be stored on w "
              "replicas: write it back to the replicas that answered with an older one and count their acks.",
              params={"seeds": [3, 6], "duration": 1.5, "nodes": 5, "options": {"r": 2, "w": 4},
                      "network": {"latency": {"kind": "exponential", "low": 0.001, "mean": 0.03}},
                      "workload": {"clients": 3, "think": 0.02}, "expect": {"min_ok": 10}}),
        Check("a replica crashes", 2, hint="Replicas keep version and value in ctx.storage, so a restarted "
              "replica still has them; coordinators must not wait for every replica, only a quorum.",
              params={"seeds": [4], "nemesis": "0.5 crash n2; 1.5 restart n2; 2.0 crash n3", "expect": {"min_ok": 20}}),
        Check("lost messages", 2, hint="Resend Read/Write to the replicas that have not answered every "
              "RETRY seconds; answer a request only once.",
              params={"seeds": [5], "network": {"loss": 0.15}, "expect": {"min_ok": 10}}),
    )

    def validate_view(self, view: Any) -> str | None:
        return None if type(view) is dict else "its view is not a dict"


SPEC = Spec()
