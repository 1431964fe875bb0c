"""Who may see a lab, and use its shells: its owner, and whoever a rule plugged in here lets
watch it (a course's teachers watch their students' labs); watching is reading (its page,
document, operations and live state), every change stays the owner's. Rules plugged in may
also refuse a lab's consoles and commands (an exercise that does not allow them)."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from .models import Lab

Rule = Callable[[object], Q]  # a user -> the labs they may watch without owning them
WATCH_RULES: list[Rule] = []


def let_watch(rule: Rule) -> Rule:
    """Register `rule`: the labs it names may be watched by that user."""
    WATCH_RULES.append(rule)
    return rule


def watchable(user) -> QuerySet[Lab]:
    """The labs `user` may watch: their own and those a rule gives them."""
    if not user or not user.is_authenticated:
        return Lab.objects.none()
    if not WATCH_RULES:
        return Lab.objects.filter(owner=user)
    allowed = Q(owner=user)
    for rule in WATCH_RULES:
        allowed |= rule(user)
    return Lab.objects.filter(id__in=Lab.objects.filter(allowed).values("id"))


ShellRule = Callable[[int], "str | None"]  # a lab's id -> why its consoles and commands are refused
SHELL_RULES: list[ShellRule] = []


def refuse_shells(rule: ShellRule) -> ShellRule:
    """Register `rule`: when it gives a reason, the lab's consoles and commands are refused."""
    SHELL_RULES.append(rule)
    return rule


ConsoleListener = Callable[[int, str, bool], None]  # a lab's id, the node, opened (or closed)
CONSOLE_LISTENERS: list[ConsoleListener] = []


def hear_consoles(listener: ConsoleListener) -> ConsoleListener:
    """Register `listener`: it hears each console of a lab opened and closed."""
    CONSOLE_LISTENERS.append(listener)
    return listener


def console_seen(lab_id: int, node: str, opened: bool) -> None:
    for listener in CONSOLE_LISTENERS:
        listener(lab_id, node, opened)


def shell_refusal(lab_id: int) -> str | None:
    """Why consoles and commands are refused in this lab, or None."""
    for rule in SHELL_RULES:
        if (why := rule(lab_id)) is not None:
            return why
    return None
