from django.db import models
from django.db.models.functions import Lower


class Label(models.Model):
    """A message label (Onboarding, Reengage, ...). Naming rules and the 900 cap come with the labels work."""

    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="label_name_ci_unique")]

    def __str__(self) -> str:
        return self.name
