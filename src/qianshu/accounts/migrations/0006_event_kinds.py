"""Event kinds become a table (choices) with a label each. Only the declaration changes: the
stored values, which the chains' MACs cover, stay as they are, and every value ever written
is a member."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_securityevent_chain_required"),
    ]

    operations = [
        migrations.AlterField(
            model_name="securityevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("login_code_sent", "发送登录验证码"),
                    ("login", "登录"),
                    ("login_failed", "登录失败"),
                    ("logout", "退出登录"),
                    ("logout_other_sessions", "退出其他设备"),
                    ("reauth", "再次验证身份"),
                    ("phone_changed", "更换手机号"),
                    ("email_changed", "修改邮箱"),
                    ("profile_changed", "修改个人资料"),
                    ("password_set", "设置登录密码"),
                    ("signature_saved", "保存签名"),
                    ("signature_default_set", "设为默认签名"),
                    ("signature_deleted", "删除签名"),
                    ("signature_handoff_started", "发起手机签名"),
                    ("signing_pin_set", "设置签署密码"),
                    ("signing_pin_changed", "修改签署密码"),
                    ("signing_pin_wrong", "签署密码错误"),
                    ("signing_pin_locked", "签署密码已锁定"),
                    ("pin_reset_code_sent", "发送重置签署密码验证码"),
                    ("signing_pin_reset", "重置签署密码"),
                    ("signing_pin_reset_refused", "重置签署密码被拒绝"),
                    ("signing_credential_revoked", "签署证书被吊销"),
                    ("identity_verification_started", "开始实名认证"),
                    ("identity_verification_passed", "实名认证成功"),
                    ("identity_verification_failed", "实名认证失败"),
                    ("identity_verification_error", "实名认证服务异常"),
                    ("identity_phone_code_sent", "发送实名认证验证码"),
                    ("identity_manual_review_submitted", "提交人工审核"),
                    ("identity_manual_review_approved", "人工审核通过"),
                    ("identity_manual_review_rejected", "人工审核未通过"),
                    ("identity_handoff_started", "发起手机实名认证"),
                    ("identity_handoff_opened", "在手机上打开实名认证"),
                    ("identity_handoff_refused", "其他账号扫码实名认证被拒绝"),
                    ("identity_revoked", "实名认证被撤销"),
                ],
                max_length=64,
                verbose_name="事件",
            ),
        ),
    ]
