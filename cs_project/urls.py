"""Admin at /admin/, REST at /api/v1/, OpenAPI at /api/schema/ and /api/docs/, MCP at /mcp."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("cs_project.core.urls")),
]
