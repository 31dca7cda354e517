from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Perm, has_perm, user_roles


def role_required(perm: Perm = Perm.VIEW) -> Callable[..., Any]:
    """Pages for signed-in users with a Herald role holding `perm`; others get a 403 page."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_roles(request.user):
                return render(request, "accounts/no_role.html", status=403)
            if not has_perm(request.user, perm):
                return render(request, "accounts/forbidden.html", {"perm": perm.value}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
