"""Business-registry providers (企业三要素): the sandbox's documented rules, the choice of
provider, the system checks, and the http adapter against a real gateway on loopback that
checks the signature."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.orgs.checks import check_registry_gateway, check_registry_provider
from qianshu.orgs.names import fold_name, same_name
from qianshu.orgs.providers.registry import (
    Company,
    Failed,
    Passed,
    ProviderError,
    RegistryUnavailable,
    get_registry_provider,
)
from qianshu.orgs.providers.registry.http import HttpRegistryProvider
from qianshu.orgs.providers.registry.sandbox import SandboxRegistryProvider
from tests.support.gateways import SECRET, Gateway
from tests.support.personas import valid_credit_code


def company(body: str | None = None, **extra: str) -> Company:
    data = {
        "name": "北京星河测试科技有限公司",
        "credit_code": valid_credit_code(body),
        "legal_rep_name": "赵法人",
        **extra,
    }
    return Company(**data)


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "示例科技（北京）有限公司",  # full-width brackets
        "示例科技 (北京) 有限公司",  # spaces
        "示例科技(北京)有限公司\u3000",  # ideographic space
    ],
)
def test_spellings_of_one_name_fold_together(variant: str) -> None:
    assert same_name("示例科技(北京)有限公司", variant)
    assert fold_name("ＡＢＣ科技有限公司") == fold_name("abc科技有限公司")
    assert fold_name("Zhang·San") == fold_name("Zhang・San") == fold_name("Zhang.San")
    assert not same_name("示例科技有限公司", "示例科技有限责任公司")
    assert not same_name("", "")


# --- sandbox ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mark", "code", "words"),
    [
        ("XXXX1", "not_found", "未查询到"),
        ("XXXX2", "legal_rep_differs", "法定代表人"),
        ("XXXX3", "name_differs", "名称"),
        ("XXXX4", "not_active", "注销或吊销"),
    ],
)
def test_the_sandbox_rules(mark: str, code: str, words: str) -> None:
    result = SandboxRegistryProvider().check_company(company(f"91110108MA01{mark}"), request_id="r")
    assert isinstance(result, Failed) and result.code == code and words in result.reason


def test_the_sandbox_errors_on_xxxx9_and_passes_anything_else() -> None:
    provider = SandboxRegistryProvider()
    error = provider.check_company(company("91110108MA01XXXX9"), request_id="r")
    assert isinstance(error, ProviderError) and error.retryable
    assert provider.check_company(company(), request_id="r") == Passed()
    assert provider.check_company(company("91110108MA01D3ME7"), request_id="r") == Passed()


def test_the_sandbox_is_refused_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    settings.QIANSHU_REGISTRY_PROVIDER = "sandbox"
    settings.QIANSHU_REGISTRY_SANDBOX_ALLOWED = False
    with pytest.raises(RegistryUnavailable, match="refused when QIANSHU_DEBUG is off"):
        get_registry_provider()
    assert [m.id for m in check_registry_provider()] == ["qianshu.orgs.E005"]
    settings.QIANSHU_REGISTRY_SANDBOX_ALLOWED = True
    assert isinstance(get_registry_provider(), SandboxRegistryProvider)
    assert check_registry_provider() == []


def test_none_unknown_and_unconfigured_providers(settings: Any) -> None:
    settings.QIANSHU_REGISTRY_PROVIDER = "none"
    assert get_registry_provider() is None
    assert check_registry_provider() == [] and check_registry_gateway() == []
    settings.QIANSHU_REGISTRY_PROVIDER = "qichacha"
    with pytest.raises(RegistryUnavailable, match="unknown QIANSHU_REGISTRY_PROVIDER"):
        get_registry_provider()
    assert [m.id for m in check_registry_provider()] == ["qianshu.orgs.E004"]
    settings.QIANSHU_REGISTRY_PROVIDER = "http"
    settings.QIANSHU_REGISTRY_GATEWAY_URL = ""
    settings.QIANSHU_REGISTRY_GATEWAY_SECRET = ""
    with pytest.raises(RegistryUnavailable, match="needs QIANSHU_REGISTRY_GATEWAY_URL"):
        get_registry_provider()
    assert [m.id for m in check_registry_gateway()] == ["qianshu.orgs.E006"]
    settings.QIANSHU_REGISTRY_GATEWAY_URL = "ftp://registry.example"
    settings.QIANSHU_REGISTRY_GATEWAY_SECRET = SECRET
    with pytest.raises(RegistryUnavailable, match="http"):
        get_registry_provider()
    settings.QIANSHU_REGISTRY_GATEWAY_URL = "https://registry.example/gw"
    assert isinstance(get_registry_provider(), HttpRegistryProvider)
    assert check_registry_gateway() == []


# --- http adapter -----------------------------------------------------------------------


def test_http_check(gateway: Gateway) -> None:
    provider = HttpRegistryProvider(gateway.url, SECRET, timeout=5)
    declared = company()
    gateway.answers["company"] = (200, {"result": "passed"})
    assert provider.check_company(declared, request_id="v1") == Passed()
    assert gateway.requests[-1] == (
        "company",
        {
            "request_id": "v1",
            "name": declared.name,
            "credit_code": declared.credit_code,
            "legal_rep_name": "赵法人",
        },
    )
    gateway.answers["company"] = (
        200,
        {"result": "failed", "code": "legal_rep_differs", "reason": "法定代表人不一致"},
    )
    assert provider.check_company(declared, request_id="v2") == Failed(
        "法定代表人不一致", "legal_rep_differs"
    )
    gateway.answers["company"] = (200, {"result": "failed", "code": "made-up"})
    failed = provider.check_company(declared, request_id="v3")
    assert isinstance(failed, Failed) and failed.code == "not_found" and failed.reason
    gateway.answers["company"] = (200, {"result": "error", "reason": "维护中", "retryable": False})
    assert provider.check_company(declared, request_id="v4") == ProviderError(
        "维护中", retryable=False
    )
    for status, answer, retryable in (
        (503, {"result": "error"}, True),
        (400, {"result": "error"}, False),
        (200, b"not json", True),
        (200, {"result": "maybe"}, True),
    ):
        gateway.answers["company"] = (status, answer)
        error = provider.check_company(declared, request_id="v5")
        assert isinstance(error, ProviderError) and error.retryable is retryable, (status, answer)
    assert gateway.rejected == 0


def test_a_wrong_secret_is_rejected_by_the_gateway(gateway: Gateway) -> None:
    provider = HttpRegistryProvider(gateway.url, "another-secret", timeout=5)
    result = provider.check_company(company(), request_id="v")
    assert isinstance(result, ProviderError) and not result.retryable
    assert gateway.rejected == 1


def test_an_unreachable_gateway_is_a_retryable_error() -> None:
    provider = HttpRegistryProvider("http://127.0.0.1:9/gw", SECRET, timeout=2)
    result = provider.check_company(company(), request_id="v")
    assert isinstance(result, ProviderError) and result.retryable
