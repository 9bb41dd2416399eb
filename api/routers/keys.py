"""``/v1/keys``: an admin manages the API keys of its own tenant."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from allocator_api.deps import Admin, KeysDep
from allocator_api.errors import error_responses, not_found
from allocator_api.idempotency import IdempotencyDep
from allocator_api.schemas import KeyCreatedOut, KeyIn, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post(
    "",
    operation_id="create_key",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreatedOut,
    responses=error_responses(401, 403, 409, 413, 422),
    summary="Make a key for this tenant (the secret is in this answer only)",
)
def create_key(body: KeyIn, admin: Admin, keys: KeysDep, idem: IdempotencyDep) -> KeyCreatedOut:
    row, token = keys.create(admin.tenant, body.role, body.name, commit=idem.commits)
    made = KeyCreatedOut(**KeyOut.of(row).model_dump(), key=token)
    return idem.answer(made, status.HTTP_201_CREATED, secret="key")  # the secret is not kept


@router.get(
    "",
    operation_id="list_keys",
    response_model=list[KeyOut],
    responses=error_responses(401, 403),
    summary="This tenant's keys (never their secrets)",
)
def list_keys(admin: Admin, keys: KeysDep) -> list[KeyOut]:
    return [KeyOut.of(r) for r in keys.list(admin.tenant)]


@router.delete(
    "/{key_id}",
    operation_id="revoke_key",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
    summary="Revoke a key of this tenant",
)
def revoke_key(key_id: str, admin: Admin, keys: KeysDep) -> Response:
    if not keys.revoke(admin.tenant, key_id):
        raise not_found("key")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
