"""Roles are Django groups; what each role may do is this one table."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(StrEnum):
    MARKETER = "Marketer"
    APPROVER = "Approver"
    ADMIN = "Admin"


class Perm(StrEnum):
    VIEW = "view"
    CREATE = "create"
    EDIT = "edit"
    PUBLISH = "publish"
    STOP = "stop"
    CLONE = "clone"
    ARCHIVE = "archive"
    APPROVE = "approve"
    MANAGE_SETTINGS = "manage_settings"


_CAMPAIGN_WORK = {
    Perm.VIEW,
    Perm.CREATE,
    Perm.EDIT,
    Perm.PUBLISH,
    Perm.STOP,
    Perm.CLONE,
    Perm.ARCHIVE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    # A Marketer is the spec's "creator": builds campaigns and runs them.
    Role.MARKETER: frozenset(_CAMPAIGN_WORK),
    # An Approver reviews; the spec lets approvers edit and publish too.
    Role.APPROVER: frozenset(_CAMPAIGN_WORK | {Perm.APPROVE}),
    Role.ADMIN: frozenset(set(Perm)),
}


def user_roles(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[Role]:
    """The user's roles, read once per request object and cached on it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_herald_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        cached = frozenset(role for role in Role if role.value in names)
        if user.is_superuser:  # type: ignore[attr-defined]
            cached = cached | {Role.ADMIN}
        user._herald_roles = cached  # type: ignore[union-attr]
    return cached


def user_perms(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[Perm]:
    perms: set[Perm] = set()
    for role in user_roles(user):
        perms |= ROLE_PERMISSIONS[role]
    return frozenset(perms)


def has_perm(user: AbstractBaseUser | AnonymousUser | None, perm: Perm) -> bool:
    return perm in user_perms(user)
