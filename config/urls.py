from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="campaigns:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("campaigns/", include("campaigns.urls")),
    path("campaigns/", include("channels.urls_runs")),
    path("settings/labels/", include("labels.urls")),
    path("settings/approvals/", include("approvals.settings_urls")),
    path("settings/api-keys/", include("audience.urls_keys")),
    path("settings/channels/", include("channels.urls_settings")),
    path("approvals/", include("approvals.urls")),
    # Tracking links in messages (opens, clicks, unsubscribes): signed, no login.
    path("t/", include("channels.urls_tracking")),
    path("audience/", include("audience.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
