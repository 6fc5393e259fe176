"""History, audit log, exports and contract coverage pages."""

urlpatterns: list = []
