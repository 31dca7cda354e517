from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("bulk/", views.campaign_bulk, name="bulk"),
    path("labels/", views.campaign_bulk_labels, name="labels"),
    path("example/", views.campaign_example, name="example"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/publish/", views.campaign_publish, name="publish"),
    path("<int:pk>/stop/", views.campaign_stop, name="stop"),
    path("<int:pk>/clone/", views.campaign_clone, name="clone"),
    path("<int:pk>/archive/", views.campaign_archive, name="archive"),
]
