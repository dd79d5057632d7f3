from sitekit.tasks import *  # noqa: F401,F403  (the probe tasks every site runs)
