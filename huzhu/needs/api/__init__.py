"""Needs API: the taxonomy, needs, review, offers to volunteers, the volunteer's inbox and
the service loop to confirmation, rating, cancellation and no-show; complaints against a
service. Operation ids are explicit
(``huzhu_needs_api_<function>``).

Importing the operation modules registers their operations on ``router``.
"""

from huzhu.needs.api.common import router

# isort: off
from huzhu.needs.api import needs, assignments, tracking  # noqa: F401
from huzhu.needs.api import complaints  # noqa: F401
from huzhu.needs.api import batch  # noqa: F401
from huzhu.needs.api import types  # noqa: F401
# isort: on

__all__ = ["router"]
