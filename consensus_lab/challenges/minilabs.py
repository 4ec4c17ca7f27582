"""Challenges played in the small labs of lessons 02, 04, 08, 09 and 10."""

from __future__ import annotations

from .core import Challenge

__all__ = ["CHALLENGES"]

CHALLENGES: list[Challenge] = []
