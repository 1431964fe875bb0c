"""Nodes, networks and links as REST resources: each write is an edit of the lab's
document, checked by the one `validate()` and stored, or refused with every problem."""

from __future__ import annotations

from typing import NoReturn

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from labs import controls
from labs.models import Lab, Link, Network, Node
from labs.store.documents import edit_document
from labs.store.projection import link_name
from topology.problems import TopologyError, error, join_path

from .control import controlled, valid_data
from .serializers import (
    CableSerializer,
    ImpairmentSerializer,
    LinkSerializer,
    NetworkSerializer,
    NodeActionSerializer,
    NodeSerializer,
)

ROW_FIELDS = ("id", "lab")


def _refuse(path: str, message: str) -> NoReturn:
    raise TopologyError([error(path, message)])


class DocumentPartViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Shared by nodes, networks and links: parts of your own labs, filterable by `?lab=ID`.

    Reads come from the rows projected from each document; writes edit the document.
    """

    model: type[Node] | type[Network] | type[Link]
    section = ""  # the document's section: nodes, networks or links
    named = True  # links are known by their ends, not a name

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        qs = self.model.objects.filter(lab__owner=self.request.user).select_related("lab")
        lab = self.request.query_params.get("lab")
        if lab is not None:
            qs = qs.filter(lab_id=lab) if lab.isdigit() else qs.none()
        return qs

    # Writes -------------------------------------------------------------------------

    def create(self, request, *args, **kwargs):
        payload = self._payload(request)
        lab = self._own_lab(payload.pop("lab", None))
        name = self._name_of(payload)

        def add(data: dict) -> None:
            self._insert(data, name, payload, lab)

        lab, _ = edit_document(lab, add)
        shown = name if self.named else link_name(payload.get("endpoints", []))
        return Response(self._shown(lab, shown), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        row = self.get_object()
        payload = self._payload(request)
        moved_to = payload.pop("lab", row.lab_id)
        if str(moved_to) != str(row.lab_id):
            _refuse("lab", f"a {self.section[:-1]} stays in its lab; create it in the other lab instead")
        partial = kwargs.get("partial", False)
        new_name = self._name_of(payload, default=row.name) if self.named else None

        def change(data: dict) -> None:
            old = self._take(data, row.name)
            item = {**old, **payload} if partial else payload
            self._insert(data, new_name or row.name, item, row.lab, at=old.get("__index"))

        lab, _ = edit_document(row.lab, change)
        shown_name = new_name or self._link_name_after(payload, row)
        return Response(self._shown(lab, shown_name))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, row):
        edit_document(row.lab, lambda data: self._take(data, row.name))

    # Helpers --------------------------------------------------------------------------

    def _payload(self, request) -> dict:
        if not isinstance(request.data, dict):
            _refuse("", "send a JSON object")
        return {k: v for k, v in request.data.items() if k != "id"}

    def _own_lab(self, lab_id) -> Lab:
        lab = (
            Lab.objects.filter(id=lab_id, owner_id=self.request.user.pk).first()
            if str(lab_id).isdigit()
            else None
        )
        if lab is None:
            _refuse("lab", "name one of your labs by its id")
        return lab

    def _name_of(self, payload: dict, default: str | None = None) -> str | None:
        if not self.named:
            return None
        name = payload.pop("name", default)
        if not isinstance(name, str) or not name:
            _refuse("name", "this field is required")
        return name

    def _take(self, data: dict, name: str) -> dict:
        """Remove an element from document data; returns it (with its place for links)."""
        if self.named:
            section = data.get(self.section, {})
            if name not in section:
                _refuse(join_path(self.section, str(name)), "it changed meanwhile; read it again")
            keys = list(section)
            item = section.pop(name)
            return {**item, "__index": keys.index(name)}
        links = data.get("links", [])
        for index, item in enumerate(links):
            if link_name(item.get("endpoints", [])) == name:
                return {**links.pop(index), "__index": index}
        return _refuse("links", "the link changed meanwhile; read it again")

    def _insert(self, data: dict, name: str | None, item: dict, lab: Lab, at: int | None = None) -> None:
        item = {k: v for k, v in item.items() if k != "__index"}
        if not self.named:
            links = data.setdefault("links", [])
            links.insert(len(links) if at is None else at, item)
            return
        section = data.setdefault(self.section, {})
        if name in section:
            _refuse(join_path(self.section, str(name)), f"lab {lab.slug} already has a {self.section[:-1]} "
                    f"named '{name}'")  # fmt: skip
        entries = list(section.items())
        entries.insert(len(entries) if at is None else at, (name, item))
        data[self.section] = dict(entries)

    def _link_name_after(self, payload: dict, row) -> str:
        return link_name(payload["endpoints"]) if isinstance(payload.get("endpoints"), list) else row.name

    def _shown(self, lab: Lab, name: str) -> dict:
        return self.get_serializer(self.model.objects.get(lab=lab, name=name)).data


class NodeActionThrottle(UserRateThrottle):
    """Node actions per user (WIRELAB_NODE_ACTION_RATE), besides the API's own rate."""

    scope = "node_actions"


@extend_schema(parameters=[OpenApiParameter("lab", int, description="only this lab's nodes")])
class NodeViewSet(DocumentPartViewSet):
    """Nodes as in the lab document (`interfaces`, `ports`, `position`, ...)."""

    model, section = Node, "nodes"
    serializer_class = NodeSerializer

    @extend_schema(request=NodeActionSerializer, responses={202: None})
    @action(detail=True, methods=["post"], url_path="action", throttle_classes=[NodeActionThrottle])
    def node_action(self, request, pk=None):
        """Stop, start or restart the node; after a start its links come back."""
        node = self.get_object()
        data = valid_data(NodeActionSerializer, request)
        return controlled(
            controls.request_node_action, node.lab, node.name, data["action"], user=request.user
        )


@extend_schema(parameters=[OpenApiParameter("lab", int, description="only this lab's networks")])
class NetworkViewSet(DocumentPartViewSet):
    """Segments, bridges and overlays."""

    model, section = Network, "networks"
    serializer_class = NetworkSerializer


@extend_schema(parameters=[OpenApiParameter("lab", int, description="only this lab's links")])
class LinkViewSet(DocumentPartViewSet):
    """Point-to-point links, known by their two ends."""

    model, section, named = Link, "links", False
    serializer_class = LinkSerializer

    @extend_schema(request=CableSerializer, responses={202: None})
    @action(detail=True, methods=["post"], url_path="cable")
    def link_cable(self, request, pk=None):
        """Pull or plug the cable: both ends lose (or get back) their carrier."""
        link = self.get_object()
        data = valid_data(CableSerializer, request)
        return controlled(controls.request_cable, link.lab, _ends(link), data["plugged"], user=request.user)

    @extend_schema(request=ImpairmentSerializer, responses={202: None})
    @action(detail=True, methods=["post"], url_path="impair")
    def link_impair(self, request, pk=None):
        """Impair the link in both directions (all zero clears it)."""
        link = self.get_object()
        data = valid_data(ImpairmentSerializer, request)
        data.pop("node", None), data.pop("iface", None)
        return controlled(controls.request_impairment, link.lab, _ends(link), data, user=request.user)


def _ends(link) -> list[tuple[str, str]]:
    return [tuple(end.split(":", 1)) for end in link.data["endpoints"]]
