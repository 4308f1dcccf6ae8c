"""Services that run inside the router worker as Crossbar components: sign-in (auth), authorization
(permissions), the HTTP bridge (bridge_http, bridge_session, dedupe), history (history, history_policy,
history_store), replay memory (replay_store) and the Django link (django_link)."""
