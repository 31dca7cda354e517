"""The labels API: list with counts, create, rename, delete, check a name, export CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.choices import Action, Status
from campaigns.models import CampaignAudit
from labels.models import Label
from labels.rules import FORBIDDEN_SYMBOLS, MAX_LABELS

LABELS = "/api/v1/labels/"
EXPORT = "/api/v1/labels/export/"
CHECK = "/api/v1/labels/check/"


def detail(label: Label | int) -> str:
    return f"{LABELS}{getattr(label, 'pk', label)}/"


def names(response) -> list[str]:
    return [row["name"] for row in response.json()]


def fill_to_the_cap(count: int = MAX_LABELS) -> None:
    Label.objects.bulk_create(Label(name=f"Bulk {i:03}") for i in range(count))


# --------------------------------------------------------------------------------------------
# List
# --------------------------------------------------------------------------------------------
def test_list_shows_each_label_with_its_campaign_count_creator_and_times(
    api, marketer, label_factory, campaign_factory
):
    onboarding = label_factory(name="Onboarding", created_by=marketer)
    label_factory(name="Reengage")
    for campaign in (
        campaign_factory(),
        campaign_factory(status=Status.RUNNING),
        campaign_factory(status=Status.COMPLETED, archived_at=timezone.now()),
    ):
        campaign.labels.add(onboarding)

    rows = api.get(LABELS).json()

    assert [(r["name"], r["campaigns_count"]) for r in rows] == [
        ("Onboarding", 3),
        ("Reengage", 0),
    ]
    assert rows[0]["created_by"] == {"id": marketer.pk, "email": marketer.email}
    assert rows[1]["created_by"] is None
    assert set(rows[0]) == {
        "id",
        "name",
        "campaigns_count",
        "created_by",
        "created_at",
        "updated_at",
    }
    assert dt.datetime.fromisoformat(rows[0]["created_at"]) <= timezone.now()


def test_list_searches_names_ignoring_case(api, label_factory):
    for name in ("Onboarding", "Reengage", "Boarding pass"):
        label_factory(name=name)
    assert names(api.get(LABELS, {"q": "BOARD"})) == ["Boarding pass", "Onboarding"]
    assert names(api.get(LABELS, {"q": "nothing like it"})) == []


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["Alpha", "Bravo", "Charlie"]),
        ("-name", ["Charlie", "Bravo", "Alpha"]),
        ("campaigns", ["Alpha", "Charlie", "Bravo"]),
        ("-campaigns", ["Bravo", "Charlie", "Alpha"]),
        ("created", ["Charlie", "Alpha", "Bravo"]),
        ("-created", ["Bravo", "Alpha", "Charlie"]),
    ],
)
def test_list_orders_by_each_documented_key(
    api, label_factory, campaign_factory, ordering, expected
):
    charlie = label_factory(name="Charlie")
    alpha = label_factory(name="Alpha")
    bravo = label_factory(name="Bravo")
    base = timezone.now()
    for offset, label in enumerate((charlie, alpha, bravo)):
        Label.objects.filter(pk=label.pk).update(created_at=base + dt.timedelta(minutes=offset))
    campaigns = [campaign_factory() for _ in range(2)]
    for campaign in campaigns:
        campaign.labels.add(bravo)
    campaigns[0].labels.add(charlie)

    assert names(api.get(LABELS, {"ordering": ordering})) == expected


def test_unknown_ordering_is_a_400_naming_the_parameter(api, label_factory):
    label_factory()
    response = api.get(LABELS, {"ordering": "popularity"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["ordering"]


@pytest.mark.parametrize("count", [5, MAX_LABELS])
def test_list_reads_every_label_in_one_query(
    api, marketer, campaign_factory, django_assert_max_num_queries, count
):
    fill_to_the_cap(count)
    campaign = campaign_factory()
    campaign.labels.add(*Label.objects.all()[:3])
    api.get(LABELS)  # the caller's roles are read once and kept on the user

    # The same bound at 5 and at 900 labels: no query per label (count, creator).
    with django_assert_max_num_queries(1):
        response = api.get(LABELS)

    assert response.status_code == 200
    assert len(response.json()) == count


# --------------------------------------------------------------------------------------------
# Create
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["marketer", "approver", "admin"])
def test_each_role_creates_a_label_which_records_its_creator(api_for, request, role):
    user = request.getfixturevalue(role)
    response = api_for(user).post(LABELS, {"name": "  Score Updates "}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Score Updates"
    assert body["campaigns_count"] == 0
    assert body["created_by"] == {"id": user.pk, "email": user.email}
    assert Label.objects.get(pk=body["id"]).created_by == user


@pytest.mark.parametrize("symbol", FORBIDDEN_SYMBOLS)
@pytest.mark.parametrize("where", ["start", "inside"])
def test_create_refuses_each_forbidden_symbol_at_the_start_and_inside(api, symbol, where):
    name = f"{symbol}Sale" if where == "start" else f"Big{symbol}Sale"
    response = api.post(LABELS, {"name": name}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    [problem] = body["errors"]["name"]
    assert symbol in problem
    assert ("start with" in problem) is (where == "start")
    assert not Label.objects.exists()


@pytest.mark.parametrize("name", ["", " ", "   \t  "])
def test_create_refuses_an_empty_or_whitespace_only_name(api, name):
    response = api.post(LABELS, {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["A label needs a name."]}
    assert not Label.objects.exists()


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": 7}, {"name": ["Onboarding"]}])
def test_create_refuses_a_missing_or_non_text_name(api, body):
    response = api.post(LABELS, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert not Label.objects.exists()


def test_create_refuses_65_characters_and_takes_64(api):
    too_long = api.post(LABELS, {"name": "x" * 65}, format="json")
    assert too_long.status_code == 400
    assert too_long.json()["errors"] == {"name": ["At most 64 characters (65 given)."]}

    assert api.post(LABELS, {"name": "x" * 64}, format="json").status_code == 201
    # Surrounding spaces are trimmed before the length is counted.
    assert api.post(LABELS, {"name": f"  {'y' * 64}  "}, format="json").status_code == 201


def test_create_lists_every_rule_the_name_breaks(api):
    response = api.post(LABELS, {"name": "!" + "x" * 70 + "%"}, format="json")
    problems = response.json()["errors"]["name"]
    assert len(problems) == 2
    assert problems[0].startswith("At most 64 characters")
    assert "start with" in problems[1]
    assert "!" in problems[1]
    assert "%" in problems[1]


def test_create_refuses_a_name_taken_in_another_case(api, label_factory):
    label_factory(name="Onboarding")
    response = api.post(LABELS, {"name": " ONBOARDING "}, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["errors"]["name"][0]
    assert Label.objects.count() == 1


def test_the_901st_label_is_refused_with_409_and_nothing_is_created(api):
    fill_to_the_cap()
    response = api.post(LABELS, {"name": "One too many"}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "limit_reached"
    assert "900" in body["message"]
    assert Label.objects.count() == MAX_LABELS


def test_a_label_can_be_created_again_once_one_is_deleted_at_the_cap(api_for, admin):
    fill_to_the_cap()
    client = api_for(admin)
    assert client.delete(detail(Label.objects.first())).status_code == 200
    assert client.post(LABELS, {"name": "Room again"}, format="json").status_code == 201
    assert Label.objects.count() == MAX_LABELS


def test_create_takes_json_only(api):
    response = api.post(LABELS, {"name": "Onboarding"})  # multipart form
    assert response.status_code == 415
    assert not Label.objects.exists()


# --------------------------------------------------------------------------------------------
# One label
# --------------------------------------------------------------------------------------------
def test_one_label_shows_its_campaign_count(api, label_factory, campaign_factory):
    label = label_factory(name="Onboarding")
    campaign_factory().labels.add(label)
    body = api.get(detail(label)).json()
    assert body["name"] == "Onboarding"
    assert body["campaigns_count"] == 1


def test_unknown_label_is_a_404(api):
    response = api.get(detail(987654))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --------------------------------------------------------------------------------------------
# Rename
# --------------------------------------------------------------------------------------------
def test_admin_rename_shows_at_once_on_every_campaign_carrying_the_label(
    api_for, admin, label_factory, campaign_factory
):
    label = label_factory(name="Onboarding")
    campaigns = [campaign_factory(), campaign_factory(status=Status.RUNNING)]
    for campaign in campaigns:
        campaign.labels.add(label)
    client = api_for(admin)

    response = client.patch(detail(label), {"name": " Welcome series "}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Welcome series"
    assert response.json()["campaigns_count"] == 2
    for campaign in campaigns:
        shown = client.get(f"/api/v1/campaigns/{campaign.pk}/").json()["labels"]
        assert shown == [{"id": label.pk, "name": "Welcome series"}]


def test_rename_may_change_only_the_case_of_the_same_label(api_for, admin, label_factory):
    label = label_factory(name="onboarding")
    response = api_for(admin).patch(detail(label), {"name": "Onboarding"}, format="json")
    assert response.status_code == 200
    label.refresh_from_db()
    assert label.name == "Onboarding"


def test_rename_to_a_name_taken_in_another_case_is_a_400_and_changes_nothing(
    api_for, admin, label_factory
):
    label_factory(name="Onboarding")
    label = label_factory(name="Reengage")
    response = api_for(admin).patch(detail(label), {"name": "onBOARDING"}, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["errors"]["name"][0]
    label.refresh_from_db()
    assert label.name == "Reengage"


@pytest.mark.parametrize("name", ["", "  ", "x" * 65, "Big!Sale", "\\Sale", "50%"])
def test_rename_to_a_bad_name_is_a_400_and_changes_nothing(api_for, admin, label_factory, name):
    label = label_factory(name="Reengage")
    response = api_for(admin).patch(detail(label), {"name": name}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    label.refresh_from_db()
    assert label.name == "Reengage"


@pytest.mark.parametrize("role", ["marketer", "approver"])
def test_only_admins_rename(api_for, request, label_factory, role):
    label = label_factory(name="Reengage")
    client = api_for(request.getfixturevalue(role))
    response = client.patch(detail(label), {"name": "Winback"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    label.refresh_from_db()
    assert label.name == "Reengage"


def test_rename_of_an_unknown_label_is_a_404(api_for, admin):
    response = api_for(admin).patch(detail(987654), {"name": "Winback"}, format="json")
    assert response.status_code == 404


# --------------------------------------------------------------------------------------------
# Delete
# --------------------------------------------------------------------------------------------
def test_admin_delete_takes_the_label_off_every_campaign_and_says_how_many(
    api_for, admin, label_factory, campaign_factory
):
    label = label_factory(name="Onboarding")
    kept = label_factory(name="Reengage")
    carrying = [
        campaign_factory(),
        campaign_factory(status=Status.RUNNING),
        campaign_factory(status=Status.STOPPED, archived_at=timezone.now()),
    ]
    for campaign in carrying:
        campaign.labels.add(label, kept)
    untouched = campaign_factory()
    untouched.labels.add(kept)

    response = api_for(admin).delete(detail(label))

    assert response.status_code == 200
    assert response.json() == {"removed_from_campaigns": 3}
    assert not Label.objects.filter(pk=label.pk).exists()
    for campaign in carrying:
        assert list(campaign.labels.values_list("name", flat=True)) == ["Reengage"]
        audit = CampaignAudit.objects.get(campaign=campaign, action=Action.EDIT)
        assert audit.actor == admin
        assert audit.changes["labels"]["removed"] == [{"id": label.pk, "name": "Onboarding"}]
    assert not CampaignAudit.objects.filter(campaign=untouched).exists()


def test_deleting_an_unused_label_removes_it_from_no_campaign(api_for, admin, label_factory):
    label = label_factory()
    assert api_for(admin).delete(detail(label)).json() == {"removed_from_campaigns": 0}


@pytest.mark.parametrize("role", ["marketer", "approver"])
def test_only_admins_delete(api_for, request, label_factory, campaign_factory, role):
    label = label_factory()
    campaign = campaign_factory()
    campaign.labels.add(label)
    response = api_for(request.getfixturevalue(role)).delete(detail(label))
    assert response.status_code == 403
    assert Label.objects.filter(pk=label.pk).exists()
    assert list(campaign.labels.all()) == [label]


def test_delete_of_an_unknown_label_is_a_404(api_for, admin):
    assert api_for(admin).delete(detail(987654)).status_code == 404


# --------------------------------------------------------------------------------------------
# Check a name as it is typed
# --------------------------------------------------------------------------------------------
def test_check_trims_and_says_a_free_name_is_valid(api):
    response = api.get(CHECK, {"name": "  Score Updates  "})
    assert response.status_code == 200
    assert response.json() == {
        "name": "Score Updates",
        "valid": True,
        "problems": [],
        "exists": False,
    }


def test_check_says_a_name_exists_ignoring_case(api, label_factory):
    label_factory(name="Onboarding")
    body = api.get(CHECK, {"name": "onboarding"}).json()
    assert body["valid"] is True
    assert body["exists"] is True


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "A label needs a name."),
        ("   ", "A label needs a name."),
        ("x" * 65, "At most 64 characters (65 given)."),
        ("<b", "Label names cannot start with or contain <."),
        ("Sale!", "Label names cannot contain !."),
    ],
)
def test_check_lists_the_problems_of_a_bad_name(api, name, problem):
    body = api.get(CHECK, {"name": name}).json()
    assert body["valid"] is False
    assert body["problems"] == [problem]
    assert body["exists"] is False


def test_check_without_a_name_is_a_400(api):
    response = api.get(CHECK)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]


def test_check_changes_nothing(api):
    api.get(CHECK, {"name": "Onboarding"})
    assert not Label.objects.exists()


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------
def export_rows(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_export_is_a_streamed_dated_csv_attachment(api_for, admin, label_factory):
    label_factory(name="Onboarding")
    response = api_for(admin).get(EXPORT)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="labels-{today}.csv"'


def test_export_reads_back_with_every_label_count_creator_and_time(
    api_for, admin, marketer, label_factory, campaign_factory
):
    tricky = [
        "Sale, spring, 2025",
        "Zoë's Überraschung 日本語 🎉",
        "=SUM(A1)",
        "+1",
        "-x",
        "@x",
        "It's 'quoted'",
    ]
    labels = {name: label_factory(name=name, created_by=marketer) for name in tricky}
    campaign_factory().labels.add(labels["Sale, spring, 2025"], labels["=SUM(A1)"])
    orphan = label_factory(name="Nobody's")

    rows = export_rows(api_for(admin).get(EXPORT))

    assert rows[0] == ["name", "campaigns", "created_by", "created_at"]
    by_name = {row[0]: row for row in rows[1:]}
    assert len(by_name) == len(tricky) + 1
    # Formula-like names are neutralised with a leading quote; the rest come back unchanged.
    for name in ("=SUM(A1)", "+1", "-x", "@x"):
        assert f"'{name}" in by_name
        assert name not in by_name
    for name in ("Sale, spring, 2025", "Zoë's Überraschung 日本語 🎉", "It's 'quoted'"):
        assert by_name[name][2] == marketer.email
    assert by_name["Sale, spring, 2025"][1] == "1"
    assert by_name["'=SUM(A1)"][1] == "1"
    assert by_name["'+1"][1] == "0"
    assert by_name["Nobody's"][2] == ""
    created = dt.datetime.fromisoformat(by_name["Nobody's"][3])
    assert abs(created - orphan.created_at) < dt.timedelta(seconds=1)


def test_export_of_no_labels_is_the_header_alone(api_for, admin):
    assert export_rows(api_for(admin).get(EXPORT)) == [
        ["name", "campaigns", "created_by", "created_at"]
    ]


@pytest.mark.parametrize("role", ["marketer", "approver"])
def test_only_admins_export(api_for, request, role):
    response = api_for(request.getfixturevalue(role)).get(EXPORT, HTTP_ACCEPT="text/csv")
    assert response.status_code == 403
    # Even a client asking only for CSV hears why in the API's error shape.
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "permission_denied"


# --------------------------------------------------------------------------------------------
# Who may call what
# --------------------------------------------------------------------------------------------
ADMIN_ONLY = {"marketer": 403, "approver": 403, "admin": 200, "outsider": 403, None: 401}
ANY_ROLE = {"marketer": 200, "approver": 200, "admin": 200, "outsider": 403, None: 401}
CREATED = {"marketer": 201, "approver": 201, "admin": 201, "outsider": 403, None: 401}

MATRIX = [
    ("get", LABELS, None, ANY_ROLE),
    ("post", LABELS, {"name": "Fresh"}, CREATED),
    ("get", "{label}", None, ANY_ROLE),
    ("patch", "{label}", {"name": "Renamed"}, ADMIN_ONLY),
    ("delete", "{label}", None, ADMIN_ONLY),
    ("get", EXPORT, None, ADMIN_ONLY),
    ("get", CHECK + "?name=Fresh", None, ANY_ROLE),
    ("post", "/api/v1/campaigns/labels/", {"ids": "{campaign}", "add": "{label}"}, ANY_ROLE),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
@pytest.mark.parametrize("who", ["marketer", "approver", "admin", "outsider", None])
def test_permission_matrix(
    request, label_factory, campaign_factory, method, path, body, expected, who
):
    label = label_factory(name="Onboarding")
    campaign = campaign_factory()
    client = APIClient()
    if who is not None:
        client.force_authenticate(request.getfixturevalue(who))
    if body and "ids" in body:  # ids exist only once the test has made its rows
        body = {"ids": [campaign.pk], "add": [label.pk]}
    url = path.replace("{label}", detail(label))

    response = getattr(client, method)(url, body, format="json")

    assert response.status_code == expected[who]
    if response.status_code >= 400:
        assert response.json()["code"] in ("permission_denied", "not_authenticated")
        assert Label.objects.get().name == "Onboarding"
        assert not campaign.labels.exists()


def test_schema_documents_every_label_operation(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/v1/labels/"]) == {"get", "post"}
    assert set(paths["/api/v1/labels/{id}/"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v1/labels/check/"]) == {"get"}
    assert set(paths["/api/v1/campaigns/labels/"]) == {"post"}
    export = paths["/api/v1/labels/export/"]["get"]["responses"]
    assert set(export["200"]["content"]) == {"text/csv"}
    assert set(export["403"]["content"]) == {"application/json"}


@pytest.mark.parametrize("raw", ["\ud800", "Tab\there", "a\u0000b", "no\u00a0break"])
def test_create_refuses_invisible_characters(api, raw):
    body = json.dumps({"name": raw})
    response = api.post(LABELS, body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert not Label.objects.exists()


def test_list_and_check_refuse_a_null_character_in_the_query(api):
    assert api.get(LABELS, {"q": "a\x00"}).status_code == 400
    assert api.get(CHECK, {"name": "a\x00"}).status_code == 400
