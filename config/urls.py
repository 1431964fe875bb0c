"""URL routes of the whole project."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from labs import views
from labs.api.urls import RESOURCES as LAB_RESOURCES
from labs.classroom.api.urls import RESOURCES as CLASSROOM_RESOURCES

api = DefaultRouter()  # one router: the API's root lists every resource
for prefix, viewset, basename in LAB_RESOURCES + CLASSROOM_RESOURCES:
    api.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health_page, name="health"),
    path("labs/new/", views.create_lab, name="lab-create"),
    path("labs/import/", views.import_lab, name="lab-import"),
    path("labs/demo/<slug:slug>/", views.open_demo, name="lab-demo"),
    path("labs/<int:lab_id>/", views.lab_page, name="lab"),
    path("labs/<int:lab_id>/duplicate/", views.duplicate_lab, name="lab-duplicate"),
    path("labs/<int:lab_id>/delete/", views.delete_lab, name="lab-delete"),
    path("", include("labs.classroom.urls")),
    path("s/", views.shared_page, name="shared"),
    path("s/embed/", views.shared_embed, name="shared-embed"),
    path("accounts/login/", views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="schema-ui"),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="schema-redoc"),
    path("api/", include("labs.api.urls")),
    path("api/", include("labs.classroom.api.urls")),
    path("api/", include(api.urls)),
]
