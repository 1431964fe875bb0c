"""Share links: a lab seen live and read-only by others, or copied into their own account."""

from django.conf import settings
from django.db import models


class ShareLink(models.Model):
    """A link that lets others see a lab live (read-only) or take their own copy of it.

    Only a hash of its token is stored: the token itself is shown once, when it is made."""

    class Mode(models.TextChoices):
        VIEW = "view", "View"
        CLONE = "clone", "Clone"
        VIEW_CLONE = "view+clone", "View and clone"

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=100, blank=True, default="")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.VIEW)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    present = models.BooleanField(default=False, help_text="viewers may follow the owner's view")
    snapshot = models.JSONField(
        null=True, blank=True, help_text="the document and addresses at sharing time, instead of the live lab"
    )
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} link {self.label or self.id} to {self.lab}"

    @property
    def can_view(self) -> bool:
        return self.mode in (self.Mode.VIEW, self.Mode.VIEW_CLONE)

    @property
    def can_clone(self) -> bool:
        return self.mode in (self.Mode.CLONE, self.Mode.VIEW_CLONE)
