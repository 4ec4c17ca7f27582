"""What a challenge is, and how far a student got with one (no widgets here).

A :class:`Challenge` is data plus two functions: ``make(challenge=...)``
builds the lab it is played in, and ``check(lab)`` says whether the lab's
state shows what the challenge asks for.  ``script`` is a list of lab actions
(method name and arguments, as the lab's buttons would do them) that solves it,
so a test proves every challenge solvable and an empty script proves that
doing nothing does not count.

:class:`Progress` is one student's attempt: the prediction they chose, the
failed checks (each unlocks the next hint), and the moment it was solved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Challenge", "Prediction", "Progress", "Verdict", "run_script"]

#: one lab action: ("crash", "n1") calls lab.crash("n1"); a dict as last item gives keywords
Action = tuple[Any, ...]


@dataclass(frozen=True)
class Prediction:
    """A question asked before the student acts; the answer is shown only after they have acted."""

    question: str
    choices: tuple[str, ...]
    answer: int
    why: str

    def __post_init__(self) -> None:
        if not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer {self.answer} is not one of the {len(self.choices)} choices")


@dataclass(frozen=True)
class Verdict:
    """What ``check`` found: solved or not, and a sentence saying why (shown to the student)."""

    solved: bool
    detail: str = ""


@dataclass(frozen=True)
class Challenge:
    """A goal in a lab.  ``id`` is ``"LL-some-name"`` where LL is the lesson number."""

    id: str
    title: str
    goal: str
    make: Callable[..., Any] = field(repr=False)
    check: Callable[[Any], Verdict | bool] = field(repr=False)
    script: tuple[Action, ...] = ()
    demonstrated: str = ""
    hints: tuple[str, ...] = ()
    prediction: Prediction | None = None

    @property
    def lesson(self) -> str:
        return self.id[:2]

    def describe(self) -> str:
        """The challenge as plain text: what to do, and the prediction asked first (not its answer)."""
        out = [f"Challenge {self.id}: {self.title}", self.goal]
        if self.prediction is not None:
            p = self.prediction
            out.append(f"Predict first: {p.question} " + " / ".join(f"({i + 1}) {c}" for i, c in enumerate(p.choices)))
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        text = f"**Challenge {self.id}: {self.title}**  \n{self.goal}"
        if self.prediction is not None:
            p = self.prediction
            text += f"\n\n*Predict first:* {p.question}\n" + "".join(f"\n{i + 1}. {c}" for i, c in enumerate(p.choices))
        return text

    def lab(self) -> Any:
        """A fresh lab showing this challenge."""
        return self.make(challenge=self)

    def evaluate(self, lab: Any) -> Verdict:
        """Ask the predicate; a bool becomes a Verdict without detail."""
        v = self.check(lab)
        return v if isinstance(v, Verdict) else Verdict(bool(v))

    def solve(self, lab: Any | None = None) -> Any:
        """Play the script in ``lab`` (a fresh one by default) and return the lab."""
        lab = self.lab() if lab is None else lab
        run_script(lab, self.script)
        return lab


def run_script(lab: Any, script: Sequence[Action]) -> None:
    """Do each action of ``script`` with the lab's methods (as a student's clicks would)."""
    for action in script:
        name, *args = action
        kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
        method = getattr(lab, name, None)
        if not callable(method):
            raise ValueError(f"{type(lab).__name__} has no action {name!r}")
        method(*args, **kwargs)


class Progress:
    """One student's attempt at one challenge."""

    def __init__(self, challenge: Challenge) -> None:
        self.challenge = challenge
        self.failed = 0
        self.acted = False
        self.solved = False
        self.detail = ""
        self.guess: int | None = None
        #: what a predicate noticed on the way, for a challenge that spans several runs (a Reset starts a
        #: new run, the attempt goes on)
        self.notes: dict[str, Any] = {}

    def predict(self, choice: int) -> None:
        p = self.challenge.prediction
        if p is None:
            raise ValueError("this challenge asks no prediction")
        if not 0 <= choice < len(p.choices):
            raise ValueError(f"choose 0..{len(p.choices) - 1}, not {choice}")
        if self.guess is None:  # the first guess counts
            self.guess = choice

    def update(self, lab: Any, *, attempt: bool = False) -> Verdict:
        """Check the lab after an action; ``attempt`` (the Check button) counts a failure."""
        v = self.challenge.evaluate(lab)
        if v.solved:
            self.solved = True
        elif attempt:
            self.failed += 1
        self.detail = v.detail
        return v

    @property
    def hints(self) -> tuple[str, ...]:
        """The hints unlocked so far: one per failed check."""
        return self.challenge.hints[: self.failed]

    @property
    def revealed(self) -> bool:
        """The prediction's answer shows once solved, or after every hint is out and one more try."""
        return self.solved or self.failed > len(self.challenge.hints)
