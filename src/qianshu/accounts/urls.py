from django.urls import path

from qianshu.accounts import signature_urls, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/password/", views.password_login_view, name="password-login"),
    path("logout/", views.logout_view, name="logout"),
    path("language/", views.set_language_view, name="set-language"),
    path("me/", views.profile_view, name="profile"),
    path("me/reauth/", views.reauth_view, name="reauth"),
    path("me/phone/", views.change_phone_view, name="change-phone"),
    path("me/email/", views.change_email_view, name="change-email"),
    path("me/password/", views.set_password_view, name="set-password"),
    path("me/sessions/logout-others/", views.logout_others_view, name="logout-others"),
    *signature_urls.urlpatterns,
]
