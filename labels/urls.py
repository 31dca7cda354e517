from django.urls import path

from labels import views

app_name = "labels"

urlpatterns = [
    path("", views.label_list, name="list"),
    path("new/", views.label_create, name="create"),
    path("export/", views.label_export, name="export"),
    path("check/", views.label_name_check, name="check"),
    path("<int:pk>/", views.label_row, name="row"),
    path("<int:pk>/rename/", views.label_rename, name="rename"),
    path("<int:pk>/delete/", views.label_delete, name="delete"),
]
