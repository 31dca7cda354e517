from rest_framework.permissions import BasePermission

from accounts.roles import user_roles


class HasRole(BasePermission):
    """An authenticated user with at least one Herald role; everyone else sees nothing."""

    message = "Your account has no Herald role. Ask an Admin to give you one."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return bool(user_roles(request.user))
