from django.urls import path

from audience import views_cohorts, views_import, views_people, views_segments

app_name = "audience"

urlpatterns = [
    # Find People (audience/views_people.py)
    path("people/", views_people.people_search, name="people"),
    path("people/<int:pk>/", views_people.profile_detail, name="profile"),
    path("people/<int:pk>/events/", views_people.profile_events, name="profile_events"),
    # Importing profiles from CSV (audience/views_import.py)
    path("import/", views_import.import_page, name="import"),
    path("import/<int:pk>/", views_import.import_detail, name="import_detail"),
    path("import/<int:pk>/progress/", views_import.import_progress, name="import_progress"),
    path("import/<int:pk>/errors.csv", views_import.import_errors_csv, name="import_errors"),
    # Cohort retention (audience/views_cohorts.py)
    path("cohorts/", views_cohorts.cohort_page, name="cohorts"),
    path("cohorts/retention.csv", views_cohorts.cohort_csv, name="cohorts_csv"),
]

# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------
urlpatterns += [
    path("segments/", views_segments.segment_list, name="segments"),
    path("segments/new/", views_segments.segment_create, name="segment_create"),
    path("segments/<int:pk>/", views_segments.segment_edit, name="segment"),
    path("segments/<int:pk>/count/", views_segments.segment_count_view, name="segment_count"),
    path("segments/<int:pk>/delete/", views_segments.segment_delete, name="segment_delete"),
    # The live estimate beside the Who editors (segments and campaigns).
    path("estimate/", views_segments.estimate_fragment, name="estimate"),
]
