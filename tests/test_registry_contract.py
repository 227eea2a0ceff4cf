"""The registry never hides a plugin problem: misspelt hooks, plugins that exit or raise, entry points
that are not modules, typos in ``requires``; name clashes are shown everywhere and resolvable
(qualified ``DIST:NAME``, blocking a plugin, providers recorded in checkpoints) without uninstalling.

Every plugin here is a fake distribution installed through a real entry point (``make_plugin``).
Example distribution names end in ``-example`` so that they cannot be real plugins.
"""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from hno_framework import registry as registry_module
from hno_framework.cli import cli
from hno_framework.errors import DuplicateComponentError, PluginError, UnknownComponentError
from hno_framework.registry import Registry, get_registry, network_providers

STEP = '''
from hno_framework import hookimpl, UnfoldingStep

class Half(UnfoldingStep):
    """Halving step G(x) = x/2 + Φᵀy/(2L)."""
    name = "{name}"
    requires = {requires}
    def forward(self, x, ctx):
        return 0.5 * x + 0.5 * self.problem.adjoint(ctx.y) / self.problem.lipschitz

@hookimpl
def {hook}(register):
    register(Half)
'''


def step_source(name: str = "half-example", hook: str = "register_steps", requires: str = "frozenset()") -> str:
    return STEP.format(name=name, hook=hook, requires=requires)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    """The process-wide registry reloaded before and after the test, with no plugin disabled."""
    monkeypatch.setattr(registry_module, "_disabled_here", set())
    monkeypatch.delenv("HNO_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("HNO_STRICT_PLUGINS", raising=False)
    get_registry.cache_clear()
    yield
    get_registry.cache_clear()


def broken(reg: Registry, dist: str) -> str:
    (entry,) = [b for b in reg.broken if b.provider.distribution == dist]
    return entry.error


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# -- hooks ----------------------------------------------------------------------------------------

def test_misspelt_marked_hook_is_an_error_with_a_suggestion(make_plugin, monkeypatch) -> None:
    make_plugin("typo-example", step_source(hook="register_step"))
    reg = Registry()
    assert "unknown hook register_step; did you mean register_steps?" in broken(reg, "typo-example")
    assert "half-example" not in reg.names("step") and "lista" in reg.names("step")
    monkeypatch.setenv("HNO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"typo-example.*unknown hook register_step"):
        Registry()


def test_hook_with_wrong_arguments_is_broken_and_leaves_nothing_behind(make_plugin) -> None:
    make_plugin("args-example", step_source().replace("def register_steps(register)", "def register_steps(reg)"))
    make_plugin("good-example", step_source(name="good-example"))
    reg = Registry()
    assert "register_steps(reg)" in broken(reg, "args-example") and "can not be found in the hookspec" in broken(reg, "args-example")
    assert reg.step("good-example").provider.distribution == "good-example"
    assert [i.plugin_name for i in reg._pm.hook.register_steps.get_hookimpls() if "args-example" in i.plugin_name] == []


def test_plugin_that_registers_nothing_warns_and_fails_in_strict_mode(make_plugin, monkeypatch) -> None:
    source = step_source(hook="register_stepz").replace("@hookimpl\n", "")  # neither marked nor spelt right
    make_plugin("silent-example", source)
    with pytest.warns(UserWarning) as caught:
        reg = Registry()
    assert any("silent-example" in str(w.message) and "registers nothing" in str(w.message) for w in caught)
    (record,) = [p for p in reg.plugins if p.provider.distribution == "silent-example"]
    assert any("did you mean register_steps()" in w for w in record.warnings), record.warnings
    rows = {r["plugin"]: r for r in json.loads(run_cli_with(reg, "list", "plugins", "--json"))}
    assert rows["silent-example"]["status"] == "warning"
    monkeypatch.setenv("HNO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="register_stepz"):
        Registry()


def test_unmarked_hook_is_named(make_plugin) -> None:
    make_plugin("unmarked-example", step_source().replace("@hookimpl\n", ""))
    with pytest.warns(UserWarning) as caught:
        Registry()
    assert any("register_steps() is not marked with @hookimpl" in str(w.message) for w in caught)


def run_cli_with(reg: Registry, *args: str) -> str:
    """``hno ARGS`` with ``reg`` as the process-wide registry (and no listing cache, which would not know it)."""
    get_registry.cache_clear()
    original = registry_module.get_registry
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HNO_NO_CACHE", "1")
        try:
            registry_module.get_registry = lambda: reg  # type: ignore[assignment]
            return run_cli(*args)
        finally:
            registry_module.get_registry = original
            get_registry.cache_clear()


# -- isolation ------------------------------------------------------------------------------------

def test_sys_exit_at_import_is_reported_not_obeyed(make_plugin, fresh) -> None:
    make_plugin("exiting-example", "import sys\nsys.exit(3)\n")
    reg = Registry()
    assert "SystemExit: the plugin called sys.exit(3)" in broken(reg, "exiting-example")
    assert "lista" in reg.names("step")
    out = run_cli("list", "plugins")
    assert "exiting-example" in out and "broken" in out


@pytest.mark.parametrize("method, body, message", [
    ("summary", "raise ValueError('no summary')", r"summary\(\) raised ValueError: no summary"),
    ("describe", "raise KeyError('family')", r"describe\(default options\) raised KeyError"),
    ("describe", "return {'order': 1}", r"describe\(\) returned dict, expected IntegratorMetadata"),
])
def test_a_class_whose_methods_raise_is_refused_and_hno_list_survives(make_plugin, fresh, method, body, message) -> None:
    make_plugin("raising-example", f'''
from hno_framework import hookimpl, Integrator, IntegratorMetadata

class Raising(Integrator):
    """Euler whose {method}() is broken."""
    name = "raising-example"
    @classmethod
    def describe(cls, options):
        return IntegratorMetadata(family="one-step")
    def advance(self, t, history, field):
        return history.x(0) + history.f(0)

def broken_method(cls, *args):
    {body}

Raising.{method} = classmethod(broken_method)

@hookimpl
def register_integrators(register):
    register(Raising)
''')
    import re

    assert re.search(message, broken(Registry(), "raising-example"))
    for args in (["list"], ["list", "--json"], ["list", "plugins"], ["list", "integrators", "--json"]):
        assert "raising-example" in run_cli(*args)


def test_entry_point_that_is_not_a_module_is_broken(make_plugin) -> None:
    make_plugin("function-example", "def register_steps(register):\n    pass\n", attr="register_steps")
    assert "names a function, not a module" in broken(Registry(), "function-example")


def test_typo_in_requires_is_reported_with_the_known_requirements(make_plugin) -> None:
    make_plugin("requires-example", step_source(requires="frozenset({'basiss'})"))
    error = broken(Registry(), "requires-example")
    assert "requires names unknown requirement 'basiss' (did you mean 'basis'?)" in error
    assert "known: basis, image, matrix, patch" in error
    make_plugin("requires-str-example", step_source(name="str-example", requires="'basis'"))
    assert "must be a frozenset of names" in broken(Registry(), "requires-str-example")


def test_unknown_name_mentions_plugins_that_failed_to_load(make_plugin) -> None:
    make_plugin("failing-example", "raise ImportError('needs scipy')\n")
    with pytest.raises(UnknownComponentError, match=r"Note: plugin failing-example failed to load \(ImportError: needs scipy\)"):
        Registry().step("half-example")


# -- clashes --------------------------------------------------------------------------------------

@pytest.fixture
def shadow(make_plugin, fresh) -> None:
    """A second provider of the built-in 'lista'."""
    make_plugin("shadow-example", step_source(name="lista"), version="9.9")


def test_clash_is_refused_by_plain_name_and_resolved_by_qualified_name(shadow) -> None:
    reg = Registry()
    with pytest.raises(DuplicateComponentError, match="'hno-framework:lista' or 'shadow-example:lista'"):
        reg.step("lista")
    assert reg.step("hno-framework:lista").provider.distribution == "hno-framework"
    assert reg.step("shadow-example:lista").cls.summary().startswith("Halving step")
    assert {"hno-framework:lista", "shadow-example:lista"} <= set(reg.names("step"))
    assert reg.names("step", "lista*") == ["hno-framework:lista", "lista-cpss", "lista-cs", "shadow-example:lista"]
    assert reg.names("step", "shadow-example:*") == ["shadow-example:lista"]


def test_clash_is_shown_by_hno_list_json_and_plugins(shadow) -> None:
    rows = json.loads(run_cli("list", "--json"))
    (conflict,) = [r for r in rows if r["kind"] == "conflict"]
    assert (conflict["component_kind"], conflict["name"]) == ("step", "lista")
    assert [p["qualified_name"] for p in conflict["providers"]] == ["hno-framework:lista", "shadow-example:lista"]
    listed = [r for r in rows if r["kind"] == "step" and r["name"] == "lista"]
    assert {r["plugin"] for r in listed} == {"hno-framework", "shadow-example"} and all(r["conflict"] for r in listed)
    plugins = json.loads(run_cli("list", "plugins", "--json"))
    assert [r["status"] for r in plugins if r["plugin"] == "shadow-example"] == ["conflict"]
    (builtin_steps,) = [r for r in plugins if r["entry_point"] == "builtin-steps = hno_plugins.steps"]
    assert builtin_steps["status"] == "conflict" and builtin_steps["conflicts"] == ["step lista"]
    text = run_cli("list", "lista*")
    assert "conflict" in text and "shadow-example:lista" in text


def test_clash_in_a_config_is_resolved_by_a_qualified_name(shadow) -> None:
    from hno_framework import compose

    config = {"problem": {"m": 10, "n": 20}, "network": {"step": "hno-framework:lista", "integrator": "2no", "layers": 2}}
    net = compose(config)
    assert type(net.layers[0]).__module__ == "hno_plugins.steps.lista"
    with pytest.raises(DuplicateComponentError):
        compose({**config, "network": {**config["network"], "step": "lista"}})


def test_strict_mode_reports_the_clash_not_a_load_failure(shadow, monkeypatch) -> None:
    monkeypatch.setenv("HNO_STRICT_PLUGINS", "1")
    with pytest.raises(DuplicateComponentError, match="step 'lista' is registered twice"):
        Registry()


def test_a_plugin_can_be_blocked_by_environment_or_option(shadow, monkeypatch) -> None:
    monkeypatch.setenv("HNO_DISABLE_PLUGINS", "shadow-example")
    reg = Registry()
    assert reg.step("lista").provider.distribution == "hno-framework" and not reg.conflicts
    assert [p.distribution for p in reg.disabled] == ["shadow-example"]
    monkeypatch.delenv("HNO_DISABLE_PLUGINS")
    get_registry.cache_clear()
    rows = json.loads(run_cli("--disable-plugin", "shadow_example", "list", "plugins", "--json"))
    assert [r["status"] for r in rows if r["plugin"] == "shadow-example"] == ["disabled"]
    rows = json.loads(run_cli("list", "steps", "lista", "--json"))
    assert [r["plugin"] for r in rows if r["kind"] == "step"] == ["hno-framework"]


def test_a_plugin_that_exits_can_be_blocked(make_plugin, fresh) -> None:
    make_plugin("exiting-example", "import sys\nsys.exit(1)\n", ep_name="exits")
    reg = Registry(disabled=["exits"])  # the entry-point name works too; the module is never imported
    assert not reg.broken and [p.distribution for p in reg.disabled] == ["exiting-example"]


def test_checkpoint_records_providers_and_eval_resolves_the_clash(make_plugin, fresh, tmp_path) -> None:
    from hno_framework import compose
    from hno_framework.checkpoint import load_network, save_checkpoint
    from hno_framework.config import parse_config

    config = parse_config({"problem": {"m": 10, "n": 20}, "network": {"step": "lista", "integrator": "2no", "layers": 2}})
    net = compose(config)
    providers = network_providers(config.network)
    assert providers["step"]["plugin"] == "hno-framework" and providers["integrator"]["name"] == "2no"
    save_checkpoint(tmp_path / "best.pt", {"config": config.model_dump(mode="json"), "model": net.state_dict(),
                                           "providers": providers})
    save_checkpoint(tmp_path / "old.pt", {"config": config.model_dump(mode="json"), "model": net.state_dict()})

    make_plugin("shadow-example", step_source(name="lista"))
    get_registry.cache_clear()
    loaded, loaded_config = load_network(tmp_path / "best.pt")
    assert loaded_config.network.step.name == "hno-framework:lista"
    y = torch.randn(3, 10)
    torch.testing.assert_close(loaded(y), net(y))
    with pytest.raises(DuplicateComponentError, match="qualified name"):
        load_network(tmp_path / "old.pt")  # no providers recorded: the clash is named with its fix
