"""Explicit state machines: one transition table that the code executes and the README draws.

A machine keeps its state in one enum. Its behaviour is a tuple of :class:`Transition` rows
``(state, event, guard) -> (next state, effect)``: for an event, the first row of the current
state and that event whose guard holds is taken; the state becomes its ``next`` and then its
effect runs (the effect never sets the state: what happens next is the table's to say). An
event without a row in the current state changes nothing. :meth:`TransitionTable.mermaid`
draws the table for the package README, where a test keeps the diagram current.

This is the pattern of the UML / SCXML state machine (guarded transitions, effects run on the
transition), without hierarchy: states that share behaviour share generated rows.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)
E = TypeVar("E", bound=enum.Enum)
M = TypeVar("M")


def _always(machine: object) -> bool:
    return True


def _nothing(machine: object) -> None:
    return None


@dataclass(frozen=True)
class Transition(Generic[S, E, M]):
    """``(state, event)`` -> ``next`` when ``guard(machine)`` holds; then ``effect(machine)``."""

    state: S
    event: E
    next: S
    effect: Callable[[M], Any] = field(default=_nothing)
    guard: Callable[[M], bool] = field(default=_always)
    #: The guard in words, for the diagram ('' = always).
    when: str = ""


class TransitionTable(Generic[S, E, M]):
    """The rows of a machine, indexed by ``(state, event)`` in their order."""

    def __init__(self, transitions: Iterable[Transition[S, E, M]], initial: S) -> None:
        """Index ``transitions``; ``initial`` is the state a new machine starts in."""
        self.transitions: tuple[Transition[S, E, M], ...] = tuple(transitions)
        self.initial = initial
        self._index: dict[tuple[S, E], list[Transition[S, E, M]]] = {}
        for t in self.transitions:
            self._index.setdefault((t.state, t.event), []).append(t)

    def select(self, machine: M, state: S, event: E) -> Transition[S, E, M] | None:
        """The first row of ``(state, event)`` whose guard holds for ``machine``, or None."""
        for t in self._index.get((state, event), ()):
            if t.guard(machine):
                return t
        return None

    def events_of(self, state: S) -> set[E]:
        """The events that have at least one row in ``state``."""
        return {e for s, e in self._index if s == state}

    def mermaid(self, finals: Iterable[S] = (), groups: Mapping[str, Sequence[S]] | None = None
                ) -> str:
        """The table as a Mermaid state diagram (rows in table order).

        ``groups`` names sets of states: a row that every state of a group has (same event,
        next state and guard) is drawn once, from a node of the group's name, with a note that
        lists its states.
        """
        groups = dict(groups or {})
        keys = {(t.state, t.event, t.next, t.when) for t in self.transitions}
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial.value}"]
        drawn: set[tuple[str, E, S, str]] = set()
        for t in self.transitions:
            label = t.event.value + (f" [{t.when}]" if t.when else "")
            source = t.state.value
            for name, members in groups.items():
                if t.state in members and all((m, t.event, t.next, t.when) in keys
                                              for m in members):
                    source = name
                    break
            key = (source, t.event, t.next, t.when)
            if key not in drawn:
                drawn.add(key)
                lines.append(f"    {source} --> {t.next.value}: {label}")
        lines += [f"    {s.value} --> [*]" for s in finals]
        lines += [f"    note right of {name}: any of {', '.join(s.value for s in members)}"
                  for name, members in groups.items()]
        return "\n".join(lines)
