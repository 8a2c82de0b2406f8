"""The routes of a collection the caller keeps by name (``ttai.services.named``: watchlists, screeners): list by name,
read, create or replace, delete.

Each collection's route module adds them to its own router with its own models. Powertools reads a handler's
signature for validation, serialization and the OpenAPI document, so each handler is given the collection's types and a
name of its own (``list_watchlists``...; the operation id is made from it), as if written out in that module.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NamedTuple, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, TypeAdapter

from ttai.cursors import Page
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Cursor, Limit, NamePath, path_text
from ttai.http.replies import no_content
from ttai.services.named import NamedRepository

Handler = TypeVar("Handler", bound=Callable[..., Any])


class Collection(NamedTuple):
    """A collection as its routes show it: where (``/watchlists``), its rows called what, their models, how a name is
    checked, and anything its delete summary must add (what a delete leaves)."""

    path: str
    noun: str
    item: type[BaseModel]
    body: type[BaseModel]
    name: TypeAdapter[str]
    on_delete: str = ""


def _page_of(item: type[BaseModel]) -> Any:
    """``Page[item]`` for a model known only at run time (a type checker reads only written-out parameters)."""
    pages: Any = Page
    return pages[item]


def _as(handler: Handler, name: str, **types: Any) -> Handler:
    handler.__name__ = handler.__qualname__ = name
    handler.__annotations__ = {**handler.__annotations__, **types}
    return handler


def add_named_routes(
    router: Router, collection: Collection, repository: Callable[[], NamedRepository[Any, Any]]
) -> Callable[[str], str]:
    """Add the collection's four routes to ``router``; returns how its routes read a ``<name>`` path parameter."""
    path, noun, plural = collection.path, collection.noun, collection.path.strip("/")

    def name_of(raw: str) -> str:
        return path_text(collection.name, raw, "name")

    def list_items(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[Any]:
        return repository().list(limit, cursor)

    def get_item(name: NamePath) -> Any:
        return repository().get(name_of(name))

    def put_item(name: NamePath, body: Any) -> Any:
        return repository().put(name_of(name), body)

    def delete_item(name: NamePath) -> Response[None]:
        repository().delete(name_of(name))
        return no_content()

    router.get(path, summary=f"The caller's {plural}, by name", responses=responses(HTTPStatus.BAD_REQUEST))(
        _as(list_items, f"list_{plural}", **{"return": _page_of(collection.item)})
    )
    router.get(f"{path}/<name>", summary=f"One {noun}", responses=responses(HTTPStatus.NOT_FOUND))(
        _as(get_item, f"get_{noun}", **{"return": collection.item})
    )
    router.put(f"{path}/<name>", summary=f"Create or replace a {noun}", responses=responses(HTTPStatus.CONFLICT))(
        _as(put_item, f"put_{noun}", body=collection.body, **{"return": collection.item})
    )
    router.delete(
        f"{path}/<name>",
        summary=f"Delete a {noun}{collection.on_delete}",
        responses=responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, success=HTTPStatus.NO_CONTENT),
    )(_as(delete_item, f"delete_{noun}"))
    return name_of
