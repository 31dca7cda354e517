from rest_framework.routers import SimpleRouter

from labels.api import LabelViewSet

# Path converters (<int:pk>): an id that is not a number is a 404 before any view runs.
router = SimpleRouter(use_regex_path=False)
router.register("labels", LabelViewSet, basename="label")

urlpatterns = router.urls
