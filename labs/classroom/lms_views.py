"""The doors an LMS opens (LTI 1.3): the login it starts, the launch it posts, the exercises a
teacher places in it (deep linking) and the key set it checks Wirelab's messages with."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as sign_in
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.lineitem import LineItem

from .. import lifecycle
from . import attempts, lms
from .models import Attempt, LtiCourse
from .roles import teaches

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _tool_of(conf, data: dict):
    """The registered LMS a launch came from (its audience is our client id, or a list of them)."""
    audience = data["aud"][0] if isinstance(data["aud"], list) else data["aud"]
    return conf.get_lti_tool(data["iss"], audience)


def _storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name="default")


def _refused(request, why: str, status: int = 400) -> HttpResponse:
    return render(request, "classroom/lms_refused.html", {"why": why}, status=status)


@csrf_exempt
def login(request):
    """The LMS's first step: send the browser back to it to sign the launch (OIDC)."""
    oidc = DjangoOIDCLogin(request, lms.tool_conf(), launch_data_storage=_storage())
    try:
        return oidc.redirect(request.build_absolute_uri(reverse("lms-launch")))
    except (LtiException, OIDCException) as exc:
        return _refused(request, f"this LMS is not registered here, or sent too little: {exc}")


@csrf_exempt
@require_POST
def launch(request):
    """A signed launch: its person signed in, their course and role, then the exercise it names
    (a student's own lab, whose score goes back to the LMS), or the course's page."""
    conf = lms.tool_conf()
    message = DjangoMessageLaunch(
        request, conf, launch_data_storage=_storage(), requests_session=lms.BoundedSession()
    )
    try:
        data = message.get_launch_data()
        tool = _tool_of(conf, data)
        user = lms.person(tool, data)
        course = lms.course_of(tool, data, user)
    except LtiException as exc:
        return _refused(request, f"the launch could not be checked: {exc}")
    except lms.LaunchRefused as exc:
        return _refused(request, str(exc), 403)
    teacher = lms.teaches(data)
    lms.member(course, user, teacher)
    sign_in(request, user, backend=BACKEND)
    if teacher and message.has_nrps():
        try:
            added = lms.roster(message, tool, course)
            if added:
                messages.info(request, f"{added} student(s) of the LMS's class list joined {course.name}")
        except (LtiException, OSError) as exc:
            messages.warning(request, f"the LMS's class list could not be read: {exc}")
    if message.is_deep_link_launch():
        return _pick(request, message, course, teacher)
    custom = data.get(lms.CLAIM + "custom") or {}
    exercise = course.exercises.filter(id=str(custom.get("exercise", "")).strip() or 0).first()
    if exercise is None or teacher:
        return redirect("course", course_id=course.id)
    attempt = _start(request, exercise, user)
    if attempt is None:
        return redirect("course", course_id=course.id)
    lms.keep_grade(attempt, tool, data)
    return redirect("lab", lab_id=attempt.lab_id)


def _pick(request, message, course, teacher: bool) -> HttpResponse:
    """A teacher's page to choose the exercises the LMS places (deep linking)."""
    if not teacher:
        return _refused(request, "only teachers place exercises", 403)
    context = {"course": course, "launch": message.get_launch_id(), "exercises": course.exercises.all()}
    return render(request, "classroom/lms_pick.html", context)


def _start(request, exercise, user) -> Attempt | None:
    """The student's lab for the exercise, deployed; None (and a message) when refused."""
    try:
        return attempts.start(exercise, user)[0]
    except attempts.AttemptRefused as exc:
        messages.error(request, str(exc))
        return None
    except lifecycle.OperationRefused as exc:
        messages.error(request, f"your lab was not deployed: {exc}")
        return Attempt.objects.filter(exercise=exercise, student=user).first()


@require_POST
def deep_link(request):
    """The exercises a teacher chose, sent back to the LMS as links with a gradebook column."""
    conf = lms.tool_conf()
    try:
        message = DjangoMessageLaunch.from_cache(
            request.POST.get("launch", ""), request, conf, launch_data_storage=_storage()
        )
    except LtiException:
        return _refused(request, "this placing of exercises has expired: start it again from the LMS")
    data = message.get_launch_data()
    tool = _tool_of(conf, data)
    context_id = str((data.get(lms.CLAIM + "context") or {}).get("id", ""))
    linked = LtiCourse.objects.filter(tool=tool, context_id=context_id).select_related("course").first()
    if linked is None or not request.user.is_authenticated or not teaches(linked.course, request.user):
        return _refused(request, "only the course's teachers place its exercises", 403)
    chosen = linked.course.exercises.filter(
        id__in=[i for i in request.POST.getlist("exercise") if i.isdigit()]
    )
    url = request.build_absolute_uri(reverse("lms-launch"))
    resources = [
        DeepLinkResource()
        .set_url(url)
        .set_title(exercise.title)
        .set_custom_params({"exercise": str(exercise.id)})
        .set_lineitem(
            LineItem()
            .set_score_maximum(1)
            .set_label(exercise.title)
            .set_resource_id(f"exercise-{exercise.id}")
        )
        for exercise in chosen
    ]
    return HttpResponse(message.get_deep_link().output_response_form(resources))


def jwks(request):
    """The public keys Wirelab signs its messages to LMSs with."""
    return JsonResponse(lms.tool_conf().get_jwks())
