"""The installation's image policy, from the rules admins keep (`ImageRule`)."""

from __future__ import annotations

from topology.images import Allowed, ImagePolicy

from .models import ImageRule

# With no rules at all, labs run Wirelab's own images only, and its stand-ins for the primer's
# images (images/build.sh) where a lab names those.
STAND_INS = {"nginx:*": "wirelab/nginx:latest", "httpd:*": "wirelab/httpd:latest"}
OWN_IMAGES = ImagePolicy(
    (Allowed("wirelab/*"), *(Allowed(name, stand_in) for name, stand_in in STAND_INS.items()))
)


def current_policy() -> ImagePolicy:
    rules = tuple(Allowed(r.pattern, r.use_instead) for r in ImageRule.objects.all())
    return ImagePolicy(rules) if rules else OWN_IMAGES
