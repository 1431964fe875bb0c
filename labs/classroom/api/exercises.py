"""The exercises of a user's courses (`/api/exercises/`): starting one, preparing a class,
and the exercise file (teachers)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from kombu.exceptions import KombuError
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from labs import lifecycle, warm
from labs.api.control import refused
from labs.api.documents import document_text
from labs.api.views import DOCUMENT_BODY, DOCUMENT_PARSERS
from topology.problems import TopologyError

from .. import attempts, grading
from ..exercise_files import read_exercise
from ..exercises import (
    export_exercise,
    instructions_html,
    replace_exercise,
    rules_of,
    template_of,
)
from ..models import Attempt, Exercise
from ..roles import courses_of, teaches
from .common import must_teach


class ExerciseSerializer(serializers.ModelSerializer):
    instructions = serializers.SerializerMethodField(help_text="HTML rendered from the Markdown")
    checks = serializers.SerializerMethodField()
    rules = serializers.SerializerMethodField()
    attempt = serializers.SerializerMethodField(help_text="yours, if you started it")

    class Meta:
        model = Exercise
        fields = ["id", "course", "title", "order", "version", "instructions", "checks", "rules", "attempt"]

    def get_instructions(self, exercise) -> str:
        return instructions_html(exercise, self.context["request"].user)  # with their own variant

    def get_checks(self, exercise) -> list[dict]:
        user = self.context["request"].user
        teacher = teaches(exercise.course, user)
        return [
            {"title": c.title() if teacher else c.public_title(), "weight": c.weight, "kind": c.kind}
            for c in rules_of(exercise, user).checks
        ]

    def get_rules(self, exercise) -> dict:
        rules = rules_of(exercise)
        shown = rules.model_dump(
            mode="json", include={"locked", "kinds", "consoles", "check_every", "opens", "closes"}
        )
        if teaches(exercise.course, self.context["request"].user):
            shown["solution"] = rules.solution is not None
        return shown

    def get_attempt(self, exercise) -> dict | None:
        user = self.context["request"].user
        attempt = exercise.attempts.filter(student=user).first()
        return grading.summary(attempt, teacher=attempt.solution) if attempt else None


class PrepareSerializer(serializers.Serializer):
    students = serializers.IntegerField(
        min_value=1, max_value=warm.MAX_STUDENTS, help_text="how many students will start it"
    )


class ExerciseViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The exercises of your courses."""

    serializer_class = ExerciseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Exercise.objects.none()
        return Exercise.objects.filter(course__in=courses_of(self.request.user))

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Your own lab for this exercise, made from its template the first time, and deployed."""
        exercise = self.get_object()
        try:
            attempt, op = attempts.start(exercise, request.user)
        except attempts.AttemptRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except lifecycle.OperationRefused as exc:
            attempt = Attempt.objects.filter(exercise=exercise, student=request.user).first()
            response = refused(exc)
            response.data["attempt"] = grading.summary(attempt) if attempt else None
            return response
        return Response(
            {"attempt": grading.summary(attempt), "operation": op.id if op else None},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def solution(self, request, pk=None):
        """Try the solution (teachers): your own lab for this exercise holds its solution and is
        deployed; its checks run when it is up, and should all pass. The ways its probes take
        become the reference a student's failed journey is compared with."""
        exercise = self.get_object()
        must_teach(exercise.course, request.user)
        try:
            attempt, op = attempts.try_solution(exercise, request.user)
        except attempts.AttemptRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except TopologyError as exc:  # an image no longer allowed, since the exercise was written
            raise ValidationError({"document": [str(p) for p in exc.problems]}) from None
        except lifecycle.OperationRefused as exc:
            return refused(exc)
        return Response(
            {"attempt": grading.summary(attempt, teacher=True), "operation": op.id},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=PrepareSerializer,
        parameters=[OpenApiParameter("students", int, description="GET: the class's size")],
        responses={202: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get", "post"])
    def prepare(self, request, pk=None):
        """POST: have the lab hosts start this exercise's sandboxes ahead of a class (teachers):
        each student's Start then claims warm ones instead of waiting for them to start.
        GET `?students=N`: how many of those are ready now (`ready` of `wanted`)."""
        exercise = self.get_object()
        must_teach(exercise.course, request.user)
        asked = PrepareSerializer(data=request.query_params if request.method == "GET" else request.data)
        asked.is_valid(raise_exception=True)
        students = asked.validated_data["students"]
        try:
            if request.method == "GET":
                return Response(warm.readiness(template_of(exercise), students))
            done = warm.prepare(template_of(exercise), students)
        except TopologyError as exc:  # an image no longer allowed, since the exercise was written
            raise ValidationError({"document": [str(p) for p in exc.problems]}) from None
        except (KombuError, OSError) as exc:
            return Response({"detail": f"the lab hosts could not be asked: {exc}"}, status=503)
        return Response(done, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["yaml", "json"])],
        responses={(200, "application/yaml"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """The exercise file (teachers)."""
        exercise = self.get_object()
        must_teach(exercise.course, request.user)
        fmt = "json" if request.query_params.get("as") == "json" else "yaml"
        response = HttpResponse(export_exercise(exercise, fmt), content_type=f"application/{fmt}")
        response["Content-Disposition"] = f'attachment; filename="exercise-{exercise.id}.{fmt}"'
        return response

    @extend_schema(request=DOCUMENT_BODY, responses=ExerciseSerializer)
    @action(detail=True, methods=["put"], parser_classes=DOCUMENT_PARSERS)
    def document(self, request, pk=None):
        """Replace the exercise file (teachers): a new version; students' labs keep theirs."""
        exercise = self.get_object()
        must_teach(exercise.course, request.user)
        exercise = replace_exercise(exercise, read_exercise(document_text(request)))
        return Response(ExerciseSerializer(exercise, context={"request": request}).data)
