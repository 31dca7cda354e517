"""The cohorts page (the form, the heat map, the errors) and its CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.audience.test_cohorts import example  # noqa: F401 - the hand-checked example

pytestmark = pytest.mark.django_db


def query(example, **params: str) -> dict[str, str]:  # noqa: F811 - the fixture, passed on
    return {
        "qualifying": "label",
        "label": str(example["onboarding"].pk),
        "return_event": "App Launched",
        "unit": "day",
        "start": "2025-03-01",
        "end": "2025-03-03",
        **params,
    }


@pytest.mark.parametrize("role", ["marketer", "approver", "admin"])
def test_every_role_sees_the_cohorts_page(request, client_for, role):
    response = client_for(request.getfixturevalue(role)).get("/audience/cohorts/")

    assert response.status_code == 200
    assert "Show retention" in response.text and "data-heatmap" not in response.text


def test_people_without_a_role_see_no_cohorts(client_for, outsider):
    client = client_for(outsider)

    assert client.get("/audience/cohorts/").status_code == 403
    assert client.get("/audience/cohorts/retention.csv").status_code == 403


def test_the_heat_map_has_a_number_and_a_shade_in_each_cell(client_for, marketer, example):  # noqa: F811
    page = client_for(marketer).get("/audience/cohorts/", query(example)).text

    assert "Was sent a campaign labelled “Onboarding”: came back with App Launched" in page
    row = page.split('data-cohort="2025-03-01"')[1].split("</tr>")[0]
    cells = row.split('class="heat')[1:]
    assert len(cells) == 31
    assert 'style="--share: 0.500" data-share="0.500" title="1 of 2 (50.0%)">50%</td>' in cells[0]
    assert 'data-share="0.000"' in cells[4] and ">0%</td>" in cells[4]
    assert 'data-cohort="all"' in page and "All cohorts" in page
    assert 'href="/audience/cohorts/retention.csv?qualifying=label' in page


def test_choices_that_cannot_make_a_table_are_shown_by_the_field(client_for, marketer):
    response = client_for(marketer).get(
        "/audience/cohorts/", {"qualifying": "label", "label": "", "start": "2025-13-40"}
    )

    assert response.status_code == 400
    assert "Choose the label." in response.text and "Not a date (YYYY-MM-DD)." in response.text
    assert "data-heatmap" not in response.text


def test_the_csv_is_the_table(client_for, marketer, example):  # noqa: F811
    response = client_for(marketer).get("/audience/cohorts/retention.csv", query(example))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        "retention-was-sent-a-campaign-labelled-onboarding-day-2025-03-01-2025-03-03.csv"
        in (response["Content-Disposition"])
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["cohort", "size", "day 0 %", "day 1 %"] and len(rows[0]) == 33
    assert rows[1][:6] == ["2025-03-01", "2", "50.0", "50.0", "50.0", "50.0"]
    assert rows[2][:5] == ["2025-03-02", "2", "0.0", "50.0", "0.0"]
    assert rows[4][:3] == ["all", "6", "16.7"]


def test_a_csv_asked_with_bad_choices_goes_back_to_the_page(client_for, marketer):
    response = client_for(marketer).get("/audience/cohorts/retention.csv", {"qualifying": "x"})

    assert response.status_code == 302
    assert response["Location"].startswith("/audience/cohorts/?qualifying=x")
