"""index/settings.py: a bad setting is told in one line."""
import pytest


@pytest.mark.parametrize("env, argv, says", [
    ({"QA_TOP_K": "abc"}, ["status"], "QA_TOP_K='abc': input should be a valid integer"),
    ({"QA_EMBED_DTYPE": "int4"}, ["status"], "QA_EMBED_DTYPE='int4': input should be 'auto'"),
    ({}, ["ask", "Who?", "--k", "0"], "--k 0: input should be greater than or equal to 1"),
    ({}, ["serve", "--port", "99999"], "--port 99999: input should be less than or equal to 65535"),
])
def test_a_bad_setting_is_one_line_naming_it(monkeypatch, capsys, tmp_path, env, argv, says):
    from conftest import run_cli

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {says}") and err.count("\n") == 1
    assert ("unset it for the default" in err) == bool(env)  # a flag is fixed where it was typed
