"""Exercise 17 judged (capstone D): two-phase commit between Raft groups.

After every handler, from what a node sends and what its durable log holds:

* **a vote is a logged promise** -- a node sends ``TxnVote(yes)`` only when its
  log holds a committed ``prepare`` entry for the transaction (a yes vote the
  group has not logged is forgotten by the next leader);
* **act only on a logged decision** -- a ``Decision`` and the client's answer
  (``Ok`` = commit, ``Fail`` = abort) follow the *first* ``decision`` entry for
  the transaction in the sender's log, and it is committed;
* **a decision is final** -- nobody ever says commit and abort for one
  transaction (any two nodes, messages or answers).

At the end (every fault healed): **atomicity** on the groups' committed logs
(a committed transaction is finished as a commit by every shard it wrote to,
after its prepare; an aborted one by none), **isolation** on the same logs (no
two committed transactions held one key's lock at once), **no blocking** (no replica still
holds a transaction in doubt), enough transactions committed across shards,
and the clients' history is linearizable per key and **strictly serializable**: the library's ``txn-kv``
model checks it as linearizability of the whole store, in which every
transaction's writes take effect at one instant (so no read sees a transaction
on one shard and misses it on another, or sees writes that were never
committed).  Reads are single-key and transactions write-only, so this is the
strongest isolation the history can show; the Elle-style checker needs
read-write transactions and is not used here.

A search check (:class:`SearchRules`) judges the same per-step rules
(:class:`TxnRules`, shared with the judge) on the explorer's schedules, and in
every state also every node's committed log (the first decision entry is the
same in every log, a shard finishes a transaction only as it was decided and
after its prepare, isolation) and the clients' history (per-key
linearizability, strict serializability): the safety half of the final checks,
as soon as a schedule breaks it.
"""

from __future__ import annotations

from typing import Any

from ...sim import Invariant
from ...sim.clients import Fail, Redirect
from ..checks import Check, Judge, NodeSpec, Violation
from ..exercises.ex17 import Layout
from ._histories import judged_once, linearizability_problem
from ._judged_steps import seen

COMMIT, ABORT = "commit", "abort"
MIX = [["get", 0.5], ["txn", 0.5]]
KEYS = ["a", "b", "c", "d", "e", "f"]  # three on each of two shards
RULED = ("Prepare", "TxnVote", "Decision")  # the messages the per-step rules judge


def _steps(log: Any, kind: str, txid: str, upto: int) -> list[tuple[int, Any]]:
    """``(index, value)`` of every ``kind`` step for ``txid`` among the first ``upto`` entries of ``log``."""
    out = []
    for i, entry in enumerate(log[:upto] if type(log) is tuple else (), start=1):
        c = getattr(entry, "command", None)
        if type(c).__name__ == "Step" and c.kind == kind and c.txid == txid:
            out.append((i, c.value))
    return out


def _at(now: float) -> str:
    """A message's "at t=..." in a seeded run; nothing in a search, whose world has no time (its steps are
    numbered)."""
    return f" at t={now:.3f}" if now else ""


class TxnRules:
    """The per-step rules, one observation at a time, with what they remember (plain data): the
    judge of a seeded run feeds them every handler call, a search check's :class:`SearchRules` what
    each state adds -- the same rules, with the same words.

    ``log, ci``: the acting node's durable log and the commit index it reports, right after the
    handler that sent the message or the answer."""

    def __init__(self, groups: tuple[tuple[str, ...], ...]) -> None:
        self.groups = groups
        self.said: dict[str, tuple[str, str, str, float]] = {}  # txid -> (outcome, node, how, time)
        self.parts: dict[str, set[int]] = {}  # txid -> the groups it was prepared at
        self.decided: dict[str, tuple[str, str]] = {}  # txid -> (first committed decision, the log it was in)
        self.finished: dict[tuple[int, str], tuple[str, str]] = {}  # (shard, txid) -> (how it finished, where)

    def group_of(self, nid: str) -> int:
        return next(g for g, members in enumerate(self.groups) if nid in members)

    def sent(self, nid: str, dst: str, msg: Any, log: Any, ci: int, now: float) -> None:
        name = type(msg).__name__
        if name == "Prepare":
            self.parts.setdefault(msg.txid, set()).add(self.group_of(dst))
        elif name == "TxnVote" and msg.yes:
            if not _steps(log, "prepare", msg.txid, ci):
                raise Violation("a vote is a logged promise", f"{nid} voted yes on {msg.txid} (to {dst})"
                                f"{_at(now)} with no committed prepare entry for it in its log: after a leader "
                                f"change the group forgets the promise", now, (nid,))
        elif name == "Decision":
            self._logged_decision(nid, log, ci, msg.txid, msg.outcome, f"sent Decision {msg.outcome} to {dst}", now)
            self._say(msg.txid, msg.outcome, nid, f"Decision to {dst}", now)

    def answered(self, nid: str, request: Any, result: Any, log: Any, ci: int, now: float) -> None:
        """``nid`` answered the client's ``txn`` ``request`` with ``result`` (not a Redirect)."""
        outcome = ABORT if isinstance(result, Fail) else COMMIT
        txid = f"{request.client}.{request.seq}"
        shown = "Ok" if outcome == COMMIT else "Fail"
        self._logged_decision(nid, log, ci, txid, outcome, f"answered the client {shown}", now)
        self._say(txid, outcome, nid, f"answer {shown}", now)

    def committed(self, nid: str, log: Any, ci: int, now: float) -> None:
        """``nid``'s committed log (its first ``ci`` entries), seen after a step of a search: the first
        decision entry for a transaction is the same in every log that holds one, a shard finishes a
        commit after its prepare, and no two committed transactions held a key's lock at once."""
        g = self.group_of(nid)
        firsts: set[tuple[str, str]] = set()
        prepared: set[str] = set()
        for entry in log[:ci] if type(log) is tuple else ():
            c = getattr(entry, "command", None)
            if type(c).__name__ != "Step" or (c.kind, c.txid) in firsts:
                continue
            firsts.add((c.kind, c.txid))
            if c.kind == "prepare":
                prepared.add(c.txid)
            elif c.kind == "decision":
                first = self.decided.setdefault(c.txid, (c.value, nid))
                if first[0] != c.value:
                    raise Violation("a decision is final", f"{c.txid}: the first committed decision entry in "
                                    f"{first[1]}'s log is {first[0]}, in {nid}'s it is {c.value} -- a decision "
                                    f"once logged never changes (presumed abort only with no decision in the log)",
                                    now, (first[1], nid))
            elif c.kind == "finish":
                if c.value == COMMIT and c.txid not in prepared:
                    raise Violation("atomicity", f"shard {g} ({nid}) finished {c.txid} as a commit without a "
                                    f"prepare entry before it: it had no writes to install", now, (nid,))
                self.finished.setdefault((g, c.txid), (c.value, nid))
        problem = isolation_problem(g, log, ci, nid)
        if problem:
            raise Violation("isolation", problem, now, (nid,))

    def atomic(self, now: float) -> None:
        """Every shard finished every transaction as the coordinator decided it, in the logs seen so far
        (call it once every log of a state has gone through :meth:`committed`)."""
        for (fg, txid), (outcome, fnid) in self.finished.items():
            decided = self.decided.get(txid, (None, ""))
            if outcome == COMMIT and decided[0] != COMMIT or outcome == ABORT and decided[0] == COMMIT:
                how = "no committed decision entry" if decided[0] is None else f"{decided[0]} in {decided[1]}'s log"
                raise Violation("atomicity", f"shard {fg} ({fnid}) finished {txid} as {outcome}, but the "
                                f"coordinator's decision is {how}", now, (fnid,))

    def _say(self, txid: str, outcome: str, nid: str, how: str, now: float) -> None:
        first = self.said.setdefault(txid, (outcome, nid, how, now))
        if first[0] != outcome:
            raise Violation("a decision is final", f"{txid}: {first[1]} said {first[0]} ({first[2]})"
                            f"{_at(first[3])}, and {nid} says {outcome} ({how}) -- two leaders of the coordinator "
                            f"group acted on different outcomes", now, (first[1], nid))

    def _logged_decision(self, nid: str, log: Any, ci: int, txid: str, outcome: str, how: str, now: float) -> None:
        found = _steps(log, "decision", txid, ci)
        if not found or found[0][1] != outcome:
            got = ("its log holds no committed decision entry for it" if not found else
                   f"the first committed decision entry for it in its log is {found[0][1]}")
            raise Violation("act only on a logged decision", f"{nid} {how} for {txid}{_at(now)}, but "
                            f"{got}: the outcome is the first decision entry in the coordinator group's log, and a "
                            f"node acts on it only once it is applied (a new leader knows nothing else)", now,
                            (nid,))


def isolation_problem(g: int, log: Any, ci: int, nid: str) -> str | None:
    """Two committed transactions that held a key's lock at once, read off one committed log of shard
    ``g`` (``nid``'s first ``ci`` entries)."""
    prepared: dict[str, tuple[int, set]] = {}  # txid -> (index of its first prepare, its keys)
    finished: dict[str, tuple[int, Any]] = {}  # txid -> (index, outcome) of its first finish
    for i, entry in enumerate(log[:ci] if type(log) is tuple else (), start=1):
        c = getattr(entry, "command", None)
        if type(c).__name__ != "Step":
            continue
        if c.kind == "prepare" and c.txid not in prepared:
            try:
                keys = {k for k, _ in c.value[0]}
            except (TypeError, ValueError, IndexError):
                keys = set()
            prepared[c.txid] = (i, keys)
        elif c.kind == "finish" and c.txid not in finished:
            finished[c.txid] = (i, c.value)
    done = sorted((t for t in prepared if finished.get(t, (0, None))[1] == COMMIT), key=lambda t: prepared[t][0])
    for a in done:
        start, keys = prepared[a]
        end = finished[a][0]
        for b in done:
            shared = keys & prepared[b][1]
            if b != a and start < prepared[b][0] < end and shared:
                return (f"shard {g} ({nid}) prepared {b} while {a} held the lock on "
                        f"{sorted(shared, key=repr)[0]!r} (log entries {start}..{end}), and both committed: "
                        f"a prepare must lock its keys, and one that finds a key locked must vote no")
    return None


def history_problem(history: Any) -> tuple[str, str] | None:
    """``(rule, why)`` when the clients' history is not per-key linearizable or not strictly serializable
    (the ``txn-kv`` model: every transaction's writes take effect at one instant)."""
    from ...protocols._sharded_txn_analysis import per_key_operations, register_model

    # every key on its own first: quick, and it names the key when a read saw what never committed
    problem = linearizability_problem(per_key_operations(history), "kv", says="the clients' history is",
                                      more=" -- a read that saw uncommitted writes, or missed committed ones?")
    if problem:
        return "per-key linearizability", problem
    register_model()  # the whole store as one object, transactions atomic: the capstone's model
    problem = linearizability_problem(history, "txn-kv", says="the clients' history is",
                                      more=" -- a read that saw uncommitted writes, or a transaction torn "
                                      "between shards?")
    return None if problem is None else ("strict serializability", problem)


def _committed_of(store: Any, view: Any) -> tuple[Any, int]:
    """A node's durable log and the commit index it reports (0 when it reports none)."""
    ci = view.get("commit_index", 0) if type(view) is dict else 0
    return store.get("log", ()), ci if type(ci) is int else 0


class TxnJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        shards = int(self.options.get("shards", 2))
        size = len(self.nodes) // shards
        self.groups = tuple(tuple(self.nodes[g * size:(g + 1) * size]) for g in range(shards))
        self.rules = TxnRules(self.groups)

    def _committed(self, node) -> tuple[Any, int]:
        return _committed_of(self.store(node.id), node.hosted_view)

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        for eff in effects:
            if eff[0] == "send" and type(eff[2]).__name__ in RULED:
                self.rules.sent(node.id, eff[1], eff[2], *self._committed(node), now)
            elif eff[0] == "reply" and getattr(eff[1], "f", None) == "txn" and not isinstance(eff[2], Redirect):
                self.rules.answered(node.id, eff[1], eff[2], *self._committed(node), now)

    # --- at the end --------------------------------------------------------------------

    def _group_logs(self) -> list[tuple[Any, int, str]]:
        """Per group, the committed log of its member that knows the most (log, commit index, node)."""
        out = []
        for members in self.groups:
            best: tuple[Any, int, str] = ((), 0, members[0])
            for nid in members:
                node = self.sim.nodes.get(nid) if self.sim is not None else None
                if node is None:
                    continue
                log, ci = self._committed(node)
                if ci > best[1]:
                    best = (log, ci, nid)
            out.append(best)
        return out

    def _atomicity(self) -> str | None:
        logs = self._group_logs()
        for txid in sorted(self.rules.parts):
            outcome, where = None, ""
            for g, (log, ci, nid) in enumerate(logs):
                found = _steps(log, "decision", txid, ci)
                if found:
                    outcome, where = found[0][1], f"group {g} ({nid})"
                    break
            for g in sorted(self.rules.parts[txid]):
                log, ci, nid = logs[g]
                finish = _steps(log, "finish", txid, ci)
                first = finish[0] if finish else None
                if outcome == COMMIT:
                    prep = _steps(log, "prepare", txid, ci)
                    if first is None or first[1] != COMMIT:
                        how = "never finished it" if first is None else f"finished it as {first[1]}"
                        return (f"atomicity: {txid} is committed (decision in {where}) but shard {g} ({nid}) {how} "
                                f"by the end of the run, after every fault had healed -- is it blocked in doubt?")
                    if not prep or prep[0][0] > first[0]:
                        return (f"atomicity: shard {g} ({nid}) finished {txid} as a commit without a prepare entry "
                                f"before it: it had no writes to install")
                elif first is not None and first[1] == COMMIT:
                    return (f"atomicity: shard {g} ({nid}) committed {txid}, but the coordinator's decision is "
                            f"{outcome or 'missing'}")
        return None

    def _isolation(self) -> str | None:
        """Two committed transactions that held a key's lock at once, read off a group's committed log."""
        for g, (log, ci, nid) in enumerate(self._group_logs()):
            problem = isolation_problem(g, log, ci, nid)
            if problem:
                return f"isolation: {problem}"
        return None

    def final(self) -> str | None:
        assert self.sim is not None
        expect = self.params.get("expect", {})
        history = self.sim.history
        ok = sum(1 for op in history if op.type == "ok")
        if ok < int(expect.get("min_ok", 0)):
            return f"only {ok} operations succeeded; expected at least {expect['min_ok']}"
        commits = sum(1 for op in history if op.type == "ok" and op.f == "txn")
        if commits < int(expect.get("min_commits", 0)):
            return (f"only {commits} transactions committed; expected at least {expect['min_commits']} -- are "
                    f"lost Prepare messages re-sent while votes are missing?")
        problem = self._atomicity() or self._isolation()
        if problem:
            return problem
        for nid, v in sorted(self.live_views().items()):
            if v.get("in_doubt"):
                return (f"no blocking: at the end, after every fault had healed, {nid} still holds "
                        f"{', '.join(map(str, v['in_doubt']))} in doubt -- a participant must find out the outcome "
                        f"from the coordinator group (DecisionRequest), and a new coordinator leader must decide")
        across = sum(1 for op in history if op.type == "ok" and op.f == "txn"
                     and len({self._shard(k) for k, _ in op.value}) > 1)
        if across < int(expect.get("min_across", 0)):
            return f"only {across} transactions over two shards committed; expected at least {expect['min_across']}"
        problem = history_problem(history)
        return None if problem is None else f"{problem[0]}: {problem[1]}"

    def _shard(self, key: Any) -> int:
        import zlib

        return zlib.crc32(str(key).encode()) % len(self.groups)


class SearchRules(Invariant):
    """The judge's rules in a search check: every Prepare, TxnVote and Decision a node was seen to send
    and every answer to a ``txn`` (:meth:`Spec.observe`) goes through the same :class:`TxnRules`, with
    the sender's committed log right after that step, and so does every node's committed log (so the
    final checks' atomicity and isolation are judged in every state, as soon as a log shows them).
    Several groups' logs are judged, so this is not a :class:`~._judged_steps.JudgedSteps` (one node's
    storage)."""

    name = "the exercise's rules"

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.rules: TxnRules | None = None  # its groups come from the world's node ids
        self.judged: dict[str, int] = {}  # node -> how many of its acts were judged (0 again after a crash)

    def check(self, world: Any) -> str | None:
        if self.rules is None:
            self.rules = TxnRules(Layout.build(tuple(world.nodes), self.shards).groups)
        rules, now = self.rules, world.now
        try:
            for nid, node in world.nodes.items():
                if node is None:
                    if self.judged.get(nid):
                        self.judged = {**self.judged, nid: 0}
                    continue
                st = world.storage[nid]
                log, ci = _committed_of(dict(getattr(st, "_data", st)), node.view)
                rules.committed(nid, log, ci, now)
                acts = node.facts.get("acts", ())
                done = self.judged.get(nid, 0)
                for act in acts[done:]:
                    if act[0] == "send":
                        rules.sent(nid, act[1], act[2], log, ci, now)
                    else:
                        rules.answered(nid, act[1], act[2], log, ci, now)
                if len(acts) != done:
                    self.judged = {**self.judged, nid: len(acts)}
            rules.atomic(now)
            problem = judged_once(history_problem, world.history) if world.history else None
            if problem:
                raise Violation(problem[0], problem[1], now)
        except Violation as v:
            self.name = v.rule
            return v.message
        return None


class Spec(NodeSpec):
    id = "ex17"
    title = "capstone D: shards and transactions"
    notebook = "ex17_capstone_d_shards_txn.ipynb"
    judge_class = TxnJudge
    default_options = {"shards": 2}
    defaults = {
        "nodes": 6,
        "duration": 4.0,
        "quiet": 0.35,
        "workload": {"clients": 3, "keys": KEYS, "mix": MIX, "think": 0.05, "timeout": 0.4, "deadline": 3.0,
                     "stop": 3.0},
    }
    checks = (
        Check("transactions over two shards, no faults", 2, hint="Prepare at every group of the transaction; "
              "a group votes once its prepare entry is applied; commit with a yes from all, and act once the "
              "decision entry is applied.",
              params={"seeds": [1], "expect": {"min_ok": 20, "min_across": 3}}),
        Check("conflicting transactions", 2, hint="Applying a prepare locks its keys; a prepare that finds a key "
              "locked by another transaction votes no, and a read of a locked key answers Fail(\"locked\"): it "
              "must see neither the old value nor the new one while the outcome is unknown.",
              params={"seeds": [2, 3], "workload": {"clients": 5, "keys": ["a", "d"], "think": 0.02},
                      "expect": {"min_ok": 10, "min_across": 1}}),
        Check("leaders crash", 3, hint="A new leader knows only what is in the log: votes and decisions are "
              "logged before anyone acts on them, and a participant in doubt asks the coordinator group until "
              "it learns the outcome.",
              params={"seeds": [2, 7], "nemesis": "crash", "nemesis_interval": 0.3, "network": {"loss": 0.05},
                      "workload": {"timeout": 0.3, "deadline": 0.25}, "expect": {"min_ok": 10, "min_across": 1}}),
        Check("partitions and lost messages", 3, hint="Re-send Prepare while votes are missing, abort after "
              "VOTE_TIMEOUT, and answer a DecisionRequest with no decision in the log by logging an abort (only a "
              "coordinator leader that is not running the transaction).",
              params={"seeds": [6, 8], "nemesis": "partition", "nemesis_interval": 0.6, "network": {"loss": 0.2},
                      "expect": {"min_ok": 10, "min_across": 1, "min_commits": 6}}),
    )

    hints = {
        "a vote is a logged promise": "Vote only from apply: when the prepare entry is applied, the leader "
        "sends TxnVote -- a vote sent when the Prepare arrives is forgotten by the next leader.",
        "act only on a logged decision": "Propose the decision entry and answer the client and send Decision "
        "only once it is applied, with the first decision entry for the txid in the log (never a later one, "
        "never a volatile abort after VOTE_TIMEOUT).",
        "a decision is final": "The first decision entry for a txid in the coordinator group's log is the "
        "outcome: apply a later one as a no-op (decisions.setdefault), and presume abort only with no "
        "decision applied.",
        "atomicity": "A participant finishes a transaction only as the coordinator's Decision says, and only "
        "after its own prepare entry.",
        "isolation": "Applying a prepare locks its keys; a prepare that finds a key locked by another "
        "transaction votes no.",
        "per-key linearizability": "A read goes through the log and answers the applied state: Fail(\"locked\") "
        "for a key an in-doubt transaction holds, and the writes of every transaction finished as a commit.",
        "strict serializability": "A read of a key an in-doubt transaction holds answers Fail(\"locked\"); a "
        "transaction's writes are installed by the finish entries of every shard, and only as the decision says.",
    }

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """What a stepped node was seen to do, for :class:`SearchRules` (``facts["acts"]``): every
        Prepare, TxnVote and Decision it sent (``("send", to, message)``) and every answer to a ``txn``
        (``("answer", request, result)``), each once, in the order first seen."""
        return seen(facts, acts=[("send", e[1], e[2]) for e in effects
                                 if e[0] == "send" and type(e[2]).__name__ in RULED]
                    + [("answer", e[1], e[2]) for e in effects if e[0] == "reply"
                       and getattr(e[1], "f", None) == "txn" and not isinstance(e[2], Redirect)])

    def search_invariants(self) -> list:
        return [SearchRules(int(self.default_options["shards"]))]

    def validate_check(self, check: Check) -> None:
        super().validate_check(check)
        search = check.params.get("search")
        if isinstance(search, dict):
            shards = int(self.default_options["shards"])
            if int(dict(search.get("options", {})).get("shards", shards)) != shards:
                raise ValueError(f"check {check.name!r}: a search judges {shards} shard groups (the option "
                                 f"'shards' cannot change there)")
            nodes = int(search.get("nodes", 3))
            if nodes % shards or nodes // shards < 2:
                raise ValueError(f"check {check.name!r}: a search needs {shards} groups of at least two nodes "
                                 f"(nodes {2 * shards}, {3 * shards}, ...), not {nodes} nodes")


SPEC = Spec()
