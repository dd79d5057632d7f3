from django.db import models


class Note(models.Model):
    """A tenant table: each tenant's schema or database holds its own rows."""

    text = models.CharField(max_length=200)
