"""Exceptions raised by omnitenant_patch, all importable from the package top level."""

from __future__ import annotations


class OmnitenantError(Exception):
    """Base class of every error this library raises on purpose."""


class UnsupportedCeleryVersion(OmnitenantError, RuntimeError):
    """The installed Celery is outside the range this library is proven on."""


class ImproperlyConfigured(OmnitenantError, ValueError):
    """``OMNITENANT_CONFIG`` (or a ``patch_celery()`` override) is wrong."""


class TenantNotFound(OmnitenantError, LookupError):
    """A task's tenant header names a tenant that does not exist.

    The task fails with this error and its body never runs. The single
    constructor argument is the message, so the exception survives every
    result serializer; ``tenant_id``, ``header`` and ``task_name`` are kept
    as attributes where the exception is raised.
    """

    def __init__(self, message: str, *, tenant_id=None, header=None, task_name=None):
        super().__init__(message)
        self.tenant_id = tenant_id
        self.header = header
        self.task_name = task_name


class InvalidTenantHeader(OmnitenantError, ValueError):
    """A message's tenant header is not a plausible tenant id; the task fails without running."""


class TenantSignatureError(OmnitenantError, PermissionError):
    """With ``SIGN_HEADERS``, a message's tenant header is unsigned or wrongly signed; the task
    fails without running."""


class TenantRequired(OmnitenantError, ValueError):
    """With ``REQUIRE_TENANT``, a task that is not tenant-agnostic was queued (or arrived) with
    no tenant."""
