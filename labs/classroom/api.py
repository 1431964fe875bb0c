"""The classroom API: courses (`/api/courses/`), their exercises (`/api/exercises/`) and each
student's attempt (`/api/attempts/`).

A student sees the courses they joined, the exercises of those courses and their own
attempts; a course's teachers also see every attempt of its students. Anything else is a 404,
so that nobody learns which courses or labs exist.
"""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from kombu.exceptions import KombuError
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from labs import lifecycle, warm
from labs.api.control import refused
from labs.api.documents import document_text
from labs.api.views import DOCUMENT_BODY, DOCUMENT_PARSERS
from labs.models import Lab
from topology.problems import TopologyError

from . import attempts, courses, grading, messages
from .exercises import (
    add_exercise,
    export_exercise,
    instructions_html,
    read_exercise,
    replace_exercise,
    rules_of,
    template_of,
)
from .models import Attempt, Course, Exercise, Membership
from .roles import can_teach, courses_of, role_in, teaches


class JoinThrottle(UserRateThrottle):
    """Join codes one user may try (WIRELAB_JOIN_RATE): guessing codes is slow."""

    scope = "join"


class CourseSerializer(serializers.ModelSerializer):
    from_demo = serializers.BooleanField(
        write_only=True, default=False, help_text="start with the exercises of the demo course"
    )
    role = serializers.SerializerMethodField()
    join_code = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields = ["id", "name", "role", "join_code", "joining_open", "created", "from_demo"]
        read_only_fields = ["created"]

    def get_role(self, course) -> str | None:
        return role_in(course, self.context["request"].user)

    def get_join_code(self, course) -> str | None:
        """Only for the course's teachers."""
        return course.join_code if teaches(course, self.context["request"].user) else None


class ExerciseSerializer(serializers.ModelSerializer):
    instructions = serializers.SerializerMethodField(help_text="HTML rendered from the Markdown")
    checks = serializers.SerializerMethodField()
    rules = serializers.SerializerMethodField()
    attempt = serializers.SerializerMethodField(help_text="yours, if you started it")

    class Meta:
        model = Exercise
        fields = ["id", "course", "title", "order", "version", "instructions", "checks", "rules", "attempt"]

    def get_instructions(self, exercise) -> str:
        return instructions_html(exercise)

    def get_checks(self, exercise) -> list[dict]:
        return [{"title": c.title(), "weight": c.weight, "kind": c.kind} for c in rules_of(exercise).checks]

    def get_rules(self, exercise) -> dict:
        rules = rules_of(exercise)
        return rules.model_dump(
            mode="json", include={"locked", "kinds", "consoles", "check_every", "opens", "closes"}
        )

    def get_attempt(self, exercise) -> dict | None:
        attempt = exercise.attempts.filter(student=self.context["request"].user).first()
        return grading.summary(attempt) if attempt else None


def _course_for(user, pk) -> Course:
    course = courses_of(user).filter(pk=pk).first()
    if course is None:
        raise NotFound("no such course")
    return course


def _must_teach(course: Course, user) -> None:
    if not teaches(course, user):
        raise PermissionDenied("only the course's teachers may do this")


class CourseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):  # fmt: skip
    """Your courses; teachers make them, students join them with a code."""

    serializer_class = CourseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Course.objects.none()
        return courses_of(self.request.user)

    def perform_create(self, serializer):
        if not can_teach(self.request.user):
            raise PermissionDenied("only teachers may make courses: ask an administrator")
        data = serializer.validated_data
        serializer.instance = courses.create_course(
            data["name"], self.request.user, data.get("from_demo", False)
        )

    def perform_update(self, serializer):
        _must_teach(serializer.instance, self.request.user)
        serializer.save()

    @extend_schema(request=serializers.Serializer, responses=CourseSerializer)
    @action(detail=False, methods=["post"], throttle_classes=[JoinThrottle])
    def join(self, request):
        """Join a course as a student with its code: `{"code": "ABCD2345"}`."""
        course = courses.find_course(str(request.data.get("code", "")))
        if course is None:
            raise ValidationError({"code": "no open course has this code"})
        courses.join(course, request.user)
        return Response(CourseSerializer(course, context={"request": request}).data)

    @extend_schema(responses=ExerciseSerializer(many=True))
    @action(detail=True, methods=["get"], parser_classes=DOCUMENT_PARSERS)
    def exercises(self, request, pk=None):
        course = _course_for(request.user, pk)
        data = ExerciseSerializer(course.exercises.all(), many=True, context={"request": request}).data
        return Response(data)

    @extend_schema(request=DOCUMENT_BODY, responses={201: ExerciseSerializer})
    @exercises.mapping.post
    def add_exercise(self, request, pk=None):
        """Add an exercise: an exercise file (a lab document with an `exercise:` section), or
        `{"lab": ID}` for one of your labs whose document has one."""
        course = _course_for(request.user, pk)
        _must_teach(course, request.user)
        if isinstance(request.data, dict) and set(request.data) == {"lab"}:
            lab = Lab.objects.filter(id=request.data["lab"], owner=request.user).first()
            if lab is None:
                raise ValidationError({"lab": "not one of your labs"})
            doc = read_exercise(json.dumps(lab.document))
        else:
            doc = read_exercise(document_text(request))
        exercise = add_exercise(course, doc)
        return Response(ExerciseSerializer(exercise, context={"request": request}).data, status=201)

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["json", "csv"])],
        responses={200: OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """Every student's attempt at every exercise (teachers); `?as=csv` for a spreadsheet."""
        course = _course_for(request.user, pk)
        _must_teach(course, request.user)
        grid = results_grid(course)
        if request.query_params.get("as") == "csv":
            return _csv(course, grid)
        return Response(grid)

    @extend_schema(request=serializers.Serializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def roster(self, request, pk=None):
        """Make accounts from a CSV list of user names (`{"csv": "..."}`); new accounts' one-time
        passwords are in this answer only."""
        course = _course_for(request.user, pk)
        _must_teach(course, request.user)
        try:
            made = courses.enroll_roster(course, str(request.data.get("csv", ""))[:200_000])
        except courses.CourseRefused as exc:
            raise ValidationError({exc.field: str(exc)}) from None
        return Response({"students": made}, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.Serializer, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def broadcast(self, request, pk=None):
        """A message from the teacher to every student's page: `{"message": "..."}`."""
        course = _course_for(request.user, pk)
        _must_teach(course, request.user)
        message = str(request.data.get("message", "")).strip()
        if not message or len(message) > 500:
            raise ValidationError({"message": "write a message of at most 500 characters"})
        messages.send(course, request.user, message)
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


def results_grid(course: Course) -> dict:
    exercises = list(course.exercises.all())
    students = Membership.objects.filter(course=course, role=Membership.Role.STUDENT).select_related("user")
    found = Attempt.objects.filter(exercise__course=course).select_related("lab", "student", "exercise")
    by = {(a.student_id, a.exercise_id): grading.summary(a) for a in found}
    return {
        "exercises": [
            {"id": e.id, "title": e.title, "checks": [c.title() for c in rules_of(e).checks]}
            for e in exercises
        ],
        "students": [
            {
                "username": m.user.username,
                "attempts": {str(e.id): by.get((m.user_id, e.id)) for e in exercises},
            }
            for m in students
        ],
    }


def _csv(course: Course, grid: dict) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["student"]
    for exercise in grid["exercises"]:
        header += [f"{exercise['title']}: score", *[f"{exercise['title']}: {c}" for c in exercise["checks"]]]
    writer.writerow(header)
    for student in grid["students"]:
        row = [student["username"]]
        for exercise in grid["exercises"]:
            attempt = student["attempts"][str(exercise["id"])]
            results = {r["index"]: r for r in (attempt or {}).get("results", [])}
            row.append(f"{attempt['score']:.2f}" if attempt else "")
            row += ["pass" if results.get(i, {}).get("passed") else ("fail" if i in results else "")
                    for i in range(len(exercise["checks"]))]  # fmt: skip
        writer.writerow(row)
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="course-{course.id}-results.csv"'
    return response


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
        _must_teach(exercise.course, request.user)
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
        _must_teach(exercise.course, request.user)
        fmt = "json" if request.query_params.get("as") == "json" else "yaml"
        response = HttpResponse(export_exercise(exercise, fmt), content_type=f"application/{fmt}")
        response["Content-Disposition"] = f'attachment; filename="exercise-{exercise.id}.{fmt}"'
        return response

    @extend_schema(request=DOCUMENT_BODY, responses=ExerciseSerializer)
    @action(detail=True, methods=["put"], parser_classes=DOCUMENT_PARSERS)
    def document(self, request, pk=None):
        """Replace the exercise file (teachers): a new version; students' labs keep theirs."""
        exercise = self.get_object()
        _must_teach(exercise.course, request.user)
        exercise = replace_exercise(exercise, read_exercise(document_text(request)))
        return Response(ExerciseSerializer(exercise, context={"request": request}).data)


class AttemptSerializer(serializers.Serializer):
    def to_representation(self, attempt):
        return grading.summary(attempt)


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
        _must_teach(attempt.exercise.course, self.request.user)
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
            _must_teach(attempt.exercise.course, request.user)
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
