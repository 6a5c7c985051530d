"""The one error type actions raise: a code for machines, a sentence for people, an HTTP status."""

from __future__ import annotations


class ActionError(Exception):
    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def not_found(what: str = "That") -> ActionError:
    # Missing and forbidden look the same from outside.
    return ActionError("not_found", f"{what} was not found.", 404)
