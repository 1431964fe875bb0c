"""Every model of the project in the Django admin, with useful columns, filters and search.

The node, network and link rows are a projection of each lab's document: they are shown
read-only, and a lab's topology is changed through its document."""

from django.contrib import admin

from .models import Capture, ImageRule, Installation, Lab, LabEvent, Link, Network, Node, Operation, ShareLink


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner", "status", "labhost", "updated"]
    list_filter = ["status", "labhost", "owner"]
    search_fields = ["name", "slug", "description", "owner__username"]
    readonly_fields = ["uid", "document", "assignments", "created", "updated"]


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
    list_filter = ["kind", "status", "labhost"]
    search_fields = ["lab__name", "log", "error"]
    list_select_related = ["lab"]
    readonly_fields = ["created", "started", "finished"]


@admin.register(LabEvent)
class LabEventAdmin(admin.ModelAdmin):
    list_display = ["time", "lab", "kind", "message"]
    list_filter = ["kind"]
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
