"""Shared by the API's control endpoints: read a small request body, queue a control."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response

from labs import lifecycle


def valid_data(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def refused(exc: Exception) -> Response:
    """409 for a request that does not fit the lab as it is, 429 for a limit reached."""
    limited = isinstance(exc, lifecycle.LimitReached)
    code = status.HTTP_429_TOO_MANY_REQUESTS if limited else status.HTTP_409_CONFLICT
    return Response({"detail": str(exc)}, status=code)


def controlled(request_fn, lab, *args, user=None) -> Response:
    try:
        op = request_fn(lab, *args, user=user)
    except lifecycle.OperationRefused as exc:
        return refused(exc)
    return Response({"queued": True, "operation": op.id}, status=status.HTTP_202_ACCEPTED)
