"""Courses (`/api/courses/`): a student sees those they joined, a teacher those they teach;
joining, the roster, messages to the class and its results."""

from __future__ import annotations

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from labs.api.documents import document_text
from labs.api.views import DOCUMENT_BODY, DOCUMENT_PARSERS
from labs.models import Lab

from .. import courses, messages
from ..exercise_files import read_exercise
from ..exercises import (
    add_exercise,
)
from ..models import Course
from ..roles import can_teach, courses_of, role_in, teaches
from .common import course_for, must_teach
from .exercises import ExerciseSerializer
from .results import results_csv, results_grid


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
        fields = ["id", "name", "role", "join_code", "joining_open", "joining_until", "max_students",
                  "max_running_labs", "created", "from_demo"]  # fmt: skip
        read_only_fields = ["created"]

    def get_role(self, course) -> str | None:
        return role_in(course, self.context["request"].user)

    def get_join_code(self, course) -> str | None:
        """Only for the course's teachers."""
        return course.join_code if teaches(course, self.context["request"].user) else None


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
        must_teach(serializer.instance, self.request.user)
        serializer.save()

    @extend_schema(request=serializers.Serializer, responses=CourseSerializer)
    @action(detail=False, methods=["post"], throttle_classes=[JoinThrottle])
    def join(self, request):
        """Join a course as a student with its code: `{"code": "ABCD2345"}`."""
        course = courses.find_course(str(request.data.get("code", "")))
        if course is None:
            raise ValidationError({"code": "no open course has this code"})
        try:
            courses.join(course, request.user)
        except courses.CourseRefused as exc:
            raise ValidationError({exc.field: str(exc)}) from None
        return Response(CourseSerializer(course, context={"request": request}).data)

    @extend_schema(responses=ExerciseSerializer(many=True))
    @action(detail=True, methods=["get"], parser_classes=DOCUMENT_PARSERS)
    def exercises(self, request, pk=None):
        course = course_for(request.user, pk)
        data = ExerciseSerializer(course.exercises.all(), many=True, context={"request": request}).data
        return Response(data)

    @extend_schema(request=DOCUMENT_BODY, responses={201: ExerciseSerializer})
    @exercises.mapping.post
    def add_exercise(self, request, pk=None):
        """Add an exercise: an exercise file (a lab document with an `exercise:` section), or
        `{"lab": ID}` for one of your labs whose document has one."""
        course = course_for(request.user, pk)
        must_teach(course, request.user)
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
        course = course_for(request.user, pk)
        must_teach(course, request.user)
        grid = results_grid(course)
        if request.query_params.get("as") == "csv":
            return results_csv(course, grid)
        return Response(grid)

    @extend_schema(request=serializers.Serializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def roster(self, request, pk=None):
        """Make accounts from a CSV list of user names (`{"csv": "..."}`); new accounts' one-time
        passwords are in this answer only."""
        course = course_for(request.user, pk)
        must_teach(course, request.user)
        try:
            made = courses.enroll_roster(course, str(request.data.get("csv", ""))[:200_000])
        except courses.CourseRefused as exc:
            raise ValidationError({exc.field: str(exc)}) from None
        return Response({"students": made}, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.Serializer, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def broadcast(self, request, pk=None):
        """A message from the teacher to every student's page: `{"message": "..."}`."""
        course = course_for(request.user, pk)
        must_teach(course, request.user)
        message = str(request.data.get("message", "")).strip()
        if not message or len(message) > 500:
            raise ValidationError({"message": "write a message of at most 500 characters"})
        messages.send(course, request.user, message)
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)
