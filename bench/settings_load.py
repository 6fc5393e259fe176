"""Settings for the load and fault benchmarks (bench/load.py, bench/faults.py).

The project's own settings, read from the environment exactly as in production, plus one URLconf
that adds a bare comparison view (`/bench/bare`, see bench/urls_load.py). Nothing else differs:
same middleware, same password hashing, same database and cache configuration.
"""

from billing_admin.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_load"
