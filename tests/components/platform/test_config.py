"""mlops_platform.components.platform.config: the one import of the configuration's public names, each the very object
its defining module (settings, profiles, loader, governance) holds."""

from __future__ import annotations

import pytest

from mlops_platform.components import governance
from mlops_platform.components.platform import config, loader, profiles, settings

HOMES = (settings, profiles, loader, governance)


@pytest.mark.parametrize("name", config.__all__)
def test_every_public_name_is_its_home_modules_object(name: str) -> None:
    homes = [m for m in HOMES if name in vars(m)]
    assert homes, f"{name} is defined in none of {[m.__name__ for m in HOMES]}"
    assert getattr(config, name) is getattr(homes[0], name)


def test_the_stack_program_and_mlops_find_what_they_import() -> None:
    for name in ("PROJECT", "KEYS", "ConfigError", "PlatformConfig", "build", "from_pulumi", "review"):
        assert name in config.__all__
    assert sorted(config.__all__) == sorted(set(config.__all__)), "a name is listed twice"
