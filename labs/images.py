"""The installation's image policy, from the rules admins keep (`ImageRule`)."""

from __future__ import annotations

from topology.images import ImagePolicy, ImageRule

from .models import ImageRule as ImageRuleRow

# With no rules at all, labs run Wirelab's own images only.
OWN_IMAGES = ImagePolicy((ImageRule("wirelab/*"),))


def current_policy() -> ImagePolicy:
    rules = tuple(ImageRule(r.pattern, r.use_instead) for r in ImageRuleRow.objects.all())
    return ImagePolicy(rules) if rules else OWN_IMAGES
