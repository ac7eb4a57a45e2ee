"""Who is calling the API: the bearer token of an ``Authorization`` header (the OAuth2
password flow's), looked up through :func:`spinecare.http.deps.principal_of_token`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from spinecare.http.deps import get_db, get_settings, principal_of_token
from spinecare.http.settings import Settings
from spinecare.store.accounts import Principal
from spinecare.store.db import Database

NOT_AUTHENTICATED = "Not authenticated"
INVALID_TOKEN = "Invalid or expired token"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


async def current_principal(request: Request,
                            token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise unauthorized(NOT_AUTHENTICATED)
    who = await principal_of_token(request, token)
    if who is None:
        raise unauthorized(INVALID_TOKEN)
    return who


Caller = Annotated[Principal, Depends(current_principal)]
DB = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
