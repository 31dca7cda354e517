from django.http import HttpRequest

from accounts.roles import user_perms, user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "herald_roles": sorted(r.value for r in user_roles(user)),
        "herald_perms": {p.value for p in user_perms(user)},
    }
