"""Each student's own draw of an exercise: the seed of their values and faults (the server's
secret, the exercise, the student, and which draw of theirs), and a new attempt's draw chosen
so that no two students share a subnet, or a set of faults, while the exercise allows."""

from __future__ import annotations

import hashlib
import hmac
from ipaddress import IPv4Network, IPv6Network

from django.conf import settings

from topology.exercise import ExerciseDoc
from topology.faults import FaultsDoc, draw_faults
from topology.variants import VariableDoc, draw

from .models import Attempt, Exercise

MAX_REDRAWS = 50
IPNetwork = IPv4Network | IPv6Network


def variables_of(data: dict) -> dict[str, VariableDoc]:
    return ExerciseDoc.model_validate({"variables": data["exercise"]["variables"]}).variables


def variant_seed(exercise: Exercise, user=None, number: int | None = None) -> str:
    """The seed of a user's draw of the exercise's variables (their attempt's, or `number`):
    the same for them every time, not guessable by others (the server's secret is in it)."""
    if number is None:
        number = _draw_number(exercise, user)
    who = f"user {user.pk}" if user is not None else "teacher"
    message = f"variant:{exercise.pk}:{who}:{number}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:24]


def _draw_number(exercise: Exercise, user) -> int:
    if user is None:
        return 0
    found = Attempt.objects.filter(exercise=exercise, student=user).values_list("draw", flat=True).first()
    return found or 0


def fresh_draw(exercise: Exercise, student, faults: FaultsDoc | None) -> int:
    """The draw for a new attempt: the first whose subnets overlap none of the other attempts'
    at the exercise, then whose `faults` (its catalogue) no other has, then whose values no
    other has."""
    variables = variables_of(exercise.document) if varied(exercise) else {}
    if not variables and faults is None:
        return 0

    def drawn(user, number: int) -> tuple[dict, list[int]]:
        seed = variant_seed(exercise, user, number)
        return draw(variables, seed), draw_faults(faults, seed) if faults else []

    others = [drawn(a.student, a.draw) for a in exercise.attempts.select_related("student")]
    nets = [v for values, _ in others for v in values.values() if isinstance(v, IPNetwork)]

    def clashes(number: int) -> tuple[bool, bool, bool]:
        values, chosen = drawn(student, number)
        mine = [v for v in values.values() if isinstance(v, IPNetwork)]
        overlaps = any(v.overlaps(n) for v in mine for n in nets)
        return overlaps, any(chosen == f for _, f in others), any(values == v for v, _ in others)

    return min(range(MAX_REDRAWS), key=clashes)


def varied(exercise: Exercise) -> bool:
    return bool((exercise.document.get("exercise") or {}).get("variables"))


def values_of(exercise: Exercise, user=None) -> dict[str, str]:
    """The values drawn for a user (the teacher's own: None), as text; empty without variables."""
    if not varied(exercise):
        return {}
    return {
        name: str(value)
        for name, value in draw(variables_of(exercise.document), variant_seed(exercise, user)).items()
    }
