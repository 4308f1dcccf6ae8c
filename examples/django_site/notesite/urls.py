from django.contrib import admin
from django.urls import include, path
from notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # The hub is started with SWITCHBOARD_DJANGO_URL=http://127.0.0.1:8000/switchboard
    path("switchboard/", include("switchboard.bridge.django.urls")),
]
