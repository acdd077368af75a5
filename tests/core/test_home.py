import pytest
from django.test import Client

from qianshu.pki.actions import do_init_pki


@pytest.mark.django_db
def test_home_page_before_and_after_pki() -> None:
    client = Client()
    response = client.get("/")
    assert response.status_code == 200
    assert "qianshu init-pki" in response.content.decode()
    do_init_pki()
    page = client.get("/").content.decode()
    assert "/pki/ca/root.crt" in page and "签署" in page
