"""Error URIs Switchboard components answer bad input with (documented in README "URIs")."""

INVALID_ARGUMENT = "switchboard.error.invalid_argument"
INVALID_ROOM = "switchboard.error.invalid_room"
INVALID_NICK = "switchboard.error.invalid_nick"
INVALID_TEXT = "switchboard.error.invalid_text"
TEXT_TOO_LONG = "switchboard.error.text_too_long"
NOT_ALLOWED = "switchboard.error.not_allowed"
NO_HISTORY = "switchboard.error.no_history"
