"""Routes whose use cases' refusals (:mod:`spinecare.service.errors`) become the door's own
answers: the API's JSON errors, the web's error pages. The use cases stay unaware of HTTP, and
a route cannot forget to translate one."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from spinecare.service.errors import ServiceError

Translate = Callable[[ServiceError], Exception]


def translating_route(translate: Translate) -> type[APIRoute]:
    """An :class:`APIRoute` class raising ``translate(error)`` for a use case's ``error``."""

    class TranslatingRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except ServiceError as exc:
                    raise translate(exc) from None

            return handle

    return TranslatingRoute
