import jwt
import pytest
from switchboard.bridge import tickets

#: ticket secrets as long as RFC 7518 asks of HMAC keys (HS512 too; the hub generates 43 characters)
K, OTHER = "k" * 64, "o" * 64


def reason(secret, ticket, now):
    with pytest.raises(tickets.TicketError) as info:
        tickets.verify(secret, ticket, now=now)
    return info.value.uri


def test_mint_and_verify():
    t = tickets.mint(K, 42, now=1000, ttl=60, extra={"name": "ada"})
    payload = tickets.verify(K, t, now=1030)
    assert payload["sub"] == "42" and payload["exp"] == 1060 and payload["extra"] == {"name": "ada"}
    assert payload["jti"] != tickets.verify(K, tickets.mint(K, 42, now=1000), now=1000)["jti"]


def test_expired_forged_and_malformed():
    t = tickets.mint(K, "7", now=1000, ttl=60)
    assert reason(K, t, now=1066) == tickets.EXPIRED
    assert reason(OTHER, t, now=1000) == tickets.INVALID
    header, payload, mac = t.split(".")
    assert reason(K, f"{header}.{payload[:-2]}AA.{mac}", now=1000) == tickets.INVALID
    for junk in ["", "abc", "a.b", "a.b.c", None, 5, "x" * 5000]:
        assert reason(K, junk, now=1000) == tickets.INVALID


def test_issued_in_the_future_or_too_long_lived():
    assert reason(K, tickets.mint(K, "7", now=2000), now=1000) == tickets.INVALID
    with pytest.raises(ValueError):
        tickets.mint(K, "7", ttl=tickets.MAX_TTL + 1)


def signed(secret, *, algorithm="HS256", **claims):
    """A correctly signed ticket with hand-written claims (mint refuses what these tests need)."""
    fields = {"sub": "7", "iat": 1000, "exp": 1060, "jti": "j", "aud": "switchboard", "extra": {}, **claims}
    return jwt.encode({k: v for k, v in fields.items() if v is not OMIT}, secret, algorithm=algorithm)


#: a claim left out of signed()
OMIT = object()


@pytest.mark.parametrize("sub", ["1.notes", "1#2", "a b", "", "x" * 65, "user.1", "*", "ü"])
def test_a_sub_must_be_one_uri_component_when_minting_and_verifying(sub):
    with pytest.raises(tickets.TicketError) as info:
        tickets.mint(K, sub, now=1000)
    assert info.value.uri == tickets.INVALID and "one URI component" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert reason(K, signed(K, sub=sub), now=1000) == tickets.INVALID


def test_plain_subs_pass():
    for sub in ("42", "ada_lovelace", "0b8f6c1e-6f2a-4a3b-9d7e-2c1f0e9a8b7c", "x" * 64):
        assert tickets.verify(K, tickets.mint(K, sub, now=1000), now=1000)["sub"] == sub


@pytest.mark.parametrize(
    "field, value",
    [
        ("sub", 42),
        ("sub", None),
        ("sub", ["1"]),
        ("sub", True),
        ("jti", 7),
        ("jti", ["j"]),
        ("jti", ""),
        ("jti", "j" * 129),
        ("extra", []),
        ("extra", "x"),
        ("exp", 1060.5),
        ("exp", True),
        ("iat", None),
        ("iat", "1000"),
        ("role", "backend"),
        ("role", ["admin"]),
        ("role", None),
    ],
)
def test_every_field_of_a_signed_payload_has_its_type_checked(field, value):
    assert reason(K, signed(K, **{field: value}), now=1000) == tickets.INVALID


def test_a_payload_without_extra_gets_an_empty_one():
    assert tickets.verify(K, signed(K, extra=OMIT), now=1000)["extra"] == {}


def test_a_ticket_without_role_is_a_user_ticket_and_admin_tickets_say_so():
    assert tickets.verify(K, signed(K), now=1000)["role"] == tickets.USER_ROLE
    user = tickets.mint(K, "7", now=1000)
    assert "role" not in jwt.decode(user, options={"verify_signature": False})
    admin = tickets.mint(K, "7", now=1000, role=tickets.ADMIN_ROLE)
    assert tickets.verify(K, admin, now=1000)["role"] == tickets.ADMIN_ROLE
    with pytest.raises(ValueError, match="role must be one of user, admin"):
        tickets.mint(K, "7", role="backend")


def test_a_ticket_is_a_standard_hs256_jwt_for_switchboard():
    """Any JWT library verifies what mint makes, and what it makes with the claims below is accepted."""
    secret = "a-secret-of-at-least-thirty-two-bytes"
    claims = jwt.decode(
        tickets.mint(secret, "42", now=1000),
        secret,
        algorithms=["HS256"],
        audience="switchboard",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "42" and claims["exp"] - claims["iat"] == tickets.DEFAULT_TTL and claims["jti"]
    assert tickets.verify(secret, signed(secret), now=1000)["sub"] == "7"


@pytest.mark.parametrize("claim", ["sub", "iat", "exp", "jti", "aud"])
def test_every_required_claim_must_be_there(claim):
    assert reason(K, signed(K, **{claim: OMIT}), now=1000) == tickets.INVALID


def test_another_audience_or_algorithm_is_refused():
    assert reason(K, signed(K, aud="someone-else"), now=1000) == tickets.INVALID
    assert reason(K, signed(K, algorithm="HS512"), now=1000) == tickets.INVALID
    unsigned = jwt.encode(
        {"sub": "7", "iat": 1000, "exp": 1060, "jti": "j", "aud": "switchboard"}, None, algorithm="none"
    )
    assert reason(K, unsigned, now=1000) == tickets.INVALID


def test_a_ticket_not_valid_yet_is_refused():
    assert reason(K, signed(K, nbf=1100), now=1000) == tickets.INVALID
    assert tickets.verify(K, signed(K, nbf=1000), now=1000)["sub"] == "7"
