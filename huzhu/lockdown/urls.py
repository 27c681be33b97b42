"""The lockdown pages' URLs: group buying (views.py), its printable sheets (views_print.py), the
per-building status board (views_board.py), mass testing (views_testing.py) and the payments
of a group buy (views_payments.py)."""

from huzhu.lockdown import views_board, views_payments, views_print, views_testing
from huzhu.lockdown.views import app_name
from huzhu.lockdown.views import urlpatterns as group_buy_urls

urlpatterns = [
    *group_buy_urls,
    *views_print.urlpatterns,
    *views_board.urlpatterns,
    *views_testing.urlpatterns,
    *views_payments.urlpatterns,
]

__all__ = ["app_name", "urlpatterns"]
