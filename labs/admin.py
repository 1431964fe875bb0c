"""Every model of the project in the Django admin, with useful columns, filters and search.

The node, network and link rows are a projection of each lab's document: they are shown
read-only, and a lab's topology is changed through its document."""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery, Sum

from . import fleet, labhost_actions, lifecycle
from .models import (
    Capture,
    ImageRule,
    Installation,
    Lab,
    LabEvent,
    LabHost,
    Link,
    Network,
    Node,
    Operation,
    ShareLink,
    StitchVni,
)


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    """All labs across users, where they run, and a destroy that does not ask the owner."""

    list_display = ["name", "slug", "owner", "status", "labhost", "other_labhosts", "tag", "updated"]
    list_filter = ["status", "labhost", "owner"]
    search_fields = ["name", "slug", "tag", "description", "owner__username"]
    readonly_fields = ["tag", "document", "assignments", "parts", "created", "updated"]

    @admin.display(description="also on")
    def other_labhosts(self, lab: Lab) -> str:
        return (
            ", ".join(f"{host} ({len(part.get('nodes', []))} nodes)" for host, part in lab.parts.items())
            or "-"
        )

    actions = ["force_destroy"]

    @admin.action(description="Destroy the selected labs (their documents stay)")
    def force_destroy(self, request, queryset):
        for lab in queryset:
            try:
                op = lifecycle.request_destroy(lab, request.user)
                self.message_user(request, f"{lab.slug}: destroy #{op.id} {op.status}")
            except lifecycle.OperationRefused as exc:
                self.message_user(request, f"{lab.slug}: {exc}", messages.WARNING)


@admin.register(LabHost)
class LabHostAdmin(admin.ModelAdmin):
    """The lab hosts: their load and state; cordon, drain, evacuate, and garbage collection."""

    list_display = ["name", "state", "alive", "running_labs", "load", "memory_free_mb", "underlay",
                    "last_heartbeat", "version"]  # fmt: skip
    list_filter = ["state"]
    search_fields = ["name", "underlay"]
    readonly_fields = ["registered", "last_heartbeat", "lost_since", "containers", "memory_mb",
                       "memory_free_mb", "version", "gc_report"]  # fmt: skip
    actions = ["cordon", "activate", "drain", "evacuate", "gc_dry_run", "gc"]

    def get_queryset(self, request):
        fleet.sweep()  # what the list shows is true even with every lab host silent
        placed = fleet.placed_labs().filter(labhost=OuterRef("name")).order_by().values("labhost")
        return (
            super()
            .get_queryset(request)
            .annotate(
                placed_labs=Subquery(placed.annotate(n=Count("id")).values("n")),
                placed_containers=Subquery(placed.annotate(n=Sum("containers")).values("n")),
            )
        )

    @admin.display(boolean=True, description="alive")
    def alive(self, host: LabHost) -> bool:
        return not host.lost

    @admin.display(description="running labs")
    def running_labs(self, host: LabHost) -> int:
        return getattr(host, "placed_labs", 0) or 0  # annotated by get_queryset

    @admin.display(description="containers (placed / running / capacity)")
    def load(self, host: LabHost) -> str:
        return (
            f"{getattr(host, 'placed_containers', 0) or 0} / {host.containers} / {host.capacity_containers}"
        )

    def _each(self, request, queryset, act) -> None:
        for host in queryset:
            for line in act(host) or [f"{host.name}: done"]:
                self.message_user(request, line)

    @admin.action(description="Cordon: take no new labs")
    def cordon(self, request, queryset):
        self._each(request, queryset, lambda h: labhost_actions.set_state(h, LabHost.State.CORDONED))

    @admin.action(description="Activate: take new labs again")
    def activate(self, request, queryset):
        self._each(request, queryset, lambda h: labhost_actions.set_state(h, LabHost.State.ACTIVE))

    @admin.action(description="Drain: move its running labs to other lab hosts")
    def drain(self, request, queryset):
        self._each(request, queryset, labhost_actions.drain)

    @admin.action(description="Evacuate: redeploy a lost lab host's labs elsewhere")
    def evacuate(self, request, queryset):
        self._each(request, queryset, labhost_actions.evacuate)

    @admin.action(description="Garbage collection, dry run (the report shows on the lab host)")
    def gc_dry_run(self, request, queryset):
        self._each(request, queryset, lambda h: labhost_actions.collect_on(h, dry_run=True))

    @admin.action(description="Garbage collection: take down what belongs to no lab")
    def gc(self, request, queryset):
        self._each(request, queryset, lambda h: labhost_actions.collect_on(h, dry_run=False))


class ProjectionAdmin(admin.ModelAdmin):
    list_display = ["name", "lab", "kind"]
    list_filter = ["kind", "lab"]
    search_fields = ["name", "lab__name"]
    list_select_related = ["lab"]
    readonly_fields = ["lab", "name", "kind", "data"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(Node, ProjectionAdmin)
admin.site.register(Network, ProjectionAdmin)
admin.site.register(Link, ProjectionAdmin)


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["id", "lab", "kind", "status", "labhost", "created", "finished"]
    list_filter = ["kind", "status", "labhost", "created"]
    search_fields = ["lab__name", "log", "error"]
    list_select_related = ["lab"]
    readonly_fields = ["created", "started", "finished"]


@admin.register(LabEvent)
class LabEventAdmin(admin.ModelAdmin):
    list_display = ["time", "lab", "kind", "message"]
    list_filter = ["kind", "lab__labhost", "time"]
    search_fields = ["message", "lab__name"]
    list_select_related = ["lab"]


@admin.register(Capture)
class CaptureAdmin(admin.ModelAdmin):
    list_display = ["id", "lab", "node", "iface", "status", "created"]
    list_filter = ["status"]
    search_fields = ["lab__name", "node"]
    list_select_related = ["lab"]
    exclude = ["pcap"]


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    """The key that marks what this installation's lab hosts make: shown, never changed."""

    list_display = ("key",)
    readonly_fields = ("key",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Share links: the token is never shown (only its hash is kept); revoke by setting `revoked`."""

    list_display = ["id", "lab", "label", "mode", "created_by", "expires", "revoked", "last_used", "uses"]
    list_filter = ["mode", "present"]
    search_fields = ["label", "lab__name", "created_by__username"]
    list_select_related = ["lab", "created_by"]
    readonly_fields = ["token_hash", "snapshot", "created", "last_used", "uses"]


@admin.register(ImageRule)
class ImageRuleAdmin(admin.ModelAdmin):
    """The images labs may name (first match by order decides; others are refused)."""

    list_display = ["pattern", "use_instead", "order", "note"]
    list_editable = ["use_instead", "order"]
    search_fields = ["pattern", "use_instead", "note"]


@admin.register(StitchVni)
class StitchVniAdmin(admin.ModelAdmin):
    """The VNIs stitching labs across lab hosts: which lab and segment holds each."""

    list_display = ["number", "lab", "tag", "bridge", "created"]
    search_fields = ["lab__name", "tag", "=number"]
    list_select_related = ["lab"]
    readonly_fields = ["number", "lab", "tag", "bridge", "created"]
