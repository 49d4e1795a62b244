"""Parameter types shared by the tools of every app (one definition of what a client id is)."""

from typing import Annotated

from pydantic import Field

from .models import CLIENT_ID_PATTERN

ClientId = Annotated[str, Field(pattern=CLIENT_ID_PATTERN, description="Client id ([A-Za-z0-9_-]{1,128})")]
OptionalClientId = Annotated[
    str | None, Field(pattern=CLIENT_ID_PATTERN, description="Client id; null = portfolio")
]
