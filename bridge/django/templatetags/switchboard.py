"""{% load switchboard %}{% switchboard_scripts %}: AutobahnJS, recovery.js, switchboard.js and the hub config."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString
from switchboard.bridge.django.conf import switchboard

register = template.Library()

CONFIG_ELEMENT_ID = "switchboard-config"


def page_config(request=None) -> dict:
    """What switchboard.js needs: where the hub is, the realm, where to get tickets, who is signed in."""
    cfg = switchboard()
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "url": cfg.hub_ws_url,
        "realm": cfg.realm,
        "ticketUrl": reverse("switchboard:ticket"),
        "signedIn": signed_in,
        "authid": str(user.pk) if signed_in else None,
    }


@register.simple_tag(takes_context=True)
def switchboard_scripts(context) -> SafeString:
    """The config as JSON (<script id="switchboard-config">) and the scripts, served by the hub."""
    cfg = switchboard()
    config = page_config(context.get("request"))
    return json_script(config, CONFIG_ELEMENT_ID) + format_html(
        '\n<script src="{}vendor/autobahn.min.js"></script>\n<script src="{}recovery.js"></script>'
        '\n<script src="{}switchboard.js"></script>',
        cfg.hub_http_url,
        cfg.hub_http_url,
        cfg.hub_http_url,
    )
