"""Server-rendered pages: my labs (create, import, duplicate, delete), the lab page, health."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from labs.classroom.models import Attempt
from labs.models import Lab
from labs.store.documents import save_document
from topology.document import LabDoc
from topology.problems import TopologyError

from . import health, labfiles
from .demos import demo, demos


def home(request):
    """My labs, and the demos: a card for each one not among them, a button for a fresh copy of
    the others (a demo is described once on the page)."""
    labs = list(request.user.labs.all()) if request.user.is_authenticated else []
    yours = {lab.name for lab in labs}
    context = {
        "labs": labs,
        "demos": [d for d in demos() if d.name not in yours],
        "owned_demos": [d for d in demos() if d.name in yours],
    }
    return render(request, "labs/home.html", context)


@login_required
@require_POST
def open_demo(request, slug: str):
    """A copy of a demo lab in the user's labs, opened in the editor."""
    found = demo(slug)
    if found is None:
        messages.error(request, f"there is no demo named '{slug}'")
        return redirect("home")
    try:
        lab, _ = labfiles.import_lab(found.path.read_text(), request.user)
    except TopologyError as exc:
        _problems_message(request, f"{found.name} was not opened", exc)
        return redirect("home")
    return redirect("lab", lab_id=lab.id)


@login_required
@ensure_csrf_cookie
def lab_page(request, lab_id: int):
    lab = get_object_or_404(Lab, id=lab_id, owner=request.user)
    attempt = Attempt.objects.filter(lab=lab).select_related("exercise__course").first()
    has_apps = bool((lab.document or {}).get("apps"))
    return render(request, "labs/lab.html", {"lab": lab, "attempt": attempt, "has_apps": has_apps})


@ensure_csrf_cookie
def shared_page(request):
    """A share link's page: `/s/#<token>`. The token stays in the fragment, which the browser
    keeps to itself; the page's script shows what the link allows."""
    return render(request, "labs/shared.html", {"embed": False})


@xframe_options_exempt
def shared_embed(request):
    """The view of a share link for an iframe: framing allowed (only where
    WIRELAB_EMBED_ANCESTORS says, when set), nothing else relaxed."""
    response = render(request, "labs/shared.html", {"embed": True})
    if settings.WIRELAB_EMBED_ANCESTORS:
        response["Content-Security-Policy"] = f"frame-ancestors {settings.WIRELAB_EMBED_ANCESTORS}"
    return response


def _problems_message(request, what: str, exc: TopologyError) -> None:
    lines = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems[:10])
    messages.error(request, f"{what}: {lines}")


@login_required
@require_POST
def create_lab(request):
    name = request.POST.get("name", "").strip() or "New lab"
    try:
        lab, _ = save_document(LabDoc(name=name[:100]), request.user, labhost=settings.WIRELAB_LABHOST)
    except TopologyError as exc:
        _problems_message(request, "not created", exc)
        return redirect("home")
    return redirect("lab", lab_id=lab.id)


@login_required
@require_POST
def import_lab(request):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "choose a YAML or JSON file to import")
        return redirect("home")
    try:
        lab, _ = labfiles.import_lab(upload.read(labfiles.max_document_bytes() + 1), request.user)
    except TopologyError as exc:
        _problems_message(request, f"{upload.name} was not imported", exc)
        return redirect("home")
    return redirect("lab", lab_id=lab.id)


@login_required
@require_POST
def duplicate_lab(request, lab_id: int):
    lab = get_object_or_404(Lab, id=lab_id, owner=request.user)
    copy = labfiles.duplicate_lab(lab, request.user, f"{lab.name} copy"[:100])
    messages.info(request, f"{copy.name} created")
    return redirect("home")


@login_required
@require_POST
def delete_lab(request, lab_id: int):
    lab = get_object_or_404(Lab, id=lab_id, owner=request.user)
    if lab.status not in ("draft", "stopped", "failed"):
        messages.error(request, f"{lab.name} is {lab.status}: destroy it first")
    else:
        lab.delete()
        messages.info(request, f"{lab.name} deleted")
    return redirect("home")


def health_page(request):
    """All up or not for anyone (make run waits on it); the parts and reasons for staff only."""
    checks = health.run_checks()
    ok = all(c["up"] for c in checks)
    shown = checks if request.user.is_staff else []
    wants_json = request.GET.get("format") == "json" or "application/json" in request.headers.get(
        "Accept", ""
    )
    status = 200 if ok else 503
    if wants_json:
        return JsonResponse({"ok": ok, "checks": shown}, status=status)
    return render(request, "labs/health.html", {"ok": ok, "checks": shown}, status=status)


class ThrottledLoginView(auth_views.LoginView):
    """Sign-in that slows down guessing: after a few failures for one name from one address,
    or more for one name from anywhere, further tries are refused for a while."""

    MAX_FAILURES = 8  # for one name from one address
    MAX_FAILURES_ANYWHERE = 30  # for one name, however many addresses guess it
    WINDOW_SECONDS = 300

    def _keys(self) -> dict[str, int]:
        name = str(self.request.POST.get("username", ""))[:150].lower()
        address = self.request.META.get("REMOTE_ADDR", "")
        return {
            f"wirelab:login:{address}:{name}": self.MAX_FAILURES,
            f"wirelab:login-name:{name}": self.MAX_FAILURES_ANYWHERE,
        }

    def post(self, request, *args, **kwargs):
        if any(cache.get(key, 0) >= most for key, most in self._keys().items()):
            return HttpResponse(
                "Too many failed sign-ins for this name: wait a few minutes and try again.", status=429
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in self._keys():
            cache.add(key, 0, self.WINDOW_SECONDS)
            cache.incr(key)
        return super().form_invalid(form)
