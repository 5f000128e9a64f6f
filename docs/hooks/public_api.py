"""MkDocs hook: fail a strict build when a public symbol has no docstring.

Public symbols are the names in ``__all__`` of the package and of the modules the API
reference documents. Each missing docstring is logged as a warning, which ``mkdocs build
--strict`` turns into an error.
"""

from __future__ import annotations

import importlib
import inspect
import logging

log = logging.getLogger("mkdocs.hooks.public_api")

MODULES = (
    "discrete_choice",
    "discrete_choice.data",
    "discrete_choice.noise",
    "discrete_choice.draws",
    "discrete_choice.simulators",
    "discrete_choice.models",
    "discrete_choice.models.probit",
    "discrete_choice.models.heteroscedastic",
    "discrete_choice.models.multinomial_probit",
    "discrete_choice.models.neural",
    "discrete_choice.simulators.ghk",
    "discrete_choice.inference",
    "discrete_choice.inference.train",
    "discrete_choice.inference.svi",
    "discrete_choice.inference.mcmc",
    "discrete_choice.compare",
    "discrete_choice.results",
    "discrete_choice.temperature",
    "discrete_choice.plots",
    "discrete_choice.exceptions",
)


def undocumented() -> list[str]:
    """Return ``module.name`` for every public class or function without its own docstring."""
    missing = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("discrete_choice"):
                continue
            doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (doc and doc.strip()):
                missing.append(f"{module_name}.{name}")
    return sorted(set(missing))


def on_config(config):
    for name in undocumented():
        log.warning("public symbol %s has no docstring; document it before building the docs",
                    name)
    return config
