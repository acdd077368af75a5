"""Python client of the Qianshu (签署) open API."""

from qianshu_client.client import ApiError, Qianshu
from qianshu_client.webhooks import WebhookVerificationError, verify_webhook

__all__ = ["ApiError", "Qianshu", "WebhookVerificationError", "verify_webhook"]
