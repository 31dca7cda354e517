"""API sign-in (a token for a username and password) and who the caller is."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Perm, Role, user_perms, user_roles
from config.api_errors import ErrorSerializer

_ERROR = ErrorSerializer


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as the header "Authorization: Token <token>".')


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenView(ObtainAuthToken):
    """The caller's API token (the same one on every call), for a username and password."""

    # A sign-in takes no credentials of its own, so a browser session's CSRF check does not apply.
    authentication_classes = ()
    # JSON, like every other endpoint of the API.
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Get an API token",
        description="Exchange a username and password for the account's API token. Accounts "
        "without a Herald role get no token (403), as they could use it for nothing.",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 400: _ERROR, 403: _ERROR},
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if not user_roles(user):
            raise PermissionDenied(HasRole.message)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=[r.value for r in Role]))
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=[p.value for p in Perm])
    )


class MeView(APIView):
    """Who the caller is, their roles and what those roles allow."""

    @extend_schema(summary="The signed-in user", responses={200: MeSerializer, 403: _ERROR})
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "email": getattr(user, "email", ""),
                "roles": sorted(role.value for role in user_roles(user)),
                "permissions": sorted(perm.value for perm in user_perms(user)),
            }
        )
