"""Reading histories from files: our JSON, Jepsen EDN, Jepsen logs and history.txt.

Four formats, all turned into a list of :class:`~consensus_lab.history.Op`
events in real-time order:

``json``
    our own format (:func:`consensus_lab.history.history_to_json`): an object
    with an ``events`` list, a bare list, or JSON Lines (one event a line).
    Events of ``"process": "nemesis"`` are skipped.
``jepsen-edn``
    Jepsen's EDN histories, one map per event such as
    ``{:process 3, :type :invoke, :f :get, :key "9", :value nil}``, either one
    map a line or a single vector of maps (Porcupine's ``cNN-*.txt``); also
    Knossos's tuple histories, ``[process type f value]`` vectors such as
    ``[0 :invoke :read nil]``, one a line or all in one vector.
``jepsen-log``
    the lines Jepsen's logger prints for client operations, old style
    ``INFO  jepsen.util - 3	:invoke	:cas	[3 0]`` (Porcupine's ``etcd_NNN.log``)
    and modern ``... INFO [jepsen worker 0] jepsen.util: 0 :invoke :write 1``.
    A raw ``jepsen.log`` may hold set-up and tear-down lines between the
    operations: any line that is not an operation is skipped.
``history-txt``
    Jepsen's ``history.txt``: one event a line, tab-separated
    ``process  :type  :f  value  [error]``.

Every value is frozen (:func:`consensus_lab.history.freeze`): EDN maps and
JSON objects become hashable maps, lists tuples.  A UTF-8 byte-order mark is
ignored.  Nemesis events are skipped; a file with nothing but nemesis events is
a history with zero client operations, while a file with no events at all is an
error.  Each event's ``time`` is the line it came from, so real-time order is
file order.  A malformed file raises :class:`HistoryFormatError`, which names
the file and the line of the first bad record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus_lab.history import OP_TYPES, Op, freeze, pair_operations

from ._edn import EDNError, read_forms

__all__ = [
    "FORMATS",
    "HistoryFormatError",
    "ParsedHistory",
    "detect_format",
    "history_from_text",
    "load_history",
    "parse_history",
]

FORMATS = ("json", "jepsen-edn", "jepsen-log", "history-txt")


class HistoryFormatError(ValueError):
    """A history file that cannot be read: ``file:line: message``."""

    def __init__(self, file: str | Path, line: int, msg: str) -> None:
        self.file = str(file)
        self.line = line
        self.msg = msg
        super().__init__(f"{self.file}:{line}: {msg}")


@dataclass
class ParsedHistory:
    """Events read from a file, with the line each came from."""

    events: list[Op]
    lines: list[int]
    format: str
    skipped: int = 0  #: records that are not client operations (nemesis events)


def detect_format(text: str, filename: str | Path = "") -> str:
    """Guess the format from the content, then from the file extension."""
    head = text[:4000].lstrip("\ufeff")
    if _LOG_LINE.search(text[:200_000]):
        return "jepsen-log"
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    if _TXT_LINE.match(first):
        return "history-txt"
    if _TUPLE_START.match(head):
        return "jepsen-edn"
    start = re.sub(r"(\s|;[^\n]*)+", "", head).lstrip("[")
    if start.startswith(("{:", ":")):
        return "jepsen-edn"
    if start.startswith(('{"', '"', "]")):
        return "json"
    suffix = Path(filename).suffix.lower()
    return {".json": "json", ".jsonl": "json", ".edn": "jepsen-edn", ".log": "jepsen-log"}.get(
        suffix, "jepsen-edn" if suffix == ".txt" else "json"
    )


def load_history(path: str | Path, format: str | None = None) -> list[Op]:
    """Read a history file (format detected when ``format`` is ``None``)."""
    return read_history_file(path, format).events


def read_history_file(path: str | Path, format: str | None = None) -> ParsedHistory:
    """Like :func:`load_history`, keeping the line number of each event."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryFormatError(path, 0, "no such file") from None
    except IsADirectoryError:
        raise HistoryFormatError(path, 0, "is a directory, not a history file") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise HistoryFormatError(path, line, "not a text file (invalid UTF-8)") from None
    except OSError as exc:
        raise HistoryFormatError(path, 0, exc.strerror or str(exc)) from None
    return parse_history(text, format, filename=path)


def parse_history(text: str, format: str | None = None, *, filename: str | Path = "<string>") -> ParsedHistory:
    """Parse ``text`` in ``format`` (detected when ``None``) and check that
    invocations and completions pair up."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark
    fmt = format or detect_format(text, filename)
    if fmt not in FORMATS:
        raise ValueError(f"unknown history format {fmt!r}; choose one of {', '.join(FORMATS)}")
    reader = {"json": _read_json, "jepsen-edn": _read_edn, "jepsen-log": _read_log,
              "history-txt": _read_txt}[fmt]
    events, lines, skipped = reader(text, filename)
    if not events and not skipped:
        raise HistoryFormatError(filename, 1, f"no operations found (read as {fmt})")
    _check_pairing(events, lines, filename)
    return ParsedHistory(events, lines, fmt, skipped)


def _check_pairing(events: list[Op], lines: list[int], filename: str | Path) -> None:
    try:
        pair_operations(events)
    except ValueError as exc:
        m = re.match(r"event (\d+): (.*)", str(exc))
        if not m:
            raise HistoryFormatError(filename, 0, str(exc)) from None
        raise HistoryFormatError(filename, lines[int(m.group(1))], m.group(2)) from None
    # a completion must name the same operation as its invocation
    open_f: dict[int, str] = {}
    for ev, line in zip(events, lines, strict=True):
        if ev.type == "invoke":
            open_f[ev.process] = ev.f
        elif open_f.get(ev.process) != ev.f:
            raise HistoryFormatError(
                filename, line, f"process {ev.process} completes {ev.f!r} but invoked {open_f.get(ev.process)!r}"
            )


def history_from_text(text: str) -> list[Op]:
    """A history written by hand, one event a line: ``process type f [value [key]]``.

    Values are EDN: ``nil``, ``3``, ``"x"``, ``[1 2]`` (a tuple), ``#{1 2}`` (a
    set); ``;`` starts a comment.  Events are in real-time order::

        history_from_text('''
            0 invoke write 1
            1 invoke read  nil
            0 ok     write 1
            1 ok     read  1
        ''')
    """
    events, lines = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            forms = [v for _, v in read_forms(line)]
        except EDNError as exc:
            raise HistoryFormatError("<text>", lineno, exc.msg) from None
        if not forms:
            continue
        if len(forms) < 3 or len(forms) > 5 or not isinstance(forms[0], int):
            raise HistoryFormatError("<text>", lineno, "expected: process type f [value [key]]")
        process, type_, f = forms[:3]
        if type_ not in OP_TYPES:
            raise HistoryFormatError("<text>", lineno, f"type {type_!r} is not one of {', '.join(OP_TYPES)}")
        value = forms[3] if len(forms) > 3 else None
        key = forms[4] if len(forms) > 4 else None
        events.append(Op(process, str(type_), str(f), key, value, float(len(events))))
        lines.append(lineno)
    _check_pairing(events, lines, "<text>")
    return events


# --- our JSON ---------------------------------------------------------------

_EVENTS_KEY = re.compile(r'"events"\s*:\s*\[')


Records = tuple[list[Op], list[int], int]  # events, their lines, skipped records


def _read_json(text: str, filename: str | Path) -> Records:
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    raw: list[tuple[int, Any]] = []
    if stripped.startswith("[") or (stripped.startswith("{") and _EVENTS_KEY.search(text)):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise HistoryFormatError(filename, exc.lineno, f"bad JSON: {exc.msg}") from None
        m = _EVENTS_KEY.search(text) if stripped.startswith("{") else None
        pos = m.end() if m else text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            obj, end = decoder.raw_decode(text, pos)
            raw.append((text.count("\n", 0, pos) + 1, obj))
            pos = end
    else:  # JSON Lines
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise HistoryFormatError(filename, lineno, f"bad JSON: {exc.msg}") from None
    events, lines, skipped = [], [], 0
    for lineno, obj in raw:
        if not isinstance(obj, dict):
            raise HistoryFormatError(filename, lineno, f"an event must be a JSON object, got {obj!r:.40}")
        if obj.get("process") in _NEMESIS:
            skipped += 1
            continue
        events.append(_event(obj, filename, lineno))
        lines.append(lineno)
    return events, lines, skipped


_NEMESIS = ("nemesis", ":nemesis")


def _event(d: dict[str, Any], filename: str | Path, lineno: int) -> Op:
    for name in ("process", "type", "f"):
        if name not in d:
            raise HistoryFormatError(filename, lineno, f"event has no {name!r}")
    if d["type"] not in OP_TYPES:
        raise HistoryFormatError(filename, lineno, f"type {d['type']!r} is not one of {', '.join(OP_TYPES)}")
    try:
        return Op.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise HistoryFormatError(filename, lineno, f"bad event: {exc}") from None


# --- Jepsen EDN -------------------------------------------------------------

# a Knossos tuple event: [process type f value]
_TUPLE_START = re.compile(r"\s*(?:;[^\n]*\s*)*\[+\s*(?:-?\d+|:nemesis|nil)[\s,]+:(?:invoke|ok|fail|info)\b")
_TUPLE_LINE = re.compile(r"\s*\[\s*(?:-?\d+|:nemesis|nil)[\s,]")


def _is_tuple_event(form: Any) -> bool:
    return isinstance(form, tuple) and 3 <= len(form) <= 5 and form[1] in OP_TYPES


def _read_edn(text: str, filename: str | Path) -> Records:
    lines = text.splitlines()
    if all(not ln.strip() or ln.lstrip().startswith(("{", ";")) or _TUPLE_LINE.match(ln) for ln in lines):
        # one event a line (the common case): read lines one by one, so that a
        # broken line is reported as itself and not as an unclosed brace
        chunks = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip()]
    else:
        chunks = [(1, text)]
    events, where, skipped = [], [], 0
    first = 1
    try:
        for first, chunk in chunks:
            for lineno, form in read_forms(chunk):
                lineno += first - 1
                records = [form] if isinstance(form, dict) or _is_tuple_event(form) else None
                if records is None and isinstance(form, tuple) and all(
                    isinstance(x, dict) or _is_tuple_event(x) for x in form
                ):
                    records = list(form)  # a whole history as one vector
                if records is None:
                    raise HistoryFormatError(
                        filename, lineno,
                        f"expected a map such as {{:process 0, :type :invoke ...}} or a vector "
                        f"[process type f value], got {form!r:.40}",
                    )
                for record in records:
                    op = _edn_event(record, filename, lineno)
                    if op is None:
                        skipped += 1
                    else:
                        events.append(op)
                        where.append(lineno)
    except EDNError as exc:
        raise HistoryFormatError(filename, exc.line + first - 1, f"bad EDN: {exc.msg}") from None
    return events, where, skipped


def _edn_event(m: Any, filename: str | Path, lineno: int) -> Op | None:
    if isinstance(m, tuple):  # Knossos: [process type f value]
        m = dict(zip(("process", "type", "f", "value", "key"), m, strict=False))
    for name in ("process", "type", "f"):
        if name not in m:
            raise HistoryFormatError(filename, lineno, f"event has no :{name}")
    process = m["process"]
    if process == "nemesis":
        return None  # fault injection, not a client operation
    if isinstance(process, bool) or not isinstance(process, int):
        raise HistoryFormatError(filename, lineno, f":process must be an integer, got {process!r}")
    if m["type"] not in OP_TYPES:
        raise HistoryFormatError(filename, lineno, f":type {m['type']!r} is not one of {', '.join(OP_TYPES)}")
    t = m.get("time", lineno)
    return Op(process, m["type"], str(m["f"]), m.get("key"), m.get("value"),
              float(t) if isinstance(t, int | float) else float(lineno))


# --- Jepsen text log and history.txt ---------------------------------------------

# old "INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]", modern "... jepsen.util: 0 :invoke :write 1"
_LOG_LINE = re.compile(r"jepsen\.util(?: -|:)\s+(\S+)\s+:(\S+)\s+:?(\S+)(?:\s+(.*?))?\s*$", re.MULTILINE)
# history.txt: "0\t:invoke\t:read\tnil" (process, type, f, value, optional error)
_TXT_LINE = re.compile(r"(-?\d+|:nemesis)\t:(\w+)\t")


def _read_log(text: str, filename: str | Path) -> Records:
    found: list[tuple[int, str, str, str, str | None]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _LOG_LINE.search(line)
        if m is not None:
            found.append((lineno, *m.groups()))
    if not found and text.strip():
        first = next(n for n, ln in enumerate(text.splitlines(), 1) if ln.strip())
        raise HistoryFormatError(
            filename, first,
            "not a Jepsen log line ('INFO  jepsen.util - <process> :<type> :<f> <value>')",
        )
    return _text_events(found, filename)


def _read_txt(text: str, filename: str | Path) -> Records:
    found: list[tuple[int, str, str, str, str | None]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 3 or not fields[1].startswith(":"):
            raise HistoryFormatError(
                filename, lineno, "not a history.txt line ('<process>\\t:<type>\\t:<f>\\t<value>')"
            )
        found.append((lineno, fields[0], fields[1][1:], fields[2].lstrip(":"),
                      fields[3] if len(fields) > 3 else None))
    return _text_events(found, filename)


def _text_events(found: list[tuple[int, str, str, str, str | None]], filename: str | Path) -> Records:
    """Events from ``(line, process, type, f, value text)`` records; the value
    text is EDN, and anything after its first form (an error) is ignored."""
    events, lines, skipped = [], [], 0
    for lineno, process, type_, f, value_text in found:
        if process in _NEMESIS:
            skipped += 1
            continue
        if not process.lstrip("-").isdigit():
            raise HistoryFormatError(filename, lineno, f"process must be an integer, got {process!r}")
        if type_ not in OP_TYPES:
            raise HistoryFormatError(filename, lineno, f"type :{type_} is not one of {', '.join(OP_TYPES)}")
        value: Any = None
        if value_text and value_text.strip():
            try:
                forms = list(read_forms(value_text))
            except EDNError as exc:
                raise HistoryFormatError(filename, lineno, f"bad value {value_text!r}: {exc.msg}") from None
            if not forms:
                raise HistoryFormatError(filename, lineno, f"bad value {value_text!r}")
            value = forms[0][1]
        if type_ in ("fail", "info") and isinstance(value, str):
            value = None  # ":timed-out" and friends: an outcome, not a value
        events.append(Op(int(process), type_, f, None, freeze(value), float(lineno)))
        lines.append(lineno)
    return events, lines, skipped
