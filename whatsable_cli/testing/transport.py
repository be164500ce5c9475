"""Posts a test request in-process to an ASGI or WSGI app, or over HTTP to a URL, with httpx's transports."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from whatsable_cli.testing.answer import Answer
from whatsable_cli.testing.requests import SignedRequest

BASE_URL = "http://testserver"


def _answer(response: httpx.Response) -> Answer:
    return Answer(response.status_code, list(response.headers.multi_items()), response.content)


async def apost_asgi(app: Any, request: SignedRequest, path: str = "/webhook") -> Answer:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, follow_redirects=False) as client:
        response = await client.request(request.method, path, content=request.body, headers=request.headers)
    return _answer(response)


def post_asgi(app: Any, request: SignedRequest, path: str = "/webhook") -> Answer:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(apost_asgi(app, request, path))
    raise RuntimeError("post_asgi runs an event loop of its own: in an async test, `await whatsable.apost_asgi(...)`")


def post_wsgi(app: Any, request: SignedRequest, path: str = "/webhook") -> Answer:
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=BASE_URL, follow_redirects=False) as client:
        response = client.request(request.method, path, content=request.body, headers=request.headers)
    return _answer(response)


def post_url(url: str, request: SignedRequest, *, timeout: float = 10.0) -> Answer:
    with httpx.Client(follow_redirects=False, timeout=timeout) as client:
        response = client.request(request.method, url, content=request.body, headers=request.headers)
    return _answer(response)
