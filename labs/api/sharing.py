"""Share links over the API: the owner's (`/api/shares/`) and the visitor's (`/api/shared/`).

A visitor's requests carry the token in the `X-Wirelab-Share` header, never in the URL.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from labs import sharing
from labs.models import Lab, ShareLink
from labs.snapshots import full_snapshot, published_ports

from .serializers import LabSerializer, handed_out_addresses

TOKEN_HEADER = OpenApiParameter(
    "X-Wirelab-Share", str, OpenApiParameter.HEADER, required=True, description="the share link's token"
)
LONGEST_LIFE = timedelta(days=365)


class ShareLinkThrottle(UserRateThrottle):
    """Links one user may make (WIRELAB_SHARE_LINK_RATE)."""

    scope = "share_links"


class ShareUseThrottle(SimpleRateThrottle):
    """Uses of share links from one address, known tokens and unknown ones alike
    (WIRELAB_SHARE_USE_RATE): guessing costs a minute per handful of guesses."""

    scope = "share_use"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ShareLinkSerializer(serializers.ModelSerializer):
    lab = serializers.PrimaryKeyRelatedField(queryset=Lab.objects.none(), help_text="one of your labs")
    snapshot = serializers.BooleanField(
        default=False, help_text="show the lab as it is now, not the live lab (no live state)"
    )
    status = serializers.SerializerMethodField(help_text="open, expired or revoked")
    viewers = serializers.SerializerMethodField(help_text="view sockets connected now (null: unknown)")

    class Meta:
        model = ShareLink
        fields = ["id", "lab", "label", "mode", "present", "snapshot", "expires", "status", "viewers",
                  "created", "last_used", "uses", "revoked"]  # fmt: skip
        read_only_fields = ["created", "last_used", "uses", "revoked"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["lab"].queryset = Lab.objects.filter(owner=request.user)

    def to_representation(self, link):
        data = super().to_representation(link)
        data["snapshot"] = link.snapshot is not None
        return data

    def get_status(self, link) -> str:
        return sharing.status_of(link)

    def get_viewers(self, link) -> int | None:
        viewers = self.context.get("viewers", {})
        return None if viewers is None else viewers.get(link.id, 0)

    def validate_expires(self, value):
        if value is not None and value > timezone.now() + LONGEST_LIFE:
            raise ValidationError("a link lives a year at most")
        return value


class CreatedShareLinkSerializer(ShareLinkSerializer):
    token = serializers.CharField(read_only=True, help_text="shown this once: only its hash is kept")
    url = serializers.CharField(read_only=True)
    embed_url = serializers.CharField(read_only=True)

    class Meta(ShareLinkSerializer.Meta):
        fields = [*ShareLinkSerializer.Meta.fields, "token", "url", "embed_url"]


@extend_schema(parameters=[OpenApiParameter("lab", int, description="only this lab's links")])
class ShareLinkViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    """Share links of your labs. The token is in the answer to the POST only; DELETE revokes
    a link, which also closes its open view sockets."""

    serializer_class = ShareLinkSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ShareLink.objects.none()
        links = ShareLink.objects.filter(lab__owner=self.request.user).select_related("lab")
        lab = self.request.query_params.get("lab")
        return links.filter(lab_id=lab) if lab and lab.isdigit() else links

    def get_throttles(self):
        if self.action == "create":
            return [*super().get_throttles(), ShareLinkThrottle()]
        return super().get_throttles()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action in ("list", "retrieve"):
            links = list(self.get_queryset()[:500])
            context["viewers"] = sharing.viewers_now(links)
        return context

    @extend_schema(responses={201: CreatedShareLinkSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        try:
            link, token = sharing.create_link(
                fields["lab"], request.user, mode=fields.get("mode", ShareLink.Mode.VIEW),
                label=fields.get("label", ""), expires=fields.get("expires"),
                snapshot=fields.get("snapshot", False), present=fields.get("present", False),
            )  # fmt: skip
        except sharing.ShareRefused as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        link.token = token
        link.url = request.build_absolute_uri(f"/s/#{token}")
        link.embed_url = request.build_absolute_uri(f"/s/embed/#{token}")
        return Response(CreatedShareLinkSerializer(link, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)  # fmt: skip

    def perform_destroy(self, link):
        sharing.revoke(link)


class SharedLabView(APIView):
    """What a share link shows: the lab's name, owner, description, document and published
    ports, read-only. 404 for a token that is unknown, expired or revoked."""

    permission_classes = [AllowAny]
    throttle_classes = [ShareUseThrottle]

    def link(self, request) -> ShareLink:
        link = sharing.find_link(request.META.get(sharing.HEADER))
        if link is None:
            raise NotFound(sharing.GONE)
        return link

    @extend_schema(parameters=[TOKEN_HEADER], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        link = self.link(request)
        sharing.mark_used(link)
        document, assignments = sharing.shared_document(link)
        lab = link.lab
        return Response({
            "mode": link.mode, "label": link.label, "present": link.present, "expires": link.expires,
            "snapshot": link.snapshot is not None,
            "lab": {"name": document.get("name", lab.name), "description": document.get("description", ""),
                    "owner": lab.owner.username, "status": lab.status, "status_reason": lab.status_reason,
                    "updated": lab.updated.isoformat()},
            "document": document, "assigned_ports": dict((assignments or {}).get("ports", {})),
            "assigned_addresses": handed_out_addresses(assignments),
            "published": published_ports(lab) if link.can_view and link.snapshot is None else [],
        })  # fmt: skip


class SharedStateView(SharedLabView):
    """The live snapshot of a view link's lab (what the view socket sends on join)."""

    @extend_schema(parameters=[TOKEN_HEADER], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        link = self.link(request)
        if not link.can_view or link.snapshot is not None:
            raise NotFound("this link has no live state to show")
        return Response(full_snapshot(link.lab))


class SharedCloneView(SharedLabView):
    """Copy what a clone link shares into a new, undeployed lab of your own (sign in first)."""

    @extend_schema(parameters=[TOKEN_HEADER], request=None, responses={201: LabSerializer})
    def post(self, request):
        link = self.link(request)
        if not request.user.is_authenticated:
            raise PermissionDenied("sign in to copy this lab into your labs")
        if not link.can_clone:
            raise PermissionDenied("this link is for viewing only")
        lab = sharing.clone(link, request.user)
        data = LabSerializer(lab, context={"request": request}).data
        data["url"] = f"/labs/{lab.id}/"
        return Response(data, status=status.HTTP_201_CREATED)
