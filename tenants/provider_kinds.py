"""What each kind of provider connection accepts in its settings.

Each backend declares its kind once, beside its code (``messaging.providers.*``,
``smpp.backend``), and registers it when Django starts; the connection form,
``add_provider_connection``, the encryption of secrets at rest and the SMPP connector all
read that declaration. This module sits below the backends, so it holds the registry
rather than the declarations (docs/ARCHITECTURE.md#provider-backends).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Setting:
    key: str
    required: bool = False
    # A credential: stored encrypted, shown masked, never sent back to a browser.
    secret: bool = False
    # A URL this installation calls: held to the outbound URL rule.
    url: bool = False
    default: str = ""
    # Raises ValueError for a value that is not ``expected`` (every value arrives as text).
    parse: Callable[[str], object] | None = None
    expected: str = ""


@dataclass(frozen=True)
class ProviderKind:
    name: str
    settings: tuple[Setting, ...] = ()
    # Checks across settings, as ``(key, message)`` pairs.
    extra_checks: Callable[[Mapping[str, str]], list[tuple[str, str]]] | None = field(
        default=None, compare=False)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(setting.key for setting in self.settings)

    @property
    def required(self) -> frozenset[str]:
        return frozenset(setting.key for setting in self.settings if setting.required)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(setting.key for setting in self.settings if setting.secret)

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(setting.key for setting in self.settings if setting.url)

    def default(self, key: str) -> str:
        return next((setting.default for setting in self.settings if setting.key == key), "")

    def value_problems(self, values: Mapping[str, str]) -> list[tuple[str, str]]:
        """``(key, message)`` for each given value that does not parse."""
        problems = []
        for setting in self.settings:
            value = str(values.get(setting.key) or "").strip()
            if setting.parse is None or not value:
                continue
            try:
                setting.parse(value)
            except ValueError:
                problems.append((setting.key,
                                 f"{setting.key}: {value!r} is not {setting.expected}."))
        if self.extra_checks is not None:
            problems += self.extra_checks(values)
        return problems


_kinds: dict[str, ProviderKind] = {}


def provider_kind_register(kind: ProviderKind) -> None:
    _kinds[kind.name] = kind


def provider_kind(name: str) -> ProviderKind | None:
    return _kinds.get(name)


def provider_kind_names() -> list[str]:
    return list(_kinds)


def secret_setting_keys() -> frozenset[str]:
    """Every kind's credential keys: what ``ProviderConnection.settings`` encrypts."""
    return frozenset().union(*(kind.secrets for kind in _kinds.values()))
