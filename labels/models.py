from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Label(models.Model):
    """A message label (Onboarding, Reengage, ...), applied to campaigns across channels.

    Names follow labels.rules; every write goes through labels.services, which keeps the 900 cap.
    """

    name = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="label_name_ci_unique")]

    def __str__(self) -> str:
        return self.name
