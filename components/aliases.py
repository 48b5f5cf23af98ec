"""The names an older release gave our resources, as Pulumi aliases: ``pulumi up`` updates in place.

0.2.0 moved the components into sub-packages and renamed the type tokens that did not follow their module
(``mlops:<package or module>:<Name>``). A stack deployed with 0.1.0 holds the old tokens in its state; each
component built here declares its old token as an alias, and the engine carries a parent's aliases down to
every child (``inheritedChildAlias``), so no resource of such a stack is replaced or deleted.
tests/components/test_aliases.py maps every URN of the 0.1.0 plans to the URN that answers for it now.
"""

from __future__ import annotations

import pulumi

__all__ = ["TYPE_ALIASES", "component_options"]

TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "mlops:artifact_store:ArtifactStore": ("mlops:artifacts:ArtifactStore",),
    "mlops:container_registry:ContainerRegistry": ("mlops:registry:ContainerRegistry",),
    "mlops:mlflow:ModelRegistry": ("mlops:model_registry:ModelRegistry",),
    "mlops:database:DatabaseTenant": ("mlops:database_tenant:DatabaseTenant",),
    "mlops:database:DatabaseAdminNamespace": ("mlops:database_tenant:DatabaseAdminNamespace",),
}
"""Current type token -> the tokens earlier releases registered the same component under."""


def component_options(type_token: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions | None:
    """``opts`` plus an alias for each earlier type token of ``type_token`` (the caller's aliases are kept)."""
    old = TYPE_ALIASES.get(type_token, ())
    if not old:
        return opts
    aliases = [pulumi.Alias(type_=token) for token in old]
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases))
