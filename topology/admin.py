"""Every topology model in the Django admin, with useful columns, filters and search."""

from django.contrib import admin

from .models import Interface, Lab, Link, Network, Node, PortMapping


class InterfaceInline(admin.TabularInline):
    model = Interface
    extra = 0


class PortInline(admin.TabularInline):
    model = PortMapping
    extra = 0


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner", "status", "labhost", "updated"]
    list_filter = ["status", "labhost", "owner"]
    search_fields = ["name", "slug", "description", "owner__username"]
    readonly_fields = ["created", "updated"]


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "lab", "kind", "image", "host", "mode"]
    list_filter = ["kind", "mode", "lab"]
    search_fields = ["name", "image", "lab__name"]
    list_select_related = ["lab", "host"]
    inlines = [InterfaceInline, PortInline]


@admin.register(Interface)
class InterfaceAdmin(admin.ModelAdmin):
    list_display = ["name", "node", "network", "address"]
    list_filter = ["node__lab", "network"]
    search_fields = ["name", "node__name", "address"]
    list_select_related = ["node__lab", "network"]


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = ["name", "lab", "kind", "subnet", "host"]
    list_filter = ["kind", "lab"]
    search_fields = ["name", "subnet", "lab__name"]
    list_select_related = ["lab", "host"]


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["__str__", "lab", "subnet"]
    list_filter = ["lab"]
    search_fields = ["a__node__name", "b__node__name", "lab__name"]
    list_select_related = ["lab", "a__node", "b__node"]


@admin.register(PortMapping)
class PortMappingAdmin(admin.ModelAdmin):
    list_display = ["node", "host_port", "container_port", "protocol"]
    list_filter = ["protocol", "node__lab"]
    search_fields = ["node__name"]
    list_select_related = ["node__lab"]
