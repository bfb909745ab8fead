"""A browser gets an error page in its visitor's language; the API, and any client that asks
for JSON, the problem document."""

import pytest

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/subjects/not-a-subject", 404), ("/no-such-page", 404), ("/console/nowhere", 404)],
)
def test_a_browser_gets_a_page_in_its_language(client, path, status):
    chinese = client.get(path, headers={"Accept": BROWSER, "Accept-Language": "zh-CN"})
    assert chinese.status_code == status and chinese.mimetype == "text/html"
    assert f'data-status="{status}"' in chinese.get_data(as_text=True)
    assert "未找到" in chinese.get_data(as_text=True)
    english = client.get(path, headers={"Accept": BROWSER, "Accept-Language": "en"})
    assert english.mimetype == "text/html" and "Not found" in english.get_data(as_text=True)


def test_the_api_and_json_clients_get_the_problem_document(client):
    api = client.get("/api/v1/no-such-thing", headers={"Accept": BROWSER})
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    asked = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert asked.mimetype == "application/problem+json"
    plain = client.get("/no-such-page")  # no Accept: a script, not a browser
    assert plain.mimetype == "application/problem+json"


def test_an_unexpected_error_is_a_page_for_a_browser(app, client, monkeypatch):
    import admin

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    # The home page's search fails in an unforeseen way (our code, not a mock of a layer).
    monkeypatch.setattr(admin, "render_template", broken)
    page = client.get("/", headers={"Accept": BROWSER, "Accept-Language": "en"})
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Something went wrong" in page.get_data(as_text=True)
    assert "boom" not in page.get_data(as_text=True)
