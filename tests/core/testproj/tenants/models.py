from django.db import models


class Tenant(models.Model):
    tenant_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.tenant_id


class Observation(models.Model):
    """What a task saw, written by the worker (beat and fan-out tests read it)."""

    label = models.CharField(max_length=100)
    tenant_id = models.CharField(max_length=64, null=True)


class Customer(models.Model):
    """The tenant of the in-house tenancy layer README's custom backend example serves."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)


class Order(models.Model):
    """A customer's row: the in-house layer's tasks read orders through the current customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    text = models.CharField(max_length=100)
