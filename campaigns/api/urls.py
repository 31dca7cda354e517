from rest_framework.routers import SimpleRouter

from campaigns.api.views import CampaignViewSet

# Path converters (<int:pk>): an id that is not a number is a 404 before any view runs.
router = SimpleRouter(use_regex_path=False)
router.register("campaigns", CampaignViewSet, basename="campaign")

urlpatterns = router.urls
