from django.urls import path

from campaigns import views, views_saved_filters

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("bulk/", views.campaign_bulk, name="bulk"),
    path("labels/", views.campaign_bulk_labels, name="labels"),
    # The filter drawer's type-aheads.
    path("creators/", views.campaign_creators, name="creators"),
    path("labels/options/", views.campaign_label_options, name="label_options"),
    path("example/", views.campaign_example, name="example"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/publish/", views.campaign_publish, name="publish"),
    path("<int:pk>/submit/", views.campaign_submit, name="submit"),
    path("<int:pk>/stop/", views.campaign_stop, name="stop"),
    path("<int:pk>/clone/", views.campaign_clone, name="clone"),
    path("<int:pk>/archive/", views.campaign_archive, name="archive"),
    # Saved filters (campaigns/views_saved_filters.py)
    path("saved-filters/", views_saved_filters.saved_filter_create, name="saved_filter_create"),
    path(
        "saved-filters/<int:pk>/rename/",
        views_saved_filters.saved_filter_rename,
        name="saved_filter_rename",
    ),
    path(
        "saved-filters/<int:pk>/delete/",
        views_saved_filters.saved_filter_delete,
        name="saved_filter_delete",
    ),
]
