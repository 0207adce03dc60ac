"""Open311 GeoReport v2 round trips; protected reports never listed."""
from __future__ import annotations

from tests.foundation.helpers import file_form, receipt, track


def test_services_are_the_fifteen_topics(client):
    services = client.get("/open311/v2/services.json").json()
    assert len(services) == 15
    assert {"service_code": "urban", "service_name": "城乡建设"}.items() <= services[0].items()


def test_post_json_then_get_and_track(client):
    r = client.post("/open311/v2/requests.json", json={
        "service_code": "transport", "title": "公交晚点", "description": "12路公交车经常晚点半小时，希望加强调度。",
        "address_string": "A市五一大道", "first_name": "李", "phone": "13900001111"})
    assert r.status_code == 201
    created = r.json()[0]
    number, code = created["service_request_id"], created["query_code"]
    one = client.get(f"/open311/v2/requests/{number}.json").json()[0]
    assert one["status"] == "open" and one["service_code"] == "transport" and "13900001111" not in str(one)
    listed = client.get("/open311/v2/requests.json", params={"service_code": "transport", "status": "open"}).json()
    assert [x["service_request_id"] for x in listed] == [number]
    assert client.get("/open311/v2/requests.json", params={"status": "closed"}).json() == []
    assert track(client, number, code).status_code == 200


def test_post_form_encoded(client):
    r = client.post("/open311/v2/requests.json", data={"service_code": "environment",
                                                       "description": "工厂夜间排放刺鼻气体，周边居民无法开窗。"})
    assert r.status_code == 201 and r.json()[0]["service_request_id"].startswith("MS")


def test_bad_requests_are_400_with_reasons(client):
    r = client.post("/open311/v2/requests.json", json={"service_code": "nope", "description": "描述内容足够长了吧应该"})
    assert r.status_code == 400 and "service_code" in r.json()[0]["description"]
    r = client.post("/open311/v2/requests.json", json={"service_code": "urban", "description": "短"})
    assert r.status_code == 400 and "description" in r.json()[0]["description"]
    r = client.post("/open311/v2/requests.json", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = client.get("/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert r.status_code == 400 and "start_date" in r.json()["detail"]
    assert client.get("/open311/v2/requests/MS00000000-00000.json").status_code == 404


def test_misconduct_reports_never_listed(client):
    number, code = receipt(file_form(client, appeal_type="举报", category="discipline", title="举报某局长收受红包",
                                     description="某局长在审批中多次收受企业红包，金额巨大，请纪委调查。"))
    assert client.get("/open311/v2/requests.json").json() == []
    assert client.get(f"/open311/v2/requests/{number}.json").status_code == 404
    page = track(client, number, code)
    assert page.status_code == 200 and "收受企业红包" not in page.text
