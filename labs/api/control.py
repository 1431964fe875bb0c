"""Shared by the API's control endpoints: read a small request body, queue a control."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response

from labs import controls


def valid_data(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def controlled(request_fn, lab, *args) -> Response:
    try:
        request_fn(lab, *args)
    except controls.ControlRefused as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)
