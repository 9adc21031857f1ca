"""Work done once instead of within requests.

`Domain.is_empty` (asked by Rasa's processor for every message, to skip its check of the NLU's intents
and entities against the domain) builds an empty domain from scratch each time to compare with (0.2 ms
per message); the empty domain's contents are built once here.

The loaded server holds about 550,000 objects the garbage collector tracks (the model, TensorFlow,
spaCy, Rasa's modules), which live as long as the server. Python's full collection (generation 2)
walks every tracked object: in the Rasa server it ran about once per 250 messages and took 250 ms,
inside one request (that request's reply came a quarter of a second late). `gc.freeze()`, once the
model is loaded, moves the objects alive then out of the collector's sight, so a full collection
walks only what requests created since. Frozen objects are still freed when nothing refers to them
any more; only a reference cycle among them would stay.
"""

from __future__ import annotations

import copy
import gc
from functools import lru_cache
from typing import Any, Dict

from rasa.shared.core.domain import Domain

from tuning import patching

_frozen = False


@lru_cache(maxsize=1)
def _empty_domain() -> Dict[str, Any]:
    return copy.deepcopy(Domain.empty().as_dict())


def domain_is_empty(self: Domain) -> bool:
    """Check whether the domain is empty (Rasa's `Domain.is_empty`)."""
    return self.as_dict() == _empty_domain()


def freeze_loaded_objects() -> None:
    """Once per process: the objects alive now are never walked by the garbage collector again."""
    global _frozen
    if not _frozen and not patching.unpatched("startup"):
        _frozen = True
        gc.freeze()


def install() -> None:
    patching.install("startup", [(Domain, "is_empty", domain_is_empty)])
