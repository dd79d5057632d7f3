"""django-omnitenant's way to switch integrations on: ``OMNITENANT_CONFIG["PATCHES"]`` lists modules
it imports at start-up; ``omnitenant_patch.patches.celery`` is this package's."""
