"""新增合同: the fields seed 001's procurement system asks for an e-signed contract."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from django.core.files.uploadedfile import UploadedFile

from mis.models import Contract

PHONE = re.compile(r"1\d{10}")
# GB 32100-2015: 18 characters from this alphabet, the last one a check character.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_ok(code: str) -> bool:
    if len(code) != 18 or any(c not in CREDIT_ALPHABET for c in code):
        return False
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(code, CREDIT_WEIGHTS, strict=False))
    return CREDIT_ALPHABET[(31 - total % 31) % 31] == code[17]


class ContractForm(forms.ModelForm):
    document = forms.FileField(
        label="合同文本（PDF）",
        required=False,
        help_text="签署页须有“乙方履约代表（签字）：”“乙方（盖章）：”“甲方履约代表（签字）：”"
        "“甲方（盖章）：”字样；留空则按模板生成合同文本。",
    )

    class Meta:
        model = Contract
        fields: ClassVar = [
            "title",
            "amount",
            "supplier_name",
            "supplier_credit_code",
            "supplier_rep_name",
            "supplier_rep_phone",
            "buyer_rep_name",
            "buyer_rep_phone",
            "document",
        ]

    def clean_supplier_credit_code(self) -> str:
        code = str(self.cleaned_data["supplier_credit_code"]).strip().upper()
        if not credit_code_ok(code):
            raise forms.ValidationError("请输入正确的 18 位统一社会信用代码。")
        return code

    def _phone(self, name: str) -> str:
        phone = str(self.cleaned_data[name]).strip()
        if not PHONE.fullmatch(phone):
            raise forms.ValidationError("请输入 11 位手机号码。")
        return phone

    def clean_supplier_rep_phone(self) -> str:
        return self._phone("supplier_rep_phone")

    def clean_buyer_rep_phone(self) -> str:
        return self._phone("buyer_rep_phone")

    def clean_document(self) -> Any:
        document: UploadedFile | None = self.cleaned_data.get("document")
        if document is None:
            return None
        if not document.read(5).startswith(b"%PDF-"):
            raise forms.ValidationError("请上传 PDF 文件。")
        document.seek(0)
        return document
