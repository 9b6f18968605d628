"""Imports every domain's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from healthbrain.auth import models as auth_models
from healthbrain.chronic import models as chronic_models
from healthbrain.contracts import models as contracts_models
from healthbrain.db import Base
from healthbrain.geo import models as geo_models
from healthbrain.interop import models as interop_models
from healthbrain.linkage import models as linkage_models
from healthbrain.people import models as people_models
from healthbrain.records import models as records_models
from healthbrain.sim import models as sim_models
from healthbrain.surveillance import models as surveillance_models

__all__ = [
    "Base",
    "auth_models",
    "chronic_models",
    "contracts_models",
    "geo_models",
    "interop_models",
    "linkage_models",
    "people_models",
    "records_models",
    "sim_models",
    "surveillance_models",
]
