"""The CLI's reading of its arguments and of the hub's secrets (router/node/commands.py,
router/node/secrets.py): bad input is refused naming the word and the fix, secrets are never written."""

import pytest
from switchboard.router import settings as S
from switchboard.router.node import commands
from switchboard.router.node.secrets import SecretsMissing, ensure_secrets, read_secrets


def test_each_argument_is_one_json_value():
    assert commands.json_args(["1", '"a b"', '{"x": [1, null]}', "true"]) == [1, "a b", {"x": [1, None]}, True]
    assert commands.json_kwargs('{"room": "lobby"}') == {"room": "lobby"}
    assert commands.json_kwargs(None) == {}


def test_a_word_that_is_not_json_is_a_usage_error_with_the_quoting_hint():
    with pytest.raises(commands.CommandError) as info:
        commands.json_args(["1", "hello"])
    assert info.value.code == commands.EXIT_USAGE
    assert "argument 2 ('hello') is not JSON" in str(info.value) and "'\"hello\"'" in str(info.value)
    with pytest.raises(commands.CommandError) as info:
        commands.json_args(['{"a": '])
    assert "argument 1" in str(info.value) and "quoted" not in str(info.value)


def test_kwargs_must_be_an_object():
    for text in ("[1]", "3", '"x"'):
        with pytest.raises(commands.CommandError, match="--kwargs must be a JSON object"):
            commands.json_kwargs(text)


def test_read_secrets_takes_the_environment_first_and_never_writes(tmp_path):
    path = tmp_path / "secrets.env"
    written, _ = ensure_secrets(path, env={})
    before = path.read_text()
    assert read_secrets(path, env={}) == written
    assert read_secrets(path, env={S.ENV_BRIDGE_SECRET: "from-env"})[S.ENV_BRIDGE_SECRET] == "from-env"
    assert path.read_text() == before


def test_read_secrets_names_what_is_missing_and_where_it_looked(tmp_path):
    path = tmp_path / "secrets.env"
    with pytest.raises(SecretsMissing) as info:
        read_secrets(path, env={})
    assert str(path) in str(info.value) and S.ENV_DIR in str(info.value) and not path.exists()
    path.write_text(f"{S.ENV_BACKEND_SECRET}=x\n")
    with pytest.raises(SecretsMissing) as info:
        read_secrets(path, env={S.ENV_TICKET_SECRET: "t"})
    assert S.ENV_BRIDGE_SECRET in str(info.value) and S.ENV_BACKEND_SECRET not in str(info.value)
