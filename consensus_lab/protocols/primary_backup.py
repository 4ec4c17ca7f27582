"""Primary-backup replication with synchronous replication and failover.

One node, the *primary*, orders every operation; the others, the *backups*,
apply the same operations in the same order (Alsberg and Day 1976; Budhiraja
et al., "The primary-backup approach", 1993).  The primary answers a client
only when every backup of the current *view* has the operation
(synchronous replication), so whichever backup takes over has seen every
acknowledged write.

Views.  Time is cut into numbered views; the primary of view ``v`` is
``cluster[v mod N]``, so no view can ever have two primaries.  The members of
a view are the nodes the primary waits for.

* Every member must acknowledge each log entry before the primary answers.
  A member that stops answering is dropped from the view -- but only while a
  majority of the cluster remains a member; below that the primary waits
  (unavailable rather than unsafe).  A dropped or restarted node hears the
  primary's heartbeat and asks to *join*; it gets the whole state and becomes a
  member again.
* A backup that hears no heartbeat for a while starts a view change: it picks
  the next view it would lead and asks everybody to move there.  A node
  accepts a higher view only once, and sends its state.  With a majority of
  acceptances the new primary adopts the most advanced state among them and
  installs it on the members.  Because members are always a majority and so
  are acceptances, the two sets meet: the new primary has every write the old
  one acknowledged.  (Requiring a majority here is what separates this from
  naive failover; it is the same idea as a Paxos ballot, and the course
  returns to it in lessons 06 and 07.)
* Reads also go through the log, so a primary that was replaced without
  knowing it cannot answer them from a stale copy.

Retries are recognised: the replicated state remembers each client's last
operation, so a write retried after a timeout is applied once.

Variants (broken twins):

``async``        acknowledge a write as soon as the primary has it and send it to
                 the backups in the background (asynchronous replication, as
                 many databases do by default): a failover loses acknowledged
                 writes.
``local-reads``  the primary answers reads from its own copy at once: a primary
                 cut off by a partition keeps serving stale reads after another
                 node has taken over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..sim import Context, Fail, Node, Ok, ProtocolSpec, Redirect, Workload, World, invariant
from ._writelog import record_version

__all__ = [
    "Replicate",
    "ReplicateAck",
    "Heartbeat",
    "Join",
    "ViewChange",
    "ViewAccept",
    "ViewReject",
    "NewView",
    "PrimaryBackupNode",
    "SPECS",
]

TICK = 0.05
HEARTBEAT = 0.1
SUSPECT = 0.35  # plus a random share of the same again: how long without a heartbeat
MEMBER_TIMEOUT = 0.3  # a member this far behind is dropped (if a majority remains)
CANDIDATE_TIMEOUT = 0.3

Position = tuple[int, int]  # (view, sequence number in that view)


# --- messages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replicate:
    """Primary -> member: log entry ``seq`` of ``view``; ``op`` is
    ``(f, key, value, client, client_seq)``."""

    view: int
    seq: int
    op: tuple


@dataclass(frozen=True, slots=True)
class ReplicateAck:
    view: int
    seq: int  # the member has every entry up to here


@dataclass(frozen=True, slots=True)
class Heartbeat:
    view: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Join:
    """A node outside the view asks the primary to let it in."""

    view: int


@dataclass(frozen=True, slots=True)
class ViewChange:
    """"Move to view ``view`` (I will lead it) and send me your state"."""

    view: int


@dataclass(frozen=True, slots=True)
class ViewAccept:
    view: int
    last: Position
    data: tuple
    dedup: tuple


@dataclass(frozen=True, slots=True)
class ViewReject:
    """"I am already in view ``view``": the sender is behind."""

    view: int


@dataclass(frozen=True, slots=True)
class NewView:
    """The primary's state, installed by a member of ``view``."""

    view: int
    members: tuple[str, ...]
    last: Position
    data: tuple
    dedup: tuple


# --- the node -------------------------------------------------------------------------------


class PrimaryBackupNode(Node):
    def __init__(self, node_id: str, cluster: tuple[str, ...], variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.variant = variant
        self.majority = len(cluster) // 2 + 1
        # durable (rebuilt in on_start)
        self.view = 0
        self.members: tuple[str, ...] = tuple(cluster)
        self.last: Position = (0, 0)
        self.data: dict[str, Any] = {}
        self.dedup: dict[str, int] = {}
        # volatile
        self.role = "backup"
        self.installed = False  # has this node installed the state of self.view?
        self.last_heard = 0.0
        self.suspect_after = SUSPECT
        self.log: list[tuple] = []  # primary: entries of this view, log[i] has seq i + 1
        self.committed = 0  # primary: entries answered so far
        self.acked: dict[str, int] = {}  # primary: member -> highest seq acknowledged
        self.lagging_since: dict[str, float] = {}
        self.waiting: dict[int, Any] = {}  # primary: seq -> client request to answer at commit
        self.queue: list[Any] = []  # candidate: requests held until the view is decided
        self.accepts: dict[str, tuple] = {}  # candidate: acceptor -> (last, data, dedup)
        self.candidate_since = 0.0
        self.joiners: list[str] = []
        self.next_heartbeat = 0.0

    # --- durable state ---------------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        st = ctx.storage
        self.view = st.get("view", 0)
        self.members = st.get("members", tuple(self.cluster))
        self.last = st.get("last", (0, 0))
        self.data = dict(st.get("data", ()))
        self.dedup = dict(st.get("dedup", ()))
        booted = st.get("booted", False)
        st["booted"] = True
        self.suspect_after = SUSPECT * (1 + ctx.rng.random())
        self.last_heard = ctx.now
        if not booted and self.view == 0 and self.primary_of(0) == self.id:
            self._become_primary(ctx, self.members)  # the initial view needs no election
        else:
            self.role = "backup"
            self.installed = not booted  # at first boot every node holds the (empty) view-0 state
        ctx.set_timer("tick", TICK)

    def _persist_state(self, ctx: Context) -> None:
        ctx.storage["last"] = self.last
        ctx.storage["data"] = tuple(sorted(self.data.items()))
        ctx.storage["dedup"] = tuple(sorted(self.dedup.items()))

    def _persist_view(self, ctx: Context) -> None:
        ctx.storage["view"] = self.view
        ctx.storage["members"] = self.members

    def primary_of(self, view: int) -> str:
        return self.cluster[view % len(self.cluster)]

    # --- read-only views for invariants and pictures -------------------------------------------

    @property
    def is_primary(self) -> bool:
        return self.role == "primary"

    def state(self) -> tuple:
        return tuple(sorted(self.data.items()))

    def state_view(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "view": self.view,
            "members": list(self.members) if self.role == "primary" else None,
            "last": list(self.last),
            "data": dict(sorted(self.data.items())),
        }

    # --- clients -------------------------------------------------------------------------------

    def on_client_request(self, ctx: Context, request: Any) -> None:
        if request.f not in ("read", "get", "write", "put"):
            ctx.reply(request, Fail(f"primary-backup has no operation {request.f!r}"))
            return
        if self.role == "candidate":
            self.queue.append(request)
            return
        if self.role != "primary":
            ctx.reply(request, Redirect(self.primary_of(self.view)))
            return
        self._submit(ctx, request)

    def _submit(self, ctx: Context, request: Any) -> None:
        is_read = request.f in ("read", "get")
        if not is_read:
            if self.dedup.get(request.client, 0) >= request.seq:
                ctx.reply(request, Ok())  # a retry of a write that is already applied
                return
            for seq, waiting in self.waiting.items():
                if waiting.client == request.client and waiting.seq == request.seq:
                    self.waiting[seq] = request  # a retry of one in flight: answer it at commit
                    return
        if is_read and self.variant == "local-reads":
            ctx.reply(request, Ok(self.data.get(request.key)))
            return
        seq = len(self.log) + 1
        entry = (request.f, request.key, request.value, request.client, request.seq)
        self.log.append(entry)
        for m in self.members:
            if m != self.id:
                ctx.send(m, Replicate(self.view, seq, entry))
                self.lagging_since.setdefault(m, ctx.now)
        if self.variant == "async":
            self._commit_through(ctx, seq, request)
        else:
            self.waiting[seq] = request
            self._try_commit(ctx)

    # --- the primary's log ----------------------------------------------------------------------

    def _try_commit(self, ctx: Context) -> None:
        others = [m for m in self.members if m != self.id]
        upto = min((self.acked.get(m, 0) for m in others), default=len(self.log))
        if upto > self.committed:
            self._commit_through(ctx, upto)
        if self.committed == len(self.log) and self.joiners:
            self._admit_joiners(ctx)

    def _commit_through(self, ctx: Context, upto: int, request: Any = None) -> None:
        for seq in range(self.committed + 1, upto + 1):
            f, key, value, client, cseq = self.log[seq - 1]
            result = None
            if f in ("read", "get"):
                result = self.data.get(key)
            else:
                self.data[key] = value
                self.dedup[client] = max(self.dedup.get(client, 0), cseq)
                record_version(ctx, key, value, (self.view, seq))
            self.last = (self.view, seq)
            req = self.waiting.pop(seq, None) or (request if seq == upto else None)
            if req is not None:
                ctx.reply(req, Ok(result))
        self.committed = upto
        self._persist_state(ctx)

    def _become_primary(self, ctx: Context, members: tuple[str, ...]) -> None:
        self.role = "primary"
        self.installed = True
        self.members = tuple(sorted(members))
        self.last = (self.view, 0)
        self.log, self.committed = [], 0
        self.acked = {m: 0 for m in self.members if m != self.id}
        self.lagging_since = {}
        self.waiting = {}
        self.joiners = []
        self._persist_view(ctx)
        self._persist_state(ctx)
        msg = NewView(self.view, self.members, self.last, self.state(), tuple(sorted(self.dedup.items())))
        for m in self.members:
            if m != self.id:
                ctx.send(m, msg)
        self.next_heartbeat = ctx.now
        queued, self.queue = self.queue, []
        for req in queued:
            self._submit(ctx, req)

    def _admit_joiners(self, ctx: Context) -> None:
        joiners, self.joiners = self.joiners, []
        self.members = tuple(sorted(set(self.members) | set(joiners)))
        self._persist_view(ctx)
        msg = NewView(self.view, self.members, self.last, self.state(), tuple(sorted(self.dedup.items())))
        for j in joiners:
            self.acked[j] = self.committed
            ctx.send(j, msg)

    def _step_down(self, ctx: Context, view: int) -> None:
        """A higher view exists: stop leading or campaigning; clients ask again elsewhere."""
        if self.role == "primary":
            for seq in sorted(self.waiting):
                req = self.waiting[seq]
                if req.f in ("read", "get"):
                    ctx.reply(req, Fail("the primary was replaced; the read was not served"))
                # a pending write may survive in the next view: no answer (indeterminate)
            self.waiting = {}
        for req in self.queue:
            ctx.reply(req, Redirect(self.primary_of(view)))
        self.queue = []
        self.role = "backup"
        self.log, self.committed, self.acked, self.joiners = [], 0, {}, []
        self.accepts = {}
        if view > self.view:
            self.view = view
            self.installed = False
            self._persist_view(ctx)
        self.last_heard = ctx.now

    # --- messages ----------------------------------------------------------------------------------

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        t = type(msg)
        if t is Replicate:
            self._on_replicate(ctx, src, msg)
        elif t is ReplicateAck:
            if self.role == "primary" and msg.view == self.view and src in self.acked:
                if msg.seq > self.acked[src]:
                    self.acked[src] = msg.seq
                    if msg.seq >= len(self.log):
                        self.lagging_since.pop(src, None)
                    else:
                        self.lagging_since[src] = ctx.now
                    self._try_commit(ctx)
        elif t is Heartbeat:
            self._on_heartbeat(ctx, src, msg)
        elif t is Join:
            if self.role != "primary" or msg.view != self.view:
                return
            if src in self.members:
                self._send_state(ctx, src)  # a member that missed the view's state
            elif src not in self.joiners:
                self.joiners.append(src)
                if self.committed == len(self.log):
                    self._admit_joiners(ctx)
        elif t is ViewChange:
            self._on_view_change(ctx, src, msg)
        elif t is ViewAccept:
            if self.role == "candidate" and msg.view == self.view:
                self.accepts[src] = (msg.last, msg.data, msg.dedup)
                if len(self.accepts) >= self.majority:
                    self._win(ctx)
        elif t is ViewReject:
            if msg.view > self.view:
                self._step_down(ctx, msg.view)
        elif t is NewView:
            self._on_new_view(ctx, src, msg)

    def _on_replicate(self, ctx: Context, src: str, msg: Replicate) -> None:
        if msg.view > self.view:
            self._step_down(ctx, msg.view)  # a view this node missed: wait for its NewView
            return
        if msg.view < self.view:
            ctx.send(src, ViewReject(self.view))
            return
        if not self.installed or self.role == "primary":
            return
        self.last_heard = ctx.now
        view, seq = self.last
        if view == msg.view and msg.seq == seq + 1:
            f, key, value, client, cseq = msg.op
            if f not in ("read", "get"):
                self.data[key] = value
                self.dedup[client] = max(self.dedup.get(client, 0), cseq)
                record_version(ctx, key, value, (view, msg.seq))
            self.last = (view, msg.seq)
            self._persist_state(ctx)
        if self.last[0] == msg.view:
            ctx.send(src, ReplicateAck(msg.view, self.last[1]))

    def _on_heartbeat(self, ctx: Context, src: str, msg: Heartbeat) -> None:
        if msg.view < self.view:
            ctx.send(src, ViewReject(self.view))
            return
        if msg.view > self.view or (self.role == "candidate" and msg.view == self.view):
            self._step_down(ctx, msg.view)
        if self.role == "primary":
            return
        self.last_heard = ctx.now
        if self.id not in msg.members or not self.installed:
            ctx.send(src, Join(msg.view))

    def _on_view_change(self, ctx: Context, src: str, msg: ViewChange) -> None:
        if msg.view > self.view:
            self._step_down(ctx, msg.view)
        elif msg.view < self.view or self.primary_of(msg.view) != src:
            ctx.send(src, ViewReject(self.view))
            return
        self.last_heard = ctx.now
        ctx.send(src, ViewAccept(msg.view, self.last, self.state(), tuple(sorted(self.dedup.items()))))

    def _win(self, ctx: Context) -> None:
        """A majority accepted: adopt the most advanced state and lead the view."""
        best = max(self.accepts.values(), key=lambda a: a[0])
        last, data, dedup = best
        self.data, self.dedup = dict(data), dict(dedup)
        members = tuple(self.accepts)
        self.accepts = {}
        self._become_primary(ctx, members)

    def _on_new_view(self, ctx: Context, src: str, msg: NewView) -> None:
        if msg.view < self.view:
            ctx.send(src, ViewReject(self.view))
            return
        if msg.view > self.view:
            self._step_down(ctx, msg.view)
        if self.role == "primary":
            return
        if self.installed and self.last >= msg.last and self.last[0] == msg.view:
            ctx.send(src, ReplicateAck(msg.view, self.last[1]))
            return
        self.role = "backup"
        self.installed = True
        self.members = msg.members
        self.last = msg.last
        self.data, self.dedup = dict(msg.data), dict(msg.dedup)
        self.last_heard = ctx.now
        self._persist_view(ctx)
        self._persist_state(ctx)
        ctx.send(src, ReplicateAck(msg.view, self.last[1]))

    # --- timers ----------------------------------------------------------------------------------

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name != "tick":
            return
        ctx.set_timer("tick", TICK)
        now = ctx.now
        if self.role == "primary":
            if now >= self.next_heartbeat:
                self.next_heartbeat = now + HEARTBEAT
                for p in self.peers:
                    ctx.send(p, Heartbeat(self.view, self.members))
            self._resend(ctx)
            self._drop_silent_members(ctx)
        elif self.role == "candidate":
            if now - self.candidate_since > CANDIDATE_TIMEOUT:
                self._step_down(ctx, self.view)
                self.suspect_after = SUSPECT * (1 + ctx.rng.random())
        elif now - self.last_heard > self.suspect_after:
            self._campaign(ctx)

    def _resend(self, ctx: Context) -> None:
        """Send lagging members what they miss; after a while, the whole state."""
        for m, acked in sorted(self.acked.items()):
            since = self.lagging_since.get(m)
            if acked >= len(self.log) or since is None:
                continue
            if ctx.now - since > 2 * TICK or acked < self.committed:
                self._send_state(ctx, m)
            else:
                for seq in range(acked + 1, len(self.log) + 1):
                    ctx.send(m, Replicate(self.view, seq, self.log[seq - 1]))

    def _send_state(self, ctx: Context, member: str) -> None:
        """State transfer: the committed state, then the entries not yet committed."""
        ctx.send(member, NewView(self.view, self.members, self.last, self.state(), tuple(sorted(self.dedup.items()))))
        for seq in range(self.committed + 1, len(self.log) + 1):
            ctx.send(member, Replicate(self.view, seq, self.log[seq - 1]))

    def _drop_silent_members(self, ctx: Context) -> None:
        others = [m for m in self.members if m != self.id]
        for m in sorted(others):
            since = self.lagging_since.get(m)
            if since is None or ctx.now - since < MEMBER_TIMEOUT:
                continue
            if len(self.members) - 1 < self.majority:
                continue  # keep a majority: wait (unavailable) rather than risk a lost write
            self.members = tuple(x for x in self.members if x != m)
            self.acked.pop(m, None)
            self.lagging_since.pop(m, None)
            self._persist_view(ctx)
        self._try_commit(ctx)

    def _campaign(self, ctx: Context) -> None:
        n = len(self.cluster)
        mine = self.cluster.index(self.id)
        view = self.view + 1
        while view % n != mine:
            view += 1
        self._step_down(ctx, view)
        self.role = "candidate"
        self.candidate_since = ctx.now
        self.accepts = {self.id: (self.last, self.state(), tuple(sorted(self.dedup.items())))}
        for p in self.peers:
            ctx.send(p, ViewChange(view))
        if len(self.accepts) >= self.majority:
            self._win(ctx)


# --- invariants ------------------------------------------------------------------------------


def _invariants(options: Mapping[str, Any], variant: str) -> list:
    @invariant("one primary per view")
    def one_primary(world: World) -> str | None:
        seen: dict[int, str] = {}
        for node in world.live():
            if node.is_primary:
                other = seen.get(node.view)
                if other is not None:
                    return f"{other} and {node.id} are both primary of view {node.view}"
                seen[node.view] = node.id
        return None

    @invariant("members are a majority")
    def majority(world: World) -> str | None:
        for node in world.live():
            if node.is_primary and len(node.members) < node.majority:
                return f"primary {node.id} of view {node.view} waits for only {list(node.members)}"
        return None

    return [one_primary, majority]


SPECS = [
    ProtocolSpec(
        name="primary-backup",
        summary="primary-backup: synchronous replication to every member of the view, majority-approved failover",
        make_node=lambda nid, cluster, options, variant: PrimaryBackupNode(nid, cluster, variant),
        variants={
            "correct": "answer only when every member has the entry; a new view needs a majority",
            "async": "acknowledge writes before the backups have them: a failover loses acknowledged writes",
            "local-reads": "the primary answers reads from its own copy: a deposed primary serves stale reads",
        },
        invariants=_invariants,
        workload=Workload(clients=3, keys=("x", "y"), mix=(("read", 0.5), ("write", 0.5)), think=0.05),
        default_nodes=3,
        min_nodes=1,
        history_model="register",
        replica_state=lambda node: node.state(),
    )
]
