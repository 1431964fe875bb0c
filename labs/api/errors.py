"""API errors: topology problems become a 400 listing every problem."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from topology.problems import TopologyError


def problems_response(problems, status_code=status.HTTP_400_BAD_REQUEST) -> Response:
    return Response(
        {
            "valid": not any(p.severity == "error" for p in problems),
            "problems": [p.as_dict() for p in problems],
        },
        status=status_code,
    )


def exception_handler(exc, context):
    if isinstance(exc, TopologyError):
        return problems_response(exc.problems)
    return drf_exception_handler(exc, context)
