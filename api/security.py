"""API keys: tokens, hashes, roles.

A key is ``alk_`` + 43 url-safe characters (32 random bytes). Only its SHA-256 is stored; the
token is shown once, when it is made. Roles are ordered: ``viewer`` reads, ``planner`` also
writes and solves, ``admin`` also manages the keys of its tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "planner", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "planner", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
TOKEN_PREFIX = "alk_"
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


def valid_tenant(tenant: str) -> bool:
    return bool(TENANT_PATTERN.match(tenant))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, tenant and role."""

    key_id: str
    tenant: str
    role: Role

    def allows(self, needed: Role) -> bool:
        return _RANK[self.role] >= _RANK[needed]
