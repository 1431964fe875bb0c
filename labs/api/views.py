"""API views: labs and their topology, validation, import and export, node kinds."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from labs import controls, labfiles, lifecycle
from labs.access import watchable
from labs.models import Capture, Lab
from labs.snapshots import full_snapshot
from labs.store.documents import document_version, edit_document, save_document
from topology.document import LabDoc
from topology.kinds import REGISTRY

from .control import controlled, refused, valid_data
from .documents import RawDocumentParser, document_text
from .errors import problems_response
from .parts import LinkViewSet, NetworkViewSet, NodeViewSet
from .serializers import (
    CableSerializer,
    CaptureSerializer,
    ImpairmentSerializer,
    KindSerializer,
    LabEventSerializer,
    LabSerializer,
    NodeNameSerializer,
    OperationSerializer,
    ProblemsSerializer,
    TraceSerializer,
)

# content type and file name ending of each export format
EXPORTS = {
    "yaml": ("application/yaml", ".yaml"),
    "json": ("application/json", ".json"),
    "containerlab": ("application/yaml", ".clab.yml"),
    "kathara": ("application/zip", "-kathara.zip"),
    "docker": ("text/x-shellscript", "-docker.sh"),
}


DOCUMENT_BODY = {
    "application/yaml": OpenApiTypes.STR,
    "application/json": OpenApiTypes.OBJECT,
    "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
}
DOCUMENT_PARSERS = [MultiPartParser, JSONParser, RawDocumentParser]


class LabInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "lab_in_use"


class LabViewSet(viewsets.ModelViewSet):
    """Your labs. Import, export and validate work on whole lab documents."""

    serializer_class = LabSerializer
    WATCHED = {"retrieve", "export", "operations", "state", "events"}  # what a watcher may read

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Lab.objects.none()
        if self.request.method == "GET" and self.action in self.WATCHED:
            return watchable(self.request.user).select_related("owner")
        return Lab.objects.filter(owner=self.request.user).select_related("owner")

    def perform_destroy(self, lab):
        if lab.status not in ("draft", "stopped", "failed"):
            raise LabInUse(f"lab {lab.slug} is {lab.status}: destroy it first")
        lab.delete()

    def perform_create(self, serializer):
        fields = serializer.validated_data
        doc = LabDoc(name=fields["name"], description=fields.get("description", ""))
        serializer.instance, _ = save_document(doc, self.request.user, labhost=settings.WIRELAB_LABHOST)

    def perform_update(self, serializer):
        fields = {k: v for k, v in serializer.validated_data.items() if k in ("name", "description")}
        serializer.instance, _ = edit_document(serializer.instance, lambda data: data.update(fields))

    @extend_schema(responses=ProblemsSerializer)
    @action(detail=True, methods=["get"])
    def validate(self, request, pk=None):
        """Every problem of the stored lab; `valid` is false when any is an error."""
        return problems_response(labfiles.lab_problems(self.get_object()), status.HTTP_200_OK)

    @extend_schema(request=DOCUMENT_BODY, responses=ProblemsSerializer)
    @action(detail=True, methods=["post"], url_path="check", parser_classes=DOCUMENT_PARSERS)
    def check_change(self, request, pk=None):
        """Every problem of a document as this lab's next version, without storing it: what
        saving it would say, the rules on changing this lab (an exercise's locks) included."""
        problems = labfiles.check_text(document_text(request), self.get_object())
        return problems_response(problems, status.HTTP_200_OK)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "as", str, enum=list(labfiles.EXPORT_FORMATS),
                description="yaml or json (a Wirelab document), containerlab (a .clab.yml file), kathara "
                "(a zipped Kathará lab folder) or docker (its containers as the docker commands making them)",
            )
        ],
        responses={
            (200, "application/yaml"): OpenApiTypes.STR,
            (200, "application/zip"): OpenApiTypes.BINARY,
            (200, "text/x-shellscript"): OpenApiTypes.STR,
        },
    )  # fmt: skip
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """The lab as a document, to save, share or import elsewhere (here, containerlab or Kathará)."""
        lab = self.get_object()
        fmt = request.query_params.get("as", "yaml")
        if fmt not in labfiles.EXPORT_FORMATS:
            raise ValidationError({"as": f"one of {', '.join(labfiles.EXPORT_FORMATS)}"})
        content_type, name = EXPORTS[fmt]
        response = HttpResponse(labfiles.export_lab(lab, fmt), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{lab.slug}{name}"'
        response["ETag"] = f'"{document_version(lab.document)}"'  # what a save sends as If-Match
        return response

    @extend_schema(request=DOCUMENT_BODY, responses={201: LabSerializer, 400: ProblemsSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=DOCUMENT_PARSERS)
    def import_document(self, request):
        """Create a lab from a Wirelab document or a containerlab file."""
        lab, problems = labfiles.import_lab(document_text(request), request.user)
        data = LabSerializer(lab, context={"request": request}).data
        data["problems"] = [p.as_dict() for p in problems]
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: OperationSerializer, 400: ProblemsSerializer})
    @action(detail=True, methods=["post"])
    def deploy(self, request, pk=None):
        """Build the lab on its lab host, or apply the difference to a running lab."""
        return self._operation(lifecycle.request_deploy, request)

    @extend_schema(request=None, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"], url_path="destroy")
    def destroy_lab(self, request, pk=None):
        """Take the lab down on its lab host; its topology stays."""
        return self._operation(lifecycle.request_destroy, request)

    def _operation(self, request_fn, request):
        try:
            op = request_fn(self.get_object(), request.user)
        except lifecycle.OperationRefused as exc:
            return refused(exc)
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OperationSerializer(many=True))
    @action(detail=True, methods=["get"])
    def operations(self, request, pk=None):
        """The lab's jobs (deploys, destroys, controls, commands), newest first, with their logs."""
        ops = self.get_object().operations.all()[:50]
        return Response(OperationSerializer(ops, many=True).data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def state(self, request, pk=None):
        """The live snapshot: nodes, links, ports, counters, impairments, with its `seq`."""
        return Response(full_snapshot(self.get_object()))

    @extend_schema(responses=LabEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        """The lab's history, newest first: deploys, failures, link and node changes."""
        rows = self.get_object().events.all()[:200]
        return Response(LabEventSerializer(rows, many=True).data)

    @extend_schema(request=CableSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def cable(self, request, pk=None):
        """Pull (`plugged: false`) or plug the cable of one interface, `node` and `iface`."""
        data = valid_data(CableSerializer, request)
        ends = [(data.get("node", ""), data.get("iface", ""))]
        return controlled(controls.request_cable, self.get_object(), ends, data["plugged"], user=request.user)

    @extend_schema(request=ImpairmentSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def impair(self, request, pk=None):
        """Impair what one interface receives (all zero clears it)."""
        data = valid_data(ImpairmentSerializer, request)
        ends = [(data.pop("node", ""), data.pop("iface", ""))]
        return controlled(controls.request_impairment, self.get_object(), ends, data, user=request.user)

    @extend_schema(request=NodeNameSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def nat(self, request, pk=None):
        """Read the NAT rules (with packet and byte counters) and the tracked connections of a
        running emulated host, `node`; the operation's result holds `rules` and `connections`."""
        data = valid_data(NodeNameSerializer, request)
        return controlled(controls.request_nat, self.get_object(), data["node"], user=request.user)

    @extend_schema(request=TraceSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def trace(self, request, pk=None):
        """Trace a probe (`protocol` icmp, tcp or udp, to `target` and `port`) from `node`: the
        operation's result is its journey: `hops` in order (node or cable, interface, direction,
        the packet as seen there, each `rewrite` with conntrack's entry, a VXLAN `tunnel`), and its
        `outcome` (reached, refused, unreachable, no-route, lost, timeout: where, and why)."""
        data = valid_data(TraceSerializer, request)
        node = data.pop("node")
        return controlled(controls.request_trace, self.get_object(), node, data, user=request.user)

    @extend_schema(request=CaptureSerializer, responses={202: CaptureSerializer})
    @action(detail=True, methods=["get", "post"])
    def captures(self, request, pk=None):
        """Captures of this lab; POST starts one on `node`:`iface` for `seconds`."""
        lab = self.get_object()
        if request.method == "GET":
            return Response(CaptureSerializer(lab.captures.all()[:50], many=True).data)
        data = valid_data(CaptureSerializer, request)
        try:
            cap = controls.request_capture(lab, data["node"], data["iface"], data.get("seconds", 10),
                                           data.get("max_bytes", 2_000_000))  # fmt: skip
        except lifecycle.OperationRefused as exc:
            return refused(exc)
        return Response(CaptureSerializer(cap).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DOCUMENT_BODY, responses={200: LabSerializer, 400: ProblemsSerializer})
    @action(detail=True, methods=["put"], parser_classes=DOCUMENT_PARSERS)
    def document(self, request, pk=None):
        """Replace the lab's whole topology with a document; addresses given before are kept.
        With `If-Match: <document_version>` the save is refused (412) when the stored document
        changed since that version, so an editor never overwrites a change made meanwhile."""
        based_on = request.headers.get("If-Match", "").strip().strip('"') or None
        try:
            lab, problems = labfiles.replace_lab(self.get_object(), document_text(request), based_on)
        except labfiles.StaleDocument as exc:
            current = document_version(Lab.objects.get(id=pk).document)
            detail = f"{exc}: what is stored now is shown, make your change again"
            return Response(
                {"detail": detail, "document_version": current}, status=status.HTTP_412_PRECONDITION_FAILED
            )
        data = LabSerializer(lab, context={"request": request}).data
        data["problems"] = [p.as_dict() for p in problems]
        return Response(data)


class KindViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The node kinds this Wirelab knows (public: a shared lab's page draws with them)."""

    serializer_class = KindSerializer
    permission_classes = [AllowAny]
    pagination_class = None

    def get_queryset(self):
        return list(REGISTRY.values())


class ValidateDocumentView(APIView):
    """Check a document without storing it: every problem, with its path."""

    parser_classes = DOCUMENT_PARSERS

    @extend_schema(request=DOCUMENT_BODY, responses=ProblemsSerializer)
    def post(self, request):
        problems = labfiles.check_text(document_text(request))
        return problems_response(problems, status.HTTP_200_OK)


class CaptureViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Captures of your labs; `pcap/` downloads one for Wireshark."""

    serializer_class = CaptureSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Capture.objects.none()
        return Capture.objects.filter(lab__owner=self.request.user)

    @extend_schema(responses={(200, "application/vnd.tcpdump.pcap"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def pcap(self, request, pk=None):
        cap = self.get_object()
        if cap.status != Capture.Status.DONE:
            return Response({"detail": f"the capture is {cap.status}"}, status=status.HTTP_409_CONFLICT)
        response = HttpResponse(bytes(cap.pcap), content_type="application/vnd.tcpdump.pcap")
        response["Content-Disposition"] = f'attachment; filename="{cap.lab.slug}-{cap.node}-{cap.iface}.pcap"'
        return response


__all__ = ["LinkViewSet", "NetworkViewSet", "NodeViewSet"]
