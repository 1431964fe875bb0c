"""Attempts (`/api/attempts/`): a student's own, and (teachers) those of their courses'
students; checking, resetting and stopping one."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from labs import lifecycle
from labs.api.control import refused

from .. import attempts, grading, timeline
from ..models import Attempt, Membership
from ..roles import teaches
from .common import must_teach


class AttemptSerializer(serializers.Serializer):
    def to_representation(self, attempt):
        """The teachers of its course read each check as it is written; its student, as the
        exercise shows it to students."""
        request = self.context.get("request")
        user = request.user if request else None
        return grading.summary(attempt, teacher=user is not None and teaches(attempt.exercise.course, user))


class AttemptViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Attempts: your own, and (teachers) those of your courses' students."""

    serializer_class = AttemptSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Attempt.objects.none()
        user = self.request.user
        taught = Membership.objects.filter(user=user, role=Membership.Role.TEACHER).values("course_id")
        mine = Attempt.objects.filter(student=user)
        theirs = Attempt.objects.filter(exercise__course_id__in=taught)
        return (mine | theirs).select_related("lab", "student", "exercise").distinct()

    def _own(self) -> Attempt:
        attempt = self.get_object()
        if attempt.student_id != self.request.user.id:
            raise PermissionDenied("only the student whose lab it is may do this")
        return attempt

    def _teacher(self) -> Attempt:
        attempt = self.get_object()
        must_teach(attempt.exercise.course, self.request.user)
        return attempt

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Run the exercise's checks on your running lab; results come live and in the attempt."""
        attempt = self._own()
        try:
            op = attempts.request_check(attempt, request.user)
        except attempts.AttemptRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except lifecycle.OperationRefused as exc:
            return refused(exc)
        return Response({"operation": op.id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def reset(self, request, pk=None):
        """Put the exercise's template back into the lab (the student, or a teacher)."""
        attempt = self.get_object()
        if attempt.student_id != request.user.id:
            must_teach(attempt.exercise.course, request.user)
        try:
            op = attempts.reset(attempt, request.user)
        except lifecycle.OperationRefused as exc:
            return refused(exc)
        return Response({"operation": op.id if op else None}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        """Take the student's lab down (a teacher); its document stays."""
        attempt = self._teacher()
        try:
            op = lifecycle.request_destroy(attempt.lab, request.user)
        except lifecycle.OperationRefused as exc:
            return refused(exc)
        return Response({"operation": op.id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("at", int, description="an event's id: the lab's document as it then was")
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """The record of the attempt (its student, or the course's teachers): every edit, deploy
        and stop, round of checks, trace, command and console session, with its time; `?at=ID`
        gives the lab's document as it was at that moment."""
        attempt = self.get_object()
        at = request.query_params.get("at")
        if at is not None:
            if not at.isdigit() or not attempt.events.filter(id=int(at)).exists():
                raise ValidationError({"at": "not an event of this attempt"})
            return Response({"event": int(at), "document": timeline.document_at(attempt, int(at))})
        events = attempt.events.order_by("id").values("id", "time", "kind", "summary", "score")
        return Response(
            {
                "attempt": attempt.id,
                "student": attempt.student.username,
                "started": attempt.started,
                "events": list(events),
            }
        )
