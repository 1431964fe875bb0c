"""A student's lab keeps to its exercise's rules (its edits, its shells) and its course's limit,
is checked after each deploy, and is watched by the course's teachers."""

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver

from topology.problems import error

from ..access import hear_consoles, let_watch, refuse_shells
from ..lifecycle import quota_rule
from ..models import Lab, Operation
from ..store.documents import document_saved, guard_edits
from . import lms, timeline
from .attempts import course_quota_problem, request_check, window_of_lab, window_problem
from .exercises import shell_refusal, untouched
from .grading import announce
from .locks import student_edit_problems
from .models import Attempt, Membership


@guard_edits
def exercise_rules(lab, doc):
    attempt = Attempt.objects.filter(lab_id=lab.pk).select_related("exercise").first()
    if attempt is None or attempt.solution:  # the teacher's lab with the solution is theirs
        return []
    if (why := window_problem(attempt.exercise)) is not None:
        return [error("", f"{why}: your lab can no longer be changed")]
    return student_edit_problems(attempt.exercise, doc, attempt.student)


quota_rule(course_quota_problem)
quota_rule(window_of_lab)
refuse_shells(shell_refusal)


@let_watch
def teachers_watch_their_students(user) -> Q:
    """A course's teachers watch the labs of its exercises' attempts."""
    teaching = Membership.objects.filter(user=user, role=Membership.Role.TEACHER).values("course_id")
    return Q(attempt__exercise__course_id__in=teaching)


@receiver(post_save, sender=Attempt)
def send_scores_to_the_lms(sender, instance: Attempt, update_fields=None, **kwargs) -> None:
    """A round that changed an attempt's score sends it to the LMS the attempt came from."""
    if update_fields and "score" in update_fields:
        transaction.on_commit(lambda: lms.report(instance.id))


@receiver(post_save, sender=Operation)
def record_the_attempt_s_jobs(sender, instance: Operation, created: bool, **kwargs) -> None:
    """A job of a student's lab that ended goes into the attempt's record."""
    if created or instance.status not in (Operation.Status.SUCCEEDED, Operation.Status.FAILED):
        return
    if instance.kind not in timeline.KIND_OF_JOB:
        return
    attempt = Attempt.objects.filter(lab_id=instance.lab_id).select_related("student").first()
    if attempt is None:
        return
    by = instance.requested_by
    who = by.username if by is not None and by.pk != attempt.student_id else ""
    summary = timeline.operation_summary(instance.kind, instance.params, instance.status, who)
    if summary:
        transaction.on_commit(lambda: timeline.note(attempt.id, timeline.KIND_OF_JOB[instance.kind], summary))


@hear_consoles
def record_the_attempt_s_consoles(lab_id: int, node: str, opened: bool) -> None:
    attempt = Attempt.objects.filter(lab_id=lab_id).values_list("id", flat=True).first()
    if attempt is not None:
        timeline.note(attempt, "console", f"console on {node} {'opened' if opened else 'closed'}")


@receiver(document_saved)
def record_the_attempt_s_edits(sender, lab_tag: str, **kwargs) -> None:
    """A student's lab stored anew: the attempt's record keeps the document as it now is."""
    attempt = Attempt.objects.filter(lab__tag=lab_tag).select_related("lab", "exercise", "student").first()
    if attempt is not None:
        timeline.edited(attempt, attempt.lab.document)


@receiver(post_save, sender=Operation)
def follow_the_life_cycle(sender, instance: Operation, created: bool, **kwargs) -> None:
    """A student's lab that starts, ends, or fails to deploy shows on the dashboard; one that
    was deployed is checked."""
    if instance.kind not in Operation.LIFECYCLE:
        return
    attempt = Attempt.objects.filter(lab_id=instance.lab_id).first()
    if attempt is None:
        return
    transaction.on_commit(lambda: announce(attempt.id))
    deployed = instance.kind == Operation.Kind.DEPLOY and instance.status == Operation.Status.SUCCEEDED
    if deployed and not created:  # a try of the student's, unless the lab is still the exercise's start
        tried = not untouched(attempt.exercise, Lab.objects.get(id=attempt.lab_id).document, attempt.student)
        transaction.on_commit(
            lambda: request_check(attempt, instance.requested_by, automatic=True, tried=tried)
        )
