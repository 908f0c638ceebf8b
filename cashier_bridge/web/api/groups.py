"""/api/v1/groups: customer groups and their members."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from cashier_bridge.ids import Id
from cashier_bridge.registry.api_tokens import Principal
from cashier_bridge.web.api.auth import DELETE_GROUP, GROUPS, READ, registry_of
from cashier_bridge.web.api.models import GroupIn, GroupList, GroupOut, Members
from cashier_bridge.web.api.refusals import refusals


def groups_router() -> APIRouter:
    router = APIRouter(prefix="/groups", tags=["groups"])

    @router.get("", response_model=GroupList, summary="Groups, 'All customers' first")
    def list_groups(request: Request, principal: Principal = READ) -> GroupList:
        return GroupList(items=[GroupOut.of(g) for g in registry_of(request).groups.list()])

    @router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED,
                 summary="Create a group", responses=refusals(409))
    def create_group(body: GroupIn, request: Request,
                     principal: Principal = GROUPS) -> GroupOut:
        return GroupOut.of(registry_of(request).groups.create(body.name, actor=principal.actor))

    @router.patch("/{group_id}", response_model=GroupOut, summary="Rename a group",
                  responses=refusals(409))
    def rename_group(group_id: Id, body: GroupIn, request: Request,
                     principal: Principal = GROUPS) -> GroupOut:
        return GroupOut.of(registry_of(request).groups.rename(group_id, body.name,
                                                              actor=principal.actor))

    @router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT,
                   summary="Delete a group; its members return to 'All customers'",
                   responses=refusals(409))
    def delete_group(group_id: Id, request: Request,
                     principal: Principal = DELETE_GROUP) -> Response:
        registry_of(request).groups.delete(group_id, actor=principal.actor)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post("/{group_id}/members", response_model=GroupOut,
                 summary="Put customers in the group")
    def assign_members(group_id: Id, body: Members, request: Request,
                       principal: Principal = GROUPS) -> GroupOut:
        groups = registry_of(request).groups
        groups.assign(group_id, body.customer_ids, actor=principal.actor)
        return GroupOut.of(groups.get(group_id))

    return router
