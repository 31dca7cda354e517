from rest_framework.routers import SimpleRouter

from campaigns.api.saved_filters import SavedFilterViewSet
from campaigns.api.views import CampaignViewSet

# Path converters (<int:pk>): an id that is not a number is a 404 before any view runs.
router = SimpleRouter(use_regex_path=False)
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("saved-filters", SavedFilterViewSet, basename="saved-filter")

urlpatterns = router.urls
