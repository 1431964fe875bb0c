"""The installation's image rules: which images labs may use, and what stands in for others."""

from django.db import models


class ImageRule(models.Model):
    """Images labs may name: the first rule (by `order`) whose pattern matches decides; with
    `use_instead`, that image runs in the named one's place (e.g. `alpine:*` as Wirelab's
    node, so peers' labs run offline). An image no rule matches is refused by validation."""

    pattern = models.CharField(max_length=200, help_text="a glob on name:tag, e.g. wirelab/* or alpine:*")
    use_instead = models.CharField(max_length=200, blank=True, default="", help_text="run this image instead")
    order = models.PositiveIntegerField(default=100)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.pattern} -> {self.use_instead}" if self.use_instead else self.pattern
