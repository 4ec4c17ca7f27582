"""The challenge strip at the top of a lab: goal, prediction, hints, and the banner.

A lab that carries a challenge builds one :class:`ChallengeBox` and calls
:meth:`ChallengeBox.after_action` after every action; the box asks the
challenge's predicate and shows the "solved" banner the moment it holds.
The **Check** button asks too, and counts a failure (each failure unlocks the
next hint).  The prediction's answer is shown only once the student has acted
and either solved the challenge or used up the hints.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..challenges.core import Challenge, Progress

__all__ = ["ChallengeBox"]

_GREEN, _AMBER, _GREY = "#2e7d32", "#e65100", "#666666"


def _esc(v: Any) -> str:
    return html.escape(str(v))


class ChallengeBox:
    """The widgets of one challenge in one lab."""

    def __init__(self, challenge: Challenge, lab: Any) -> None:
        self.challenge = challenge
        self.progress = Progress(challenge)
        self._lab = lab
        self.w_goal = W.HTML(
            f'<div style="font-size:14px"><b>Challenge {_esc(challenge.id)}: {_esc(challenge.title)}</b></div>'
            f'<div style="font-size:13px">{_esc(challenge.goal)}</div>')
        self.w_goal.add_class("cl-goal")
        p = challenge.prediction
        parts: list[Any] = [self.w_goal]
        self.w_predict: W.RadioButtons | None = None
        if p is not None:
            self.w_predict = W.RadioButtons(options=[(c, i) for i, c in enumerate(p.choices)], value=None,
                                            layout=W.Layout(width="auto"))
            self.w_predict.add_class("cl-predict")
            self.w_predict.observe(self._guessed, names="value")
            parts += [W.HTML(f'<div style="font-size:12.5px"><b>Predict first:</b> {_esc(p.question)}</div>'),
                      self.w_predict]
        self.w_check = W.Button(description="Check", tooltip="does the lab show what the challenge asks? "
                                "(each miss unlocks a hint)", button_style="", layout=W.Layout(width="auto"))
        self.w_check.add_class("cl-btn-check")
        self.w_check.on_click(lambda _b: self.check())
        self.w_feedback = W.HTML()
        self.w_feedback.add_class("cl-feedback")
        self.w_hints = W.HTML()
        self.w_hints.add_class("cl-hints")
        self.w_banner = W.HTML()
        self.w_banner.add_class("cl-banner")
        parts += [W.HBox([self.w_check, self.w_feedback], layout=W.Layout(align_items="center")),
                  self.w_hints, self.w_banner]
        self.widget = W.VBox(parts, layout=W.Layout(border="2px solid #90caf9", padding="4px 10px",
                                                    margin="0 0 6px 0"))
        self.widget.add_class("cl-challenge")
        self._render()

    @property
    def solved(self) -> bool:
        return self.progress.solved

    def _guessed(self, change: dict) -> None:
        if change["new"] is not None:
            self.progress.predict(change["new"])
            self._render()

    def predict(self, choice: int) -> None:
        """Choose a prediction from Python (as clicking the choice does)."""
        if self.w_predict is None:
            raise ValueError("this challenge asks no prediction")
        self.w_predict.value = choice

    def after_action(self) -> None:
        """The lab acted: check quietly (no hint is spent)."""
        self.progress.acted = True
        if not self.progress.solved:
            self.progress.update(self._lab)
        self._render()

    def check(self) -> bool:
        """The Check button: check and, when it does not hold yet, unlock the next hint."""
        if not self.progress.solved:
            self.progress.update(self._lab, attempt=True)
        self._render(checked=True)
        return self.progress.solved

    def _render(self, checked: bool = False) -> None:
        pr, ch = self.progress, self.challenge
        if pr.solved:
            self.w_feedback.value = ""
        elif checked:
            why = f": {_esc(pr.detail)}" if pr.detail else ""
            self.w_feedback.value = f'<span style="color:{_AMBER};font-size:12.5px">not yet{why}</span>'
        self.w_hints.value = "".join(
            f'<div style="font-size:12.5px;color:#333">hint {i + 1}: {_esc(h)}</div>' for i, h in enumerate(pr.hints))
        if pr.hints and len(pr.hints) < len(ch.hints) and not pr.solved:
            self.w_hints.value += (f'<div style="font-size:11.5px;color:{_GREY}">{len(ch.hints) - len(pr.hints)} more '
                                   "hint(s): Check again</div>")
        reveal = ""
        p = ch.prediction
        if p is not None and pr.acted and pr.revealed:
            guess = pr.guess
            if guess is None:
                verdict = "you did not predict"
            elif guess == p.answer:
                verdict = "your prediction was right"
            else:
                verdict = f"you predicted “{_esc(p.choices[guess])}”"
            reveal = (f'<div style="font-size:12.5px;margin-top:2px"><b>Prediction:</b> the answer is '
                      f"“{_esc(p.choices[p.answer])}” ({verdict}). {_esc(p.why)}</div>")
        if pr.solved:
            self.w_banner.value = (f'<div class="cl-solved" style="background:#e8f5e9;border-left:5px solid {_GREEN};'
                                   f'padding:4px 8px;font-size:13px"><b style="color:{_GREEN}">✔ Solved.</b> '
                                   f"{_esc(ch.demonstrated)}{(' ' + _esc(pr.detail)) if pr.detail else ''}</div>"
                                   + reveal)
            self.w_check.disabled = True
        else:
            self.w_banner.value = reveal


class ChallengeHost:
    """What every lab that can carry a challenge shares (mix it in; call ``_attach_challenge``)."""

    challenge_box: ChallengeBox | None = None
    widget: Any

    def _attach_challenge(self, challenge: Challenge | None) -> None:
        if challenge is None:
            self.challenge_box = None
            return
        self.challenge_box = ChallengeBox(challenge, self)
        self.widget.children = (self.challenge_box.widget, *self.widget.children)

    def _challenge_after_action(self) -> None:
        if self.challenge_box is not None:
            self.challenge_box.after_action()

    def _plain_challenge(self) -> str:
        """The challenge as text, for where the widget cannot show (a rendered page, nbval)."""
        return (self.challenge_box.challenge.describe() + "\n") if self.challenge_box is not None else ""

    @property
    def challenge(self) -> Challenge | None:
        return self.challenge_box.challenge if self.challenge_box is not None else None

    @property
    def solved(self) -> bool:
        """Has the lab's challenge been solved (False without a challenge)?"""
        return self.challenge_box is not None and self.challenge_box.solved

    def check(self) -> bool:
        """Press the challenge's Check button."""
        if self.challenge_box is None:
            raise ValueError("this lab carries no challenge")
        return self.challenge_box.check()

    def predict(self, choice: int) -> Any:
        """Answer the challenge's prediction question with choice number ``choice``."""
        if self.challenge_box is None:
            raise ValueError("this lab carries no challenge")
        self.challenge_box.predict(choice)
        return self
