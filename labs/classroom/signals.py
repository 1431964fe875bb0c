"""A student's lab keeps to its exercise's rules, and is checked after each deploy."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from ..models import Operation
from ..store.documents import guard_edits
from .attempts import request_check
from .exercises import student_edit_problems
from .models import Attempt


@guard_edits
def exercise_rules(lab, doc):
    attempt = Attempt.objects.filter(lab_id=lab.pk).select_related("exercise").first()
    return student_edit_problems(attempt.exercise, doc) if attempt else []


@receiver(post_save, sender=Operation)
def check_after_deploy(sender, instance: Operation, created: bool, update_fields=None, **kwargs) -> None:
    if created or instance.kind != Operation.Kind.DEPLOY or instance.status != Operation.Status.SUCCEEDED:
        return
    attempt = Attempt.objects.filter(lab_id=instance.lab_id).first()
    if attempt is not None:
        transaction.on_commit(lambda: request_check(attempt, instance.requested_by, automatic=True))
