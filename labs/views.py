"""Server-rendered pages: home (your labs) and health."""

from django.http import JsonResponse
from django.shortcuts import render

from . import health


def home(request):
    labs = request.user.labs.all() if request.user.is_authenticated else []
    return render(request, "labs/home.html", {"labs": labs})


def health_page(request):
    checks = health.run_checks()
    ok = all(c["up"] for c in checks)
    wants_json = request.GET.get("format") == "json" or "application/json" in request.headers.get(
        "Accept", ""
    )
    if wants_json:
        return JsonResponse({"ok": ok, "checks": checks}, status=200 if ok else 503)
    return render(request, "labs/health.html", {"ok": ok, "checks": checks}, status=200 if ok else 503)
