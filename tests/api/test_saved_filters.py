"""The saved filters API: each user's own named All Campaigns filters; list, save, read, rename,
delete; every error in the project's shape; isolation between users."""

from __future__ import annotations

import pytest

from campaigns import saved_filters as sf
from campaigns.models import SavedFilter

pytestmark = pytest.mark.django_db

SAVED = "/api/v1/saved-filters/"
TAKEN = "You already have a saved filter with this name (names are compared ignoring case)."


def detail(saved: SavedFilter | int) -> str:
    return f"{SAVED}{getattr(saved, 'pk', saved)}/"


def names(response) -> list[str]:
    return [row["name"] for row in response.json()]


@pytest.fixture
def save(marketer):
    def make(name: str, query: str = "status=running", *, user=None) -> SavedFilter:
        return sf.saved_filter_create(actor=user or marketer, name=name, query=query)

    return make


@pytest.fixture
def other_api(api_for, other_marketer):
    return api_for(other_marketer)


# --------------------------------------------------------------------------------------------
# Happy paths
# --------------------------------------------------------------------------------------------
def test_save_answers_201_with_the_normalised_filter(api, marketer):
    response = api.post(
        SAVED,
        {"name": "  Running pushes ", "query": "?page=2&status=running&channel=push&utm=x"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    saved = SavedFilter.objects.get()
    assert body == {
        "id": saved.pk,
        "name": "Running pushes",
        "query": "channel=push&status=running",
        "url": "/campaigns/?channel=push&status=running",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert saved.user == marketer


def test_list_shows_only_mine_by_name(api, save, other_marketer):
    save("beta")
    save("Alpha", "status=draft")
    save("Omar's", user=other_marketer)
    response = api.get(SAVED)
    assert response.status_code == 200
    assert names(response) == ["Alpha", "beta"]
    assert response.json()[0]["url"] == "/campaigns/?status=draft"


def test_read_one_of_mine(api, save):
    saved = save("Weekly", "q=sale")
    response = api.get(detail(saved))
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["query"]) == ("Weekly", "q=sale")


def test_rename_answers_with_the_new_name_and_the_same_query(api, save):
    saved = save("Weekly", "status=running")
    response = api.patch(detail(saved), {"name": "Live"}, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["query"]) == ("Live", "status=running")
    saved.refresh_from_db()
    assert saved.name == "Live"


def test_delete_answers_204_and_it_is_gone(api, save):
    saved = save("Weekly")
    response = api.delete(detail(saved))
    assert response.status_code == 204
    assert not response.content
    assert api.get(detail(saved)).status_code == 404


def test_a_token_client_keeps_its_own_filters(token_client, marketer):
    client = token_client(marketer)
    assert client.post(SAVED, {"name": "Mine", "query": ""}, format="json").status_code == 201
    assert names(client.get(SAVED)) == ["Mine"]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "", "query": "status=draft"}, {"name": [sf.NAME_REQUIRED]}),
        ({"name": "   ", "query": "status=draft"}, {"name": [sf.NAME_REQUIRED]}),
        ({"name": 42, "query": "status=draft"}, {"name": [sf.NAME_REQUIRED]}),
        ({"query": "status=draft"}, {"name": [sf.NAME_REQUIRED]}),
        ({"name": None, "query": "status=draft"}, {"name": ["This field may not be null."]}),
        (
            {"name": "x" * 81, "query": "status=draft"},
            {"name": ["A name can be at most 80 characters; this one has 81."]},
        ),
        ({"name": "Nul\u0000", "query": ""}, {"name": [sf.NAME_CONTROL]}),
        ({"name": "Weekly"}, {"query": ["This field is required."]}),
        ({"name": "Weekly", "query": ["status=draft"]}, {"query": ["Not a valid string."]}),
    ],
)
def test_a_bad_save_is_a_400_naming_the_field(api, body, errors):
    response = api.post(SAVED, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request has errors.",
        "errors": errors,
    }
    assert not SavedFilter.objects.exists()


def test_a_taken_name_is_a_400(api, save):
    save("Weekly")
    response = api.post(SAVED, {"name": "WEEKLY", "query": "status=draft"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": TAKEN, "errors": {"name": [TAKEN]}}
    assert SavedFilter.objects.count() == 1


def test_lone_surrogates_are_a_400_not_a_500(api):
    # Valid JSON, yet not UTF-8: PostgreSQL could not store them.
    for body, field in (
        ('{"name": "Bad \\ud800", "query": "status=draft"}', "name"),
        ('{"name": "Drafts", "query": "q=\\ud800&status=draft"}', "query"),
    ):
        response = api.post(SAVED, body, content_type="application/json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == [field]
    assert not SavedFilter.objects.exists()


def test_a_query_too_long_is_a_400_naming_the_query(api):
    response = api.post(
        SAVED, {"name": "Long", "query": "q=" + "x" * sf.MAX_QUERY_LENGTH}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["query"]


def test_the_101st_is_a_409_limit_reached(api, marketer):
    SavedFilter.objects.bulk_create(
        SavedFilter(user=marketer, name=f"Filter {i}", query="")
        for i in range(sf.MAX_SAVED_FILTERS)
    )
    response = api.post(SAVED, {"name": "One more", "query": ""}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "limit_reached",
        "message": "You can keep at most 100 saved filters; delete one before saving another.",
        "errors": {"name": ["The limit of 100 saved filters is reached."]},
    }


def test_rename_to_a_taken_or_empty_name_is_a_400_and_changes_nothing(api, save):
    save("Weekly")
    daily = save("Daily")
    for name, errors in (("weekly", [TAKEN]), ("", [sf.NAME_REQUIRED])):
        response = api.patch(detail(daily), {"name": name}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == {"name": errors}
    daily.refresh_from_db()
    assert daily.name == "Daily"


def test_rename_refuses_a_new_query_rather_than_ignoring_it(api, save):
    saved = save("Weekly", "status=running")
    response = api.patch(detail(saved), {"name": "Live", "query": "status=draft"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "query": ["A saved filter's query cannot change; save a new filter instead."]
    }
    saved.refresh_from_db()
    assert (saved.name, saved.query) == ("Weekly", "status=running")


def test_a_missing_id_is_a_404_in_the_project_shape(api):
    response = api.get(detail(987654))
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "Saved filter 987654 does not exist; it may have been deleted.",
        "errors": {},
    }


def test_put_is_not_offered(api, save):
    saved = save("Weekly")
    assert api.put(detail(saved), {"name": "Live"}, format="json").status_code == 405


def test_bodies_are_json_only(api):
    response = api.post(SAVED, {"name": "Form", "query": ""})  # multipart
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --------------------------------------------------------------------------------------------
# Isolation between users
# --------------------------------------------------------------------------------------------
def test_another_marketers_filter_is_a_404_for_every_method(api, other_api, save, other_marketer):
    theirs = save("Theirs", "status=draft", user=other_marketer)
    never = theirs.pk + 1000
    for pk in (theirs.pk, never):
        expected = {
            "code": "not_found",
            "message": f"Saved filter {pk} does not exist; it may have been deleted.",
            "errors": {},
        }
        for response in (
            api.get(detail(pk)),
            api.patch(detail(pk), {"name": "Mine now"}, format="json"),
            api.delete(detail(pk)),
        ):
            # The same answer as for an id that never existed: nothing says it is someone's.
            assert (response.status_code, response.json()) == (404, expected)
    theirs.refresh_from_db()
    assert (theirs.name, theirs.user) == ("Theirs", other_marketer)
    assert names(other_api.get(SAVED)) == ["Theirs"]
    assert names(api.get(SAVED)) == []


def test_two_marketers_may_use_the_same_name(api, other_api):
    for client in (api, other_api):
        response = client.post(SAVED, {"name": "Weekly", "query": ""}, format="json")
        assert response.status_code == 201
    assert SavedFilter.objects.count() == 2


@pytest.mark.parametrize(("who", "status"), [("outsider", 403), (None, 401)])
def test_users_without_a_role_and_anonymous_users_get_nothing(api_for, request, save, who, status):
    saved = save("Weekly")
    client = api_for(request.getfixturevalue(who) if who else None)
    for response in (
        client.get(SAVED),
        client.post(SAVED, {"name": "Mine", "query": ""}, format="json"),
        client.get(detail(saved)),
        client.patch(detail(saved), {"name": "Mine"}, format="json"),
        client.delete(detail(saved)),
    ):
        assert response.status_code == status
        assert response.json()["code"] == (
            "permission_denied" if status == 403 else "not_authenticated"
        )
    saved.refresh_from_db()
    assert saved.name == "Weekly"
    assert SavedFilter.objects.count() == 1


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------
def test_the_schema_documents_the_endpoints(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths[SAVED]) == {"get", "post"}
    assert set(paths[SAVED + "{id}/"]) == {"get", "patch", "delete"}
