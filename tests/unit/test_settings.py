import json

import pytest
from switchboard.bridge.envfile import parse_env_file
from switchboard.router import settings as S
from switchboard.router.node.process import render_config
from switchboard.router.node.secrets import ensure_secrets


def test_defaults_come_from_config_json():
    config = S.load_config()
    s = S.Settings.from_env({}, config)
    web = S.transport(config, "web")["endpoint"]
    assert (s.host, s.port) == (web["interface"], web["port"])
    assert s.realm == "switchboard"
    assert s.http_url == f"http://{s.host}:{s.port}/"  # IPv6 hosts: tests/unit/test_netloc.py


def test_environment_overrides_and_bad_values_are_named():
    s = S.Settings.from_env(
        {
            "SWITCHBOARD_HOST": "0.0.0.0",
            "SWITCHBOARD_PORT": "9000",
            "SWITCHBOARD_BACKEND_PORT": "9001",
            "SWITCHBOARD_LOGLEVEL": "warn",
        }
    )
    assert (s.host, s.port, s.backend_port, s.loglevel) == ("0.0.0.0", 9000, 9001, "warn")
    with pytest.raises(S.SettingsError, match="SWITCHBOARD_PORT"):
        S.Settings.from_env({"SWITCHBOARD_PORT": "http"})
    with pytest.raises(S.SettingsError, match="SWITCHBOARD_BACKEND_PORT"):
        S.Settings.from_env({"SWITCHBOARD_BACKEND_PORT": "70000"})
    with pytest.raises(S.SettingsError, match="SWITCHBOARD_LOGLEVEL"):
        S.Settings.from_env({"SWITCHBOARD_LOGLEVEL": "loud"})
    for bad in ("soon", "-1", "nan", "inf"):
        with pytest.raises(S.SettingsError, match=f"SWITCHBOARD_GC_FULL_EVERY='{bad}' is not a number of seconds"):
            S.Settings.from_env({"SWITCHBOARD_GC_FULL_EVERY": bad})
    assert S.gc_full_every({}) == S.DEFAULT_GC_FULL_EVERY and S.gc_full_every({"SWITCHBOARD_GC_FULL_EVERY": "0"}) == 0
    with pytest.raises(S.SettingsError, match="SWITCHBOARD_SEND_BUFFER='lots' is not a whole number of bytes"):
        S.Settings.from_env({"SWITCHBOARD_SEND_BUFFER": "lots"})  # a limit, refused before any worker reads it


def test_render_config_points_everything_at_the_settings(tmp_path):
    settings = S.Settings(host="127.0.0.2", port=1234, backend_port=1235, realm="switchboard")
    config = render_config(S.load_config(), settings)
    web = S.transport(config, "web")
    assert web["endpoint"]["port"] == 1234 and web["endpoint"]["interface"] == "127.0.0.2"
    assert web["paths"]["/"]["directory"] == str(S.WEB_DIR)
    containers = [w for w in config["workers"] if w["type"] == "container"]
    assert containers and all(c["components"][0]["transport"]["endpoint"]["port"] == 1235 for c in containers)
    bare = render_config(S.load_config(), settings, with_components=False)
    assert [w["type"] for w in bare["workers"]] == ["router"]


def test_render_config_gives_every_transport_the_message_size_limit_of_the_nodes_environment():
    settings = S.Settings(host="127.0.0.1", port=1234, backend_port=1235, realm="switchboard")
    for env, size in (({}, 1024 * 1024), ({"SWITCHBOARD_MAX_MESSAGE_SIZE": "4096"}, 4096)):
        config = render_config(S.load_config(), settings, env=env)
        assert S.transport(config, "web")["paths"]["ws"]["options"]["max_message_size"] == size
        assert S.transport(config, "backend")["options"]["max_message_size"] == size
    web = S.transport(render_config(S.load_config(), settings, env={"SWITCHBOARD_HTTP_TIMEOUT": "7"}), "web")
    assert web["options"]["client_timeout"] == 7


def test_secrets_are_generated_once_and_env_wins(tmp_path):
    path = tmp_path / "dir" / "secrets.env"
    first, created = ensure_secrets(path, env={})
    assert created and path.stat().st_mode & 0o777 == 0o600
    again, created_again = ensure_secrets(path, env={})
    assert again == first and not created_again
    override, _ = ensure_secrets(path, env={"SWITCHBOARD_BACKEND_SECRET": "from-env"})
    assert override["SWITCHBOARD_BACKEND_SECRET"] == "from-env"
    assert parse_env_file(path.read_text()) == first


def test_parse_env_file_names_the_bad_line_and_reads_dotenv_syntax():
    with pytest.raises(ValueError, match="expected NAME=value, not 'nonsense'"):
        parse_env_file("A=1\nnonsense\n")
    assert parse_env_file('# comment\nexport A="quoted value"\nB=2 # trailing\n') == {"A": "quoted value", "B": "2"}
    assert parse_env_file("S=a${HOME}$b\n") == {"S": "a${HOME}$b"}  # never expanded: both sides read the same


def test_move_into_router_runs_a_container_component_as_a_router_backend_session():
    config = S.load_config(S.CONFIG_FILE)
    demo = next(w for w in config["workers"] if w.get("id") == "demo")
    S.move_into_router(config, "demo")
    assert demo not in config["workers"]
    moved = [c for c in S.router_worker(config)["components"] if c["id"] == "demo"]
    assert moved == [{**{k: v for k, v in demo["components"][0].items() if k != "transport"}, "role": S.BACKEND_ROLE}]
    with pytest.raises(KeyError, match="no container worker with id 'demo'"):
        S.move_into_router(config, "demo")
    with pytest.raises(KeyError, match="'router'"):
        S.move_into_router(config, "router")  # the router worker is not a container


def test_the_hub_directory_holds_secrets_node_and_its_own_config(tmp_path):
    s = S.Settings.from_env({"SWITCHBOARD_DIR": str(tmp_path)})
    assert (s.home, s.secrets_file, s.node_dir) == (tmp_path, tmp_path / "secrets.env", tmp_path / "node")
    assert s.config_file == S.CONFIG_FILE  # no config of its own: the default one
    config = S.load_config(S.CONFIG_FILE)
    S.transport(config, "web")["endpoint"]["port"] = 8111
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    s = S.Settings.from_env({"SWITCHBOARD_DIR": str(tmp_path)})
    assert s.config_file == tmp_path / "config.json" and s.port == 8111
    elsewhere = tmp_path / "elsewhere.env"
    assert (
        S.Settings.from_env({"SWITCHBOARD_DIR": str(tmp_path), "SWITCHBOARD_SECRETS_FILE": str(elsewhere)}).secrets_file
        == elsewhere
    )


def test_without_a_hub_directory_it_is_dot_switchboard_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = S.Settings.from_env({})
    assert s.home == tmp_path / ".switchboard" and s.secrets_file == tmp_path / ".switchboard" / "secrets.env"


def test_the_page_and_the_default_config_are_found_as_package_data():
    assert (S.WEB_DIR / "index.html").is_file() and (S.WEB_DIR / "switchboard.js").is_file()
    assert S.CONFIG_FILE.name == "config.json" and S.realm_name(S.load_config(S.CONFIG_FILE)) == "switchboard"


def test_a_workers_runtime_settings_are_read_from_its_environment_in_one_place():
    rt = S.Runtime.from_env({})
    assert (rt.bridge_key, rt.bridge_secret, rt.django_url) == ("django", None, "")
    assert rt.forward_topics == ("django.events.",) and rt.guards and rt.turn_flush and rt.gc_full_every == 300
    rt = S.Runtime.from_env(
        {
            "SWITCHBOARD_FORWARD_TOPICS": " a., ,b. ",
            "SWITCHBOARD_DJANGO_URL": "http://d/sb/",
            "SWITCHBOARD_GUARDS": "0",
            "SWITCHBOARD_FAST_SEND": "0",
            "SWITCHBOARD_BRIDGE_KEY": "k",
        }
    )
    assert rt.forward_topics == ("a.", "b.") and rt.django_url == "http://d/sb" and rt.bridge_key == "k"
    assert not rt.guards and not rt.fast_send and rt.turn_flush
    with pytest.raises(S.SettingsError, match="SWITCHBOARD_GC_FULL_EVERY"):
        S.Runtime.from_env({"SWITCHBOARD_GC_FULL_EVERY": "soon"})


def test_tls_files_are_checked_before_the_node_starts_and_each_error_names_its_variable(tmp_path):
    from tests import selfsigned

    good, other = selfsigned.make(tmp_path / "a"), selfsigned.make(tmp_path / "b")
    env = {"SWITCHBOARD_TLS_CERT": str(good.cert), "SWITCHBOARD_TLS_KEY": str(good.key)}
    s = S.Settings.from_env(env)
    assert s.tls == S.Tls(good.cert, good.key)
    assert s.http_url.startswith("https://") and s.ws_url.startswith("wss://") and s.ready_url.startswith("https://")
    assert S.Settings.from_env({}).tls is None
    fullchain = tmp_path / "fullchain.pem"
    fullchain.write_text(good.cert.read_text() + other.cert.read_text())
    cases = {
        "SWITCHBOARD_TLS_KEY is not set": {"SWITCHBOARD_TLS_CERT": str(good.cert)},
        "SWITCHBOARD_TLS_CERT is not set": {"SWITCHBOARD_TLS_KEY": str(good.key)},
        "SWITCHBOARD_TLS_CHAIN is set but": {"SWITCHBOARD_TLS_CHAIN": str(other.cert)},
        "SWITCHBOARD_TLS_CERT='/nowhere.crt' cannot be read": {**env, "SWITCHBOARD_TLS_CERT": "/nowhere.crt"},
        "SWITCHBOARD_TLS_KEY=.* is not an unencrypted PEM private key of the certificate": {
            **env,
            "SWITCHBOARD_TLS_KEY": str(other.key),
        },
        "holds 2 PEM certificates, not 1: Crossbar serves only the first; put the others": {
            **env,
            "SWITCHBOARD_TLS_CERT": str(fullchain),
        },
        "SWITCHBOARD_TLS_CERT=.* holds 0 PEM certificates": {**env, "SWITCHBOARD_TLS_CERT": str(good.key)},
        "SWITCHBOARD_TLS_CHAIN=.* holds no PEM certificate": {**env, "SWITCHBOARD_TLS_CHAIN": str(good.key)},
    }
    for message, bad in cases.items():
        with pytest.raises(S.SettingsError, match=message):
            S.Settings.from_env(bad)
    chained = S.Settings.from_env({**env, "SWITCHBOARD_TLS_CHAIN": str(other.cert)})
    config = render_config(S.load_config(), chained)
    assert S.transport(config, "web")["endpoint"]["tls"] == {
        "certificate": str(good.cert),
        "key": str(good.key),
        "chain_certificates": [str(other.cert)],
    }
    assert "tls" not in S.transport(render_config(S.load_config(), S.Settings.from_env({})), "web")["endpoint"]
    # the CLI reads a running hub's rendered config: https without the TLS variables in its shell
    from_rendered = S.Settings.from_env({}, config)
    assert from_rendered.tls == chained.tls and from_rendered.http_url.startswith("https://")
