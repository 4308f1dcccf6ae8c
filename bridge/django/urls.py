"""Mount under the path the hub is told (SWITCHBOARD_DJANGO_URL), e.g.

path("switchboard/", include("switchboard.bridge.django.urls"))   # hub: SWITCHBOARD_DJANGO_URL=http://host/switchboard
"""

from django.urls import path
from switchboard.bridge.django import views

app_name = "switchboard"

urlpatterns = [
    path("ticket/", views.ticket, name="ticket"),
    path("events/", views.events, name="events"),
    path("rpc/<str:name>/", views.call, name="rpc"),
    path("metrics/", views.metrics, name="metrics"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
