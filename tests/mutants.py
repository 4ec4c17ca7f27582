"""Single-bug mutants of the reference answers: the measure of the checks.

Each mutant is one realistic mistake, written as text edits of the reference
answer cell in ``solutions/`` (every edit must apply).  Every one is a real
bug: it breaks a safety rule or what the brief asks in some schedule (the
``why`` says which).  The grader's checks -- visible and hidden
(``tests/data/hidden``) -- must take points from each one while the
reference keeps full marks; ``test_mutants.py`` holds them to that and
``python tests/mutants.py`` prints the mutation score per exercise.

Harmless edits (the reference with another, equally right spelling) live in
``HARMLESS``: they must keep full marks.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = ROOT / "tests" / "data" / "hidden"


@dataclass(frozen=True)
class Mutant:
    exercise: str
    name: str
    why: str
    edits: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        return f"{self.exercise}-{self.name}"


def M(exercise: str, name: str, why: str, *edits: tuple[str, str]) -> Mutant:
    return Mutant(exercise, name, why, tuple(edits))


MUTANTS: list[Mutant] = [
    # --- ex01: brute-force linearizability ------------------------------------------------
    M("ex01", "reads-unchecked", "any read may return anything",
      ('if op.f == "read" and op.status == "ok" and op.output != value:', "if False:")),
    M("ex01", "failed-ops-kept", "a failed write is placed as if it happened",
      ('ops = [op for op in pair_operations(history) if op.status != "fail"]', "ops = pair_operations(history)")),
    M("ex01", "no-real-time", "real-time order is ignored (sequential consistency, not linearizability)",
      ("return all(placed[j] or not ops[j].ret < ops[k].call for j in range(len(ops)))", "return True")),
    M("ex01", "writes-ignored", "a write does not change the register",
      ('if search(op.value if op.f == "write" else value):', "if search(value):")),
    M("ex01", "wrong-initial-value", "the register starts at 0, not None",
      ("return search(None)", "return search(0)")),
    M("ex01", "invocation-order", "operations are ordered by invocation, not by real-time precedence",
      ("not ops[j].ret < ops[k].call", "not ops[j].call < ops[k].call")),
    M("ex01", "no-backtracking", "the search never undoes a choice",
      ("            placed[k] = False\n", "")),
    # --- ex02: session guarantees ---------------------------------------------------------
    M("ex02", "mr-none-allowed", "a read of nothing after a read of something passes monotonic reads",
      ("op.output is None or op.output < seen", "op.output is None")),
    M("ex02", "ryw-writes-forgotten", "read-your-writes never remembers a write",
      ("last_write[op.key] = op.value", "pass")),
    M("ex02", "ryw-exact-value", "a newer value than the session's write counts as missing it",
      ("op.output < last_write[op.key]", "op.output != last_write[op.key]")),
    M("ex02", "mr-keys-mixed", "monotonic reads compares reads of different keys",
      ("seen = last_read.get(op.key)", "seen = last_read.get(0)"),
      ("last_read[op.key] = op.output", "last_read[0] = op.output")),
    M("ex02", "ryw-shared-sessions", "read-your-writes counts other sessions' writes",
      ("    for ops in sessions(history).values():\n        last_write = {}\n",
       "    last_write = {}\n    for ops in sessions(history).values():\n")),
    M("ex02", "failed-ops-count", "failed and indeterminate operations count as done",
      ('        if op.status == "ok":\n', '        if True:\n')),
    # --- ex03: consistent hashing ---------------------------------------------------------
    M("ex03", "pref-duplicates", "a preference list repeats a node (one per virtual node)",
      ("if node not in out:", "if True:")),
    M("ex03", "no-wrap-around", "keys past the last point go to the last point, not around the ring",
      ("i % len(self.points)", "min(i, len(self.points) - 1)")),
    M("ex03", "remove-keeps-points", "a removed node keeps its points on the ring",
      ("self.points = [p for p in self.points if p[1] != node]", "pass")),
    M("ex03", "one-vnode", "the virtual nodes are ignored: one point per node",
      ("for i in range(self.vnodes):", "for i in range(1):")),
    M("ex03", "pref-one-short", "a preference list stops one node short",
      ("if len(out) == n:", "if len(out) == max(1, n - 1):")),
    M("ex03", "owner-predecessor", "the owner is the point before the key, not after it",
      ("return self.points[self._first(key)][1]", "return self.points[self._first(key) - 1][1]")),
    # --- ex04: quorum replication ---------------------------------------------------------
    M("ex04", "no-read-repair", "a read answers before the newest version is on W replicas",
      ('if len(op["acks"]) >= self.w:\n                self.finish(ctx, msg.rid)\n                return',
       'if True:\n                self.finish(ctx, msg.rid)\n                return')),
    M("ex04", "older-write-wins", "a replica overwrites a newer version with an older one",
      ('if msg.version > ctx.storage.get("version", NO_VERSION):', "if True:")),
    M("ex04", "first-reply-wins", "a read returns the first reply, not the newest version",
      ('version, value = max(op["replies"].values(), key=lambda vv: vv[0])',
       'version, value = next(iter(op["replies"].values()))')),
    M("ex04", "read-quorum-short", "a read waits for R-1 replies",
      ('if len(op["replies"]) < self.r:', 'if len(op["replies"]) < self.r - 1:')),
    M("ex04", "write-quorum-short", "a write answers after W-1 acks",
      ('        op["acks"].add(src)\n        if len(op["acks"]) >= self.w:',
       '        op["acks"].add(src)\n        if len(op["acks"]) >= self.w - 1:')),
    M("ex04", "no-resend", "lost messages are never resent, so operations hang",
      ('        if op["phase"] == "query":\n            for n in self.cluster:',
       '        if op["phase"] == "query":\n            for n in ():'),
      ("        else:\n            for n in self.cluster:\n                if n not in op[\"acks\"]:",
       "        else:\n            for n in ():\n                if n not in op[\"acks\"]:")),
    # --- ex05: vector clocks and an OR-Set -----------------------------------------------
    M("ex05", "concurrent-is-before", "concurrent clocks are reported as ordered",
      ('return "concurrent"', 'return "before"')),
    M("ex05", "merge-drops-removes", "a merge forgets the other replica's removes",
      ("self.removed |= other.removed", "pass")),
    M("ex05", "merge-min", "merging clocks takes the minimum",
      ("max(a.get(n, 0), b.get(n, 0))", "min(a.get(n, 0), b.get(n, 0))")),
    M("ex05", "remove-deletes", "a remove deletes the adds instead of keeping tombstones (it comes back on merge)",
      ("self.removed |= {tag for e, tag in self.adds if e == element}",
       "self.adds -= {(e, tag) for e, tag in self.adds if e == element}")),
    M("ex05", "tag-reused", "an add reuses its tag, so a re-add after a remove stays removed",
      ("        self.counter += 1\n", "")),
    M("ex05", "equal-is-before", "equal clocks are reported as before",
      ('    if le and ge:\n        return "equal"\n', "")),
    # --- ex06: two-phase commit -----------------------------------------------------------
    M("ex06", "vote-before-log", "a yes vote is sent before 'prepared' is logged",
      ('ctx.storage[key] = state = "prepared"', 'state = "prepared"')),
    M("ex06", "revote-on-duplicate", "a duplicate Prepare after the decision overwrites 'commit' with 'prepared'",
      ("            state = ctx.storage.get(key)\n            if state is None:",
       "            state = ctx.storage.get(key)\n            if True:")),
    M("ex06", "no-inquire-handling", "the coordinator ignores Inquire: a participant prepared for a transaction "
      "the coordinator forgot stays in doubt forever",
      ("        elif isinstance(msg, Inquire):\n            logged", "        elif False:\n            logged")),
    M("ex06", "no-resend-after-restart", "a restarted coordinator does not re-send its logged decisions",
      ("            for key in sorted(ctx.storage):\n                if key.startswith(\"decision:\"):",
       "            for key in ():\n                if key.startswith(\"decision:\"):")),
    M("ex06", "no-inquire-no-resend", "both recovery paths missing",
      ("        elif isinstance(msg, Inquire):\n            logged", "        elif False:\n            logged"),
      ("            for key in sorted(ctx.storage):\n                if key.startswith(\"decision:\"):",
       "            for key in ():\n                if key.startswith(\"decision:\"):")),
    M("ex06", "timeout-commits", "a vote timeout commits instead of aborting",
      ('self.decide(ctx, payload, "abort")', 'self.decide(ctx, payload, "commit")')),
    M("ex06", "participant-decides-alone", "a prepared participant that hears nothing aborts on its own",
      ("            for txid in doubts:\n                ctx.send(self.coordinator, Inquire(txid))",
       "            for txid in doubts:\n                ctx.storage[f\"txn:{txid}\"] = \"abort\"")),
    M("ex06", "decision-unlogged", "the coordinator never logs its decision",
      ('        ctx.storage[f"decision:{txid}"] = outcome  # the commit point: logged before anyone hears of it\n',
       "")),
    M("ex06", "presumed-commit", "an Inquire about a transaction the coordinator forgot commits it",
      ('self.decide(ctx, msg.txid, "abort")  # presumed abort', 'self.decide(ctx, msg.txid, "commit")  # presumed')),
    M("ex06", "commit-on-first-yes", "the coordinator commits on the first yes vote",
      ("elif len(tx[\"votes\"]) == len(self.participants):", "elif True:")),
    # --- ex07: single-decree Paxos --------------------------------------------------------
    M("ex07", "own-value", "the proposer ignores values already accepted",
      ("value = best_value if best_ballot != NO_BALLOT else self.my_value", "value = self.my_value")),
    M("ex07", "promise-not-persisted", "a promise is not written to storage",
      ('                ctx.storage["promised"] = ballot\n                accepted_ballot',
       "                accepted_ballot")),
    M("ex07", "accept-ignores-promise", "an acceptor accepts a ballot lower than its promise",
      ("            if ballot >= promised:\n                ctx.storage[\"promised\"] = ballot\n"
       "                ctx.storage[\"accepted\"]",
       "            if True:\n                ctx.storage[\"promised\"] = ballot\n                ctx.storage[\"accepted\"]")),
    M("ex07", "acceptance-not-stored", "an acceptor keeps what it accepted only in memory, so its promises "
      "never report it",
      ('                ctx.storage["accepted"] = (ballot, msg.value)\n',
       '                self.accepted_here = (ballot, msg.value)\n')),
    M("ex07", "minority-chosen", "a value counts as chosen after a minority of Accepted",
      ("            if len(self.accepts) >= self.majority():", "            if len(self.accepts) >= 1:")),
    M("ex07", "prepare-lowers-promise", "an acceptor promises (and stores) a ballot lower than its promise",
      ("        if isinstance(msg, Prepare):  # acceptor, phase 1\n            if ballot >= promised:",
       "        if isinstance(msg, Prepare):  # acceptor, phase 1\n            if True:")),
    # --- ex08: Raft leader election -------------------------------------------------------
    M("ex08", "vote-twice", "a node grants every vote of the current term",
      ("grant = msg.term == self.current_term and self.voted_for in (None, msg.candidate)",
       "grant = msg.term == self.current_term")),
    M("ex08", "no-heartbeats", "the leader sends no heartbeats",
      ("            ctx.broadcast(self.peers, AppendEntries(self.current_term, self.id))\n"
       "            ctx.set_timer(\"heartbeat\", HEARTBEAT)\n        ### END",
       "            pass\n        ### END")),
    M("ex08", "vote-term-unchecked", "votes are counted without checking the reply's term",
      ('if self.role == "candidate" and msg.term == self.current_term and msg.granted:',
       'if self.role == "candidate" and msg.granted:')),
    M("ex08", "vote-not-persisted", "the vote is not written to storage",
      ('        ctx.storage["voted_for"] = self.voted_for\n', "")),
    M("ex08", "no-step-down", "a node does not adopt a higher term it sees",
      ("        if msg.term > self.current_term:\n            self.current_term = msg.term",
       "        if msg.term > self.current_term and False:\n            self.current_term = msg.term")),
    M("ex08", "state-not-restored", "a restarted node forgets its term and vote",
      ('        self.current_term = ctx.storage.get("current_term", 0)\n'
       '        self.voted_for = ctx.storage.get("voted_for", None)\n', "")),
    M("ex08", "heartbeat-no-reset", "a follower does not restart its election timer when the leader is heard",
      ('                    self.role = "follower"\n                self.reset_election_timer(ctx)\n',
       '                    self.role = "follower"\n')),
    # --- ex09: Raft log replication -------------------------------------------------------
    M("ex09", "commit-old-term", "the leader commits entries of earlier terms by counting replicas",
      ("if self.term_at(n) != self.current_term:", "if False:")),
    M("ex09", "reply-before-commit", "the client hears Ok before the entry is committed",
      ("        self.waiting[self.last_index()] = request", "        ctx.reply(request, Ok(self.last_index()))")),
    M("ex09", "conflicts-kept", "a follower keeps conflicting entries",
      ("if index <= self.last_index() and self.log[index - 1].term != entry.term:\n"
       "                del self.log[index - 1:]",
       "if False:\n                pass")),
    M("ex09", "commit-past-new", "a follower commits up to leader_commit even beyond the entries it checked",
      ("min(msg.leader_commit, last_new)", "msg.leader_commit")),
    M("ex09", "minority-commit", "the leader commits without counting a majority",
      ("            if votes >= self.majority():", "            if votes >= 1:")),
    M("ex09", "next-index-stuck", "after a refusal the leader retries the same prev_index, so a lagging "
      "follower never catches up",
      ("            self.next_index[src] = max(1, min(self.next_index[src] - 1, msg.match_index + 1))\n", "")),
    M("ex09", "log-not-persisted", "the follower does not persist appended entries",
      ("        if changed:\n            self.persist_log(ctx)\n", "")),
    # Needs three leaders (or a leader cut off and back) with interleaved partial replication, so
    # that a leader's prev_index lands on a follower's entry of another term: too rare for the seeded
    # checks; the hidden search check 'leaders cut off and back (search)' finds it in 8 steps.
    M("ex09", "no-consistency-check", "a follower appends without checking prev_index/prev_term",
      ("if msg.prev_index > self.last_index() or self.term_at(msg.prev_index) != msg.prev_term:",
       "if msg.prev_index > self.last_index():")),
    # ex00, ex10-ex13 (issue 18); their buggy answers are in tests/data/answers (tests/test_exercises_new.py)
    M("ex00", "no-dedup", "a duplicated or retried Gossip is delivered again",
      ("        if value in self.delivered:\n            return False\n", "")),
    M("ex00", "no-retry-after-restart", "a restarted node does not resume its retries",
      ("        if self.unacked:\n            ctx.set_timer(\"retry\", RETRY)\n        ### END", "        ### END")),
    M("ex00", "no-retry", "a lost Gossip is never sent again",
      ("            ctx.set_timer(\"retry\", RETRY)\n        ctx.reply(request, Ok())", "        ctx.reply(request, Ok())")),
    M("ex00", "delivered-not-stored", "delivered values live only in memory",
      ("        ctx.storage[\"delivered\"] = self.delivered\n", "")),
    M("ex00", "ack-first-copy-only", "a duplicate Gossip is not acknowledged, so its sender retries forever",
      ("            self.deliver(ctx, msg.value)\n            ctx.send(src, GossipAck(msg.value))",
       "            if self.deliver(ctx, msg.value):\n                ctx.send(src, GossipAck(msg.value))")),
    M("ex00", "retry-once", "the retry timer is not set again: a value lost twice is never repaired",
      ("                    ctx.send(peer, Gossip(value))\n            ctx.set_timer(\"retry\", RETRY)",
       "                    ctx.send(peer, Gossip(value))")),
    M("ex10", "majority-is-half", "n // 2 nodes counted as a majority",
      ("return p_at_least(n // 2 + 1, [[1.0 - p_up, p_up]] * n)", "return p_at_least(n // 2, [[1.0 - p_up, p_up]] * n)")),
    M("ex10", "rack-never-down", "a rack's own failure is left out", ("        dist[0] += p_rack_down\n", "")),
    M("ex10", "at-least-off-by-one", "needs one node more than a majority", ("return sum(total[need:])", "return sum(total[need + 1:])")),
    M("ex10", "no-retries", "2PC ignores participants that come back in time",
      ("return (p_up + (1.0 - p_up) * p_back) ** participants", "return p_up ** participants")),
    M("ex10", "majority-of-racks", "a majority of racks instead of nodes",
      ("return p_at_least(sum(rack_sizes) // 2 + 1, racks)", "return p_at_least(len(rack_sizes) // 2 + 1, racks)")),
    M("ex10", "rack-up-not-weighted", "the working-rack branch is not weighted by the rack being up",
      ("dist = [(1.0 - p_rack_down) * comb(size, k)", "dist = [comb(size, k)")),
    M("ex11", "no-fencing", "the storage accepts every token",
      ("verdict = msg.token >= ctx.storage.get(\"highest\", 0)", "verdict = True")),
    M("ex11", "highest-not-stored", "the highest token is never recorded",
      ("                    ctx.storage[\"highest\"] = msg.token\n", "")),
    M("ex11", "ok-when-refused", "the client answers Ok although the storage refused the write",
      ("Ok() if msg.accepted else Fail(\"stale token\")", "Ok()")),
    M("ex11", "no-verdict-memory", "a retried Write is judged again and may flip its verdict",
      ("verdict = ctx.storage.get(f\"write:{msg.value}\")", "verdict = None")),
    M("ex11", "read-returns-token", "a read answers the token instead of the value",
      ("None if data is None else data[1]", "None if data is None else data[0]")),
    M("ex12", "no-dedup", "a retried request runs again",
      ("if seen is not None and seen[0] >= command.seq:", "if False:")),
    M("ex12", "reply-at-propose", "the client hears Ok before the command is committed",
      ("            self.waiting[index] = request", "            ctx.reply(request, Ok(None))")),
    M("ex12", "dedup-table-not-updated", "the duplicate table is never filled",
      ("            self.last[command.client] = (command.seq, result)\n", "")),
    M("ex12", "append-is-put", "append overwrites the value",
      ("command.value if old is None else old + command.value", "command.value")),
    M("ex12", "answer-any-request", "the leader answers the waiting request even when another entry took its index",
      ("if request is not None and (request.client, request.seq) == (command.client, command.seq):",
       "if request is not None:")),
    M("ex13", "no-noop-wait", "a new leader serves reads before an entry of its term commits",
      ("        if self.term_at(self.commit_index) != self.current_term:\n            return  # no entry",
       "        if False:\n            return  # no entry")),
    M("ex13", "no-confirmation", "the leader serves reads without a majority confirming its round",
      ("if rnd <= self.confirmed and self.last_applied >= read_index:", "if self.last_applied >= read_index:")),
    M("ex13", "reads-in-the-log", "gets are proposed like writes",
      ("        elif request.f == \"get\":\n", "        elif False:\n")),
    M("ex13", "no-dedup", "a retried write runs again", ("if seen is None or seen[0] < command.seq:", "if True:")),
    M("ex13", "old-round-confirms", "any confirmed round serves a read, even one sent before the read arrived",
      ("if rnd <= self.confirmed and self.last_applied >= read_index:",
       "if self.confirmed and self.last_applied >= read_index:")),
    # ex14 (lesson 01: safe retries) and ex15 (lesson 09: the explorer), issue 18
    M("ex14", "gateway-in-rid", "the request id names the gateway: a client's retry at another gateway is applied again",
      ('rid = f"{request.client}:{request.seq}"', 'rid = f"{self.id}:{request.client}:{request.seq}"')),
    M("ex14", "never-gives-up", "the gateway retries Apply forever and never cancels",
      ('if not op["cancel"] and ctx.now - op["since"] >= GIVE_UP:', "if False:")),
    M("ex14", "fail-without-asking", "the gateway answers Fail the moment it gives up, before the store's verdict",
      ('            op["cancel"] = True\n', '            op["cancel"] = True\n            ctx.reply(op["request"], Fail("timeout"))\n')),
    M("ex14", "ok-on-any-outcome", "the gateway answers Ok whatever the store decided",
      ('Ok() if msg.applied else Fail("cancelled")', "Ok()")),
    M("ex14", "cancel-not-recorded", "the store answers a Cancel but does not record it: a late Apply is applied",
      ("                ctx.storage[key] = verdict\n", "                if verdict:\n                    ctx.storage[key] = verdict\n")),
    M("ex14", "no-dedup", "the store applies every Apply it receives", ("verdict = ctx.storage.get(key)", "verdict = None")),
    M("ex14", "no-retry", "a lost Apply or Cancel is never sent again",
      ('        ctx.set_timer(f"retry {rid}", RETRY, rid)\n', "")),
    M("ex15", "dfs", "a stack instead of a queue: depth-first, not the shortest counterexample, states missed at the bound",
      ("state, distance = frontier.popleft()", "state, distance = frontier.pop()")),
    M("ex15", "expand-at-bound", "the states at the bound are expanded: violations and states one step too far",
      ("if distance == depth:", "if distance > depth:")),
    M("ex15", "initial-not-counted", "the initial state is left out of the count", ("return None, len(parent)\n", "return None, len(parent) - 1\n")),
    M("ex15", "initial-unchecked", "a bad initial state is not reported",
      ("    if model.violation(start) is not None:\n        return [], 1\n", "")),
    M("ex15", "path-to-parent", "the schedule stops one step short of the bad state",
      ("return path_to(parent, nxt), len(parent)", "return path_to(parent, state), len(parent)")),
    M("ex15", "path-not-reversed", "the schedule is returned backwards", ("return path[::-1]", "return path")),
    M("ex15", "bound-unchecked", "a bad state exactly at the bound is not checked",
      ("if model.violation(nxt) is not None:", "if model.violation(nxt) is not None and distance + 1 < depth:")),
    M("ex16", "no-dedup-in-snapshot", "the snapshot leaves the duplicate table out: a node rebuilt from it runs "
      "a retry again", ("tuple(sorted(self.last.items()))", "()")),
    M("ex16", "stale-install", "a late or duplicated InstallSnapshot rolls the state back",
      ("        if snapshot.index <= self.last_applied:\n            return", "        pass")),
    M("ex16", "never-compacts", "the log grows without bound",
      ("if index - self.snapshot.index >= SNAPSHOT_EVERY:", "if False:")),
    M("ex16", "snapshot-before-apply", "the snapshot at index i holds the state after entry i - 1",
      ("        request = self.waiting.pop(index, None)\n",
       "        request = self.waiting.pop(index, None)\n        if index - self.snapshot.index >= SNAPSHOT_EVERY:\n"
       "            self.compact(ctx, index, (tuple(sorted(self.data.items())), tuple(sorted(self.last.items()))))\n"),
      ("if index - self.snapshot.index >= SNAPSHOT_EVERY:\n            # the", "if False:\n            # the")),
    M("ex16", "install-no-restore", "an installed snapshot is stored but the service keeps its old state",
      ("        self.restore(snapshot.state)\n        self.commit_index", "        self.commit_index")),
    M("ex16", "install-no-last-applied", "after an install, Raft applies entries the snapshot already covers",
      ("        self.last_applied = snapshot.index\n", "")),
    M("ex16", "start-empty", "a restarted node ignores its snapshot and rebuilds from the log after it only",
      ("self.restore(self.snapshot.state)  # None", "self.restore(None)  # None")),
    M("ex16", "compact-at-commit", "the snapshot claims the commit index, past what was applied",
      ("self.compact(ctx, index,", "self.compact(ctx, self.commit_index,")),
    M("ex16", "install-not-stored", "an installed snapshot is not stored: after a restart the log is read from "
      "the wrong index", ("        ctx.storage[\"snapshot\"] = snapshot\n", "")),
    M("ex16", "install-log-not-stored", "after an install the old log stays on disk behind the new snapshot",
      ("        ctx.storage[\"log\"] = self.log\n", "")),
    M("ex16", "no-dedup", "a retried request runs again",
      ("if seen is not None and seen[0] >= command.seq:", "if False:")),
    M("ex16", "install-drops-log", "an install drops the log entries after the snapshot even when they match: "
      "entries this follower acknowledged to the leader are gone from its disk",
      ("if snapshot.index <= self.last_index() and self.term_at(snapshot.index) == snapshot.term:", "if False:")),
    M("ex17", 'decision-not-logged', 'the coordinator answers the client and sends Decision as soon as the votes are in, before the decision entry is applied',
      ('            if not msg.yes:\n                rec["deciding"] = True\n                self.step(ctx, "decision", msg.txid, ABORT)\n            elif all(rec["votes"].get(g) for g, _ in rec["parts"]):\n                rec["deciding"] = True\n                self.step(ctx, "decision", msg.txid, COMMIT)',
       '            if not msg.yes or all(rec["votes"].get(g) for g, _ in rec["parts"]):\n                outcome = COMMIT if msg.yes else ABORT\n                self.step(ctx, "decision", msg.txid, outcome)\n                del self.running[msg.txid]\n                ctx.reply(rec["request"], Ok() if outcome == COMMIT else Fail("aborted"))\n                for g, _ in rec["parts"]:\n                    self.send_group(ctx, g, Decision(msg.txid, outcome))')),
    M("ex17", 'no-locks', 'a prepare locks nothing: two transactions on the same keys both prepare, and shards install them in different orders',
      ('                    for k, _ in writes:\n                        self.locks[k] = txid\n',
       '')),
    M("ex17", 'vote-before-logged', 'a participant leader votes as soon as the Prepare arrives, before the prepare entry is applied',
      ('                self.asker[msg.txid] = src\n                self.step(ctx, "prepare", msg.txid, (msg.writes, msg.coordinator))',
       '                self.step(ctx, "prepare", msg.txid, (msg.writes, msg.coordinator))\n                free = all(self.locks.get(k, msg.txid) == msg.txid for k, _ in msg.writes)\n                ctx.send(src, TxnVote(msg.txid, self.group, free))')),
    M("ex17", 'read-ignores-locks', 'a read of a key held by an in-doubt transaction answers the old value',
      ('result = Fail("locked") if holder is not None else Ok(',
       'result = Ok(')),
    M("ex17", 'no-presumed-abort', 'a new coordinator leader with no decision leaves the in-doubt participants waiting forever',
      ('                self.step(ctx, "decision", msg.txid, ABORT)  # presumed abort, through the log',
       '                pass')),
    M("ex17", 'never-ask', 'a participant in doubt never asks the coordinator group: a lost Decision blocks it',
      ('            self.send_group(ctx, coordinator, DecisionRequest(txid, self.group))',
       '            pass')),
    M("ex17", 'last-decision-wins', 'a later decision entry overrides the first one',
      ('            self.decisions.setdefault(txid, command.value)',
       '            self.decisions[txid] = command.value')),
    M("ex17", 'no-resend-prepare', 'a lost Prepare is never sent again: the transaction times out and aborts',
      ('                        self.send_group(ctx, g, Prepare(txid, writes, self.group))',
       '                        pass')),
    M("ex17", 'abort-on-timeout-only-volatile', 'a coordinator that times out aborts without logging the decision',
      ('            if ctx.now >= rec["deadline"]:\n                rec["deciding"] = True\n                self.step(ctx, "decision", txid, ABORT)',
       '            if ctx.now >= rec["deadline"]:\n                del self.running[txid]\n                ctx.reply(rec["request"], Fail("aborted"))\n                for g, _ in rec["parts"]:\n                    self.send_group(ctx, g, Decision(txid, ABORT))')),
    M("ex17", 'finish-not-installed', 'a commit installs nothing (an abort installs the writes)',
      ('                if command.value == COMMIT:\n                    self.data[k] = v',
       '                if command.value == ABORT:\n                    self.data[k] = v')),
]

# Real bugs the checks do not kill yet (reported as survivors in the score, not asserted):
# they need a schedule too rare for the time a submission may take.
HARD: list[Mutant] = []

HARMLESS: list[Mutant] = [
    M("ex03", "bisect-tiebreak", "another tie-break for a key that hashes onto a point",
      ('(stable_hash(key), "")', '(stable_hash(key), "~")')),
    M("ex04", "rewrite-version", "a replica rewrites its version (no change)",
      ("            ctx.send(src, WriteAck(msg.rid, msg.version))",
       "            ctx.send(src, WriteAck(msg.rid, msg.version))\n"
       "            ctx.storage['version'] = ctx.storage.get('version', NO_VERSION)")),
]


def source(exercise: str, edits: tuple[tuple[str, str], ...] = ()) -> str:
    """The reference answer cell of ``exercise`` with ``edits`` applied (each must apply once)."""
    from consensus_lab.grading import registry
    from consensus_lab.grading.extract import answer_source, read_notebook

    spec = registry.get(exercise)
    src = answer_source(read_notebook(ROOT / "solutions" / spec.notebook), spec.id)
    for old, new in edits:
        if src.count(old) != 1:
            raise ValueError(f"{exercise}: the edit {old[:60]!r} matches {src.count(old)} times")
        src = src.replace(old, new)
    return src


def answers(exercise: str, edits: tuple[tuple[str, str], ...] = ()) -> dict:
    from consensus_lab.grading import registry

    spec = registry.get(exercise)
    scope: dict = {}
    exec(spec.module.PREAMBLE + "\n" + source(exercise, edits), scope)  # noqa: S102 - our own reference
    return {n: scope[n] for n in spec.interface}


def grade(exercise: str, edits: tuple[tuple[str, str], ...] = (), *, stop_at_loss: bool = False):
    """Grade in this process (the same check code the sandboxed grader runs), visible + hidden.

    Returns (points, max_points, results).  ``stop_at_loss`` stops at the first check that
    loses points (enough to know a mutant is killed)."""
    from consensus_lab.grading import registry
    from consensus_lab.grading.hosting import LocalHost

    spec = registry.get(exercise)
    checks = list(spec.visible_checks()) + registry.load_hidden(HIDDEN).get(spec.id, [])
    host = LocalHost(spec.id, answers(exercise, edits))
    results = []
    for c in checks:
        r = spec.run_check(c, host)
        results.append(r)
        if stop_at_loss and r.points < r.max_points:
            break
    return sum(r.points for r in results), sum(c.points for c in checks), results


def score(mutants: list[Mutant] = MUTANTS, out=sys.stdout) -> dict[str, tuple[int, int]]:
    """Grade every mutant; print one line each and the score per exercise."""
    table: dict[str, tuple[int, int]] = {}
    for m in mutants:
        start = time.process_time()
        points, most, results = grade(m.exercise, m.edits)
        lost = [f"{r.name} ({r.points}/{r.max_points})" for r in results if r.points < r.max_points]
        killed = points < most
        k, n = table.get(m.exercise, (0, 0))
        table[m.exercise] = (k + killed, n + 1)
        print(f"{'killed ' if killed else 'SURVIVED'} {m.id:34} {points:2}/{most} "
              f"{time.process_time() - start:5.2f}s  {'; '.join(lost)}", file=out)
    print("mutation score: " + ", ".join(f"{ex} {k}/{n}" for ex, (k, n) in sorted(table.items())), file=out)
    return table


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    chosen = [m for m in MUTANTS + HARD if not sys.argv[1:] or m.exercise in sys.argv[1:] or m.id in sys.argv[1:]]
    score(chosen)
