"""Event kinds become a table (choices) with a label each. Only the declaration changes: the
stored values, which the chains' MACs cover, stay as they are, and every value ever written
is a member."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0007_privacy_consent_pending_licence"),
    ]

    operations = [
        migrations.AlterField(
            model_name="orgevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("org_created", "创建组织"),
                    ("org_updated", "修改组织信息"),
                    ("registry_checked", "查询工商信息"),
                    ("registry_refused", "工商信息核验未通过"),
                    ("registry_rechecked", "重新核验工商信息"),
                    ("same_name_claimed", "申请同名组织认证"),
                    ("verification_cancelled", "取消组织认证"),
                    ("review_required", "需人工审核"),
                    ("manual_review_requested", "申请人工审核"),
                    ("operator_approved", "人工审核通过"),
                    ("operator_rejected", "人工审核驳回"),
                    ("org_verified", "组织认证通过"),
                    ("deposit_paid", "平台已向组织打款"),
                    ("deposit_failed", "平台打款失败"),
                    ("deposit_confirmed", "打款金额正确"),
                    ("deposit_amount_wrong", "打款金额错误"),
                    ("deposit_void", "打款已失效"),
                    ("platform_deposit_requested", "申请向平台打款"),
                    ("platform_deposit_checked", "平台尚未收到打款"),
                    ("platform_deposit_received", "平台已收到打款"),
                    ("legal_rep_requested", "请求法定代表人授权"),
                    ("legal_rep_approved", "法定代表人已授权"),
                    ("legal_rep_refused", "法定代表人拒绝授权"),
                    ("legal_rep_mismatch", "法定代表人信息不符"),
                    ("member_invited", "邀请成员"),
                    ("invitation_revoked", "撤回邀请"),
                    ("invitation_accepted", "接受邀请"),
                    ("invitation_declined", "拒绝邀请"),
                    ("member_role_changed", "变更成员角色"),
                    ("member_removed", "移除成员"),
                    ("member_left", "成员退出组织"),
                    ("admin_transferred", "转让管理员"),
                    ("seal_created", "创建印章"),
                    ("seal_disabled", "停用印章"),
                    ("seal_enabled", "启用印章"),
                    ("seal_destroyed", "销毁印章"),
                    ("seal_used", "使用印章"),
                    ("seal_grant_requested", "申请用印权限"),
                    ("seal_grant_approved", "批准用印申请"),
                    ("seal_grant_refused", "拒绝用印申请"),
                    ("seal_granted", "授予用印权限"),
                    ("seal_grant_revoked", "收回用印权限"),
                ],
                max_length=64,
                verbose_name="事件",
            ),
        ),
    ]
