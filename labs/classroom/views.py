"""Classroom pages: my courses, a course (the teacher's dashboard or the student's list of
exercises), starting an exercise, and joining with a code (signing up on the way)."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from topology.kinds import get_kind
from topology.problems import TopologyError

from .. import lifecycle
from ..store.documents import lab_document
from . import attempts, courses
from .exercise_files import read_exercise
from .exercises import add_exercise, instructions_html, rules_of
from .models import Attempt, Course, Membership
from .roles import can_teach, courses_of, role_in

JOIN_TRIES = 20  # wrong codes per address per hour


def _course_or_404(request, course_id: int) -> Course:
    course = courses_of(request.user).filter(id=course_id).first()
    if course is None:
        raise Http404
    return course


def _taught_course_or_404(request, course_id: int) -> Course:
    course = _course_or_404(request, course_id)
    if role_in(course, request.user) != Membership.Role.TEACHER:
        raise Http404
    return course


@login_required
def course_list(request):
    mine = courses_of(request.user).order_by("name")
    roles = dict(Membership.objects.filter(user=request.user).values_list("course_id", "role"))
    rows = [(course, roles.get(course.id)) for course in mine]
    return render(request, "classroom/courses.html", {"rows": rows, "can_teach": can_teach(request.user)})


@login_required
@require_POST
def course_create(request):
    if not can_teach(request.user):
        raise Http404
    name = request.POST.get("name", "").strip()[:100] or "New course"
    course = courses.create_course(name, request.user, from_demo=bool(request.POST.get("from_demo")))
    return redirect("course", course_id=course.id)


@login_required
@ensure_csrf_cookie
def course_page(request, course_id: int):
    course = _course_or_404(request, course_id)
    mine = {a.exercise_id: a for a in Attempt.objects.filter(student=request.user, exercise__course=course)
            .select_related("lab")}  # fmt: skip
    rows = [(e, mine.get(e.id), instructions_html(e, request.user)) for e in course.exercises.all()]
    if role_in(course, request.user) == Membership.Role.TEACHER:  # the exercises to preview and try, too
        labs = [lab for lab in request.user.labs.order_by("name") if lab.document.get("exercise")]
        solved = {exercise.id for exercise, _, _ in rows if rules_of(exercise).solution is not None}
        students = course.members.filter(role=Membership.Role.STUDENT).count()
        join_url = request.build_absolute_uri(f"{reverse('join')}?code={course.join_code}")
        context = {
            "course": course,
            "labs": labs,
            "students": students,
            "rows": rows,
            "join_url": join_url,
            "solved": solved,
        }
        return render(request, "classroom/dashboard.html", context)
    return render(request, "classroom/student.html", {"course": course, "rows": rows})


@login_required
@require_POST
def exercise_start(request, course_id: int, exercise_id: int):
    course = _course_or_404(request, course_id)
    exercise = course.exercises.filter(id=exercise_id).first()
    if exercise is None:
        raise Http404
    try:
        attempt, _ = attempts.start(exercise, request.user)
    except attempts.AttemptRefused as exc:
        messages.error(request, str(exc))
        return redirect("course", course_id=course.id)
    except lifecycle.OperationRefused as exc:
        messages.error(request, f"your lab was not deployed: {exc}")
        kept = Attempt.objects.filter(exercise=exercise, student=request.user).first()
        if kept is None:
            return redirect("course", course_id=course.id)
        attempt = kept
    return redirect("lab", lab_id=attempt.lab_id)


@login_required
@require_POST
def exercise_solution(request, course_id: int, exercise_id: int):
    """Try the solution (teachers): their own lab for the exercise, holding its solution."""
    course = _taught_course_or_404(request, course_id)
    exercise = get_object_or_404(course.exercises, id=exercise_id)
    try:
        attempt, _ = attempts.try_solution(exercise, request.user)
    except (attempts.AttemptRefused, TopologyError) as exc:
        messages.error(
            request, str(exc) if not isinstance(exc, TopologyError) else "; ".join(map(str, exc.problems))
        )
        return redirect("course", course_id=course.id)
    except lifecycle.OperationRefused as exc:
        messages.error(request, f"the solution's lab was not deployed: {exc}")
        return redirect("course", course_id=course.id)
    return redirect("lab", lab_id=attempt.lab_id)


@login_required
@require_POST
def exercise_add(request, course_id: int):
    """A teacher adds an exercise: an uploaded exercise file, or one of their labs whose
    document has an `exercise:` section."""
    course = _taught_course_or_404(request, course_id)
    upload, lab_id = request.FILES.get("file"), request.POST.get("lab")
    try:
        if upload is not None:
            doc = read_exercise(upload.read(settings.WIRELAB_MAX_DOCUMENT_BYTES + 1))
        else:
            lab = request.user.labs.filter(id=lab_id).first() if str(lab_id).isdigit() else None
            if lab is None:
                messages.error(request, "choose an exercise file or one of your labs")
                return redirect("course", course_id=course.id)
            doc = read_exercise(json.dumps(lab.document))
        exercise = add_exercise(course, doc)
    except TopologyError as exc:
        found = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems[:10])
        messages.error(request, f"not added: {found}")
    else:
        messages.info(request, f"{exercise.title} added")
    return redirect("course", course_id=course.id)


class JoiningForm(forms.ModelForm):
    max_students = forms.IntegerField(min_value=0, max_value=10_000)
    max_running_labs = forms.IntegerField(min_value=0, max_value=10_000)

    class Meta:
        model = Course
        fields = ["joining_open", "joining_until", "max_students", "max_running_labs"]


@login_required
@require_POST
def course_joining(request, course_id: int):
    """A teacher sets who may still join and how many: the code open or not, until when, at most
    how many students, and how many of their labs run at once."""
    course = _taught_course_or_404(request, course_id)
    form = JoiningForm(request.POST, instance=course)
    if form.is_valid():
        form.save()
        messages.info(request, "joining saved")
    else:
        said = "; ".join(
            f"{field.replace('_', ' ')}: {' '.join(str(e) for e in errors)}"
            for field, errors in form.errors.items()
        )
        messages.error(request, f"joining not saved: {said}")
    return redirect("course", course_id=course.id)


@login_required
@ensure_csrf_cookie
def lab_watch(request, course_id: int, attempt_id: int):
    """A teacher watches a student's lab as the student sees it, read-only: the same diagram,
    live, with the exercise's checks and their results."""
    attempt = _taught_attempt(request, course_id, attempt_id)
    return render(request, "labs/lab.html", {"lab": attempt.lab, "attempt": attempt, "watching": True})


def _taught_attempt(request, course_id: int, attempt_id: int) -> Attempt:
    """The attempt, if the user teaches its course (404 otherwise, as if it did not exist)."""
    attempt = (
        Attempt.objects.filter(id=attempt_id, exercise__course_id=course_id)
        .select_related("exercise__course", "lab", "student")
        .first()
    )
    if attempt is None or role_in(attempt.exercise.course, request.user) != Membership.Role.TEACHER:
        raise Http404
    return attempt


@login_required
def console_watch(request, course_id: int, attempt_id: int):
    """A teacher follows what a student's consoles on one node print (read-only)."""
    attempt = _taught_attempt(request, course_id, attempt_id)
    doc = lab_document(attempt.lab)
    nodes = [name for name, node in doc.nodes.items() if (k := get_kind(node.kind)) and k.has_container]
    node = request.GET.get("node") if request.GET.get("node") in nodes else (nodes[0] if nodes else "")
    context = {"attempt": attempt, "course": attempt.exercise.course, "nodes": nodes, "node": node}
    return render(request, "classroom/console_watch.html", context)


@login_required
def attempt_timeline(request, course_id: int, attempt_id: int):
    """A teacher scrubs through a student's attempt: each moment, and the lab as it then was."""
    attempt = _taught_attempt(request, course_id, attempt_id)
    return render(request, "classroom/timeline.html", {"attempt": attempt, "course": attempt.exercise.course})


def _per_address(request, what: str) -> str:
    return f"wirelab:{what}:{request.META.get('REMOTE_ADDR', '')}"


def _count(request, what: str, most: int) -> bool:
    """Count one more `what` from this address this hour; True when that is over `most`."""
    key = _per_address(request, what)
    cache.add(key, 0, 3600)
    return cache.incr(key) > most


def _over(request, what: str, most: int) -> bool:
    return cache.get(_per_address(request, what), 0) >= most


@ensure_csrf_cookie
def join_page(request):
    """`/join/?code=CODE`: join a course; a visitor without an account makes one here."""
    code = (request.POST.get("code") or request.GET.get("code") or "").strip()
    context = {"code": code, "errors": {}, "username": request.POST.get("username", "")}
    if request.method != "POST":
        return render(request, "classroom/join.html", context)
    course = courses.find_course(code)
    if course is None:
        if _count(request, "join", JOIN_TRIES):
            return HttpResponse("Too many wrong codes from here: wait an hour and try again.", status=429)
        context["errors"]["code"] = "no open course has this code"
        return render(request, "classroom/join.html", context, status=400)
    most = settings.WIRELAB_SIGNUPS_PER_ADDRESS
    if not request.user.is_authenticated and _over(request, "signup", most):
        return HttpResponse(
            f"{most} accounts were made from here this hour: wait and try again, or ask your teacher.",
            status=429,
        )
    try:
        if request.user.is_authenticated:
            courses.join(course, request.user)
        else:
            user = courses.sign_up(course, context["username"], request.POST.get("password", ""))
            _count(request, "signup", most)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.info(request, f"welcome, {user.username}: you joined {course.name}")
    except courses.CourseRefused as exc:
        context["errors"][exc.field] = str(exc)
        return render(request, "classroom/join.html", context, status=400)
    return redirect("course", course_id=course.id)
