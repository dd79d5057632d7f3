from sitekit.views import urlpatterns  # noqa: F401
