"""`/api/inbox/`: the teachers' messages to the courses a person is in, unread first counted;
`/api/inbox/read/` marks them all read."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import messages


class InboxView(APIView):
    """Your courses' messages from their teachers: the last few, each marked unread or not."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(messages.inbox(request.user))


class InboxReadView(APIView):
    """Mark every message of your courses read: they stop being shown until the next one."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        messages.mark_read(request.user)
        return Response(messages.inbox(request.user))
