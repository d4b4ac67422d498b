"""Errors of the client: the server's status code and message, unchanged."""
from typing import List, Tuple

import grpc


class KgError(Exception):
    """A call failed: `code` is the grpc.StatusCode, `message` the server's message (or the
    channel's, e.g. "failed to connect to all addresses"), `method` the RPC."""

    def __init__(self, code: grpc.StatusCode, message: str, method: str = ""):
        self.code = code
        self.message = message
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {message}")

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, method: str = "") -> "KgError":
        return cls(error.code(), error.details() or "", method)


class KgItemError(KgError):
    """Some items of a batch failed (the call itself succeeded). `failures` lists
    (index in the request, grpc.StatusCode, message); `response` is the whole reply (or the
    replies' items, for helpers that split a batch), so the items that succeeded are not lost.
    `code` is the first failure's."""

    def __init__(self, method: str, failures: List[Tuple[int, grpc.StatusCode, str]], response):
        self.failures = failures
        self.response = response
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(first[1], f"item {first[0]}: {first[2]}{more}", method)


class KgCallsError(KgError):
    """Calls of a call_many failed. `failures` lists (index in the requests, KgError), in
    order; `replies` has every reply, None where the call failed. `code` and `message` are
    the first failure's, unchanged."""

    def __init__(self, method: str, failures: List[Tuple[int, KgError]], replies: list):
        self.failures = failures
        self.replies = replies
        first = failures[0][1]
        super().__init__(first.code, first.message, method)


_CODES = {c.value[0]: c for c in grpc.StatusCode}


def status_code(number: int) -> grpc.StatusCode:
    """The grpc.StatusCode of a numeric code (ItemStatus.code)."""
    return _CODES.get(number, grpc.StatusCode.UNKNOWN)
