"""The classroom's pages: courses, exercises, a teacher's views of a student's lab, joining."""

from django.urls import path

from . import lms_views, views

urlpatterns = [
    path("courses/", views.course_list, name="courses"),
    path("courses/new/", views.course_create, name="course-create"),
    path("courses/<int:course_id>/", views.course_page, name="course"),
    path(
        "courses/<int:course_id>/exercises/<int:exercise_id>/start/",
        views.exercise_start,
        name="course-exercise-start",
    ),
    path(
        "courses/<int:course_id>/exercises/<int:exercise_id>/solution/",
        views.exercise_solution,
        name="course-exercise-solution",
    ),
    path("courses/<int:course_id>/exercises/new/", views.exercise_add, name="course-exercise-add"),
    path("courses/<int:course_id>/joining/", views.course_joining, name="course-joining"),
    path("courses/<int:course_id>/attempts/<int:attempt_id>/lab/", views.lab_watch, name="course-lab-watch"),
    path(
        "courses/<int:course_id>/attempts/<int:attempt_id>/console/",
        views.console_watch,
        name="course-console-watch",
    ),
    path(
        "courses/<int:course_id>/attempts/<int:attempt_id>/timeline/",
        views.attempt_timeline,
        name="course-attempt-timeline",
    ),
    path("join/", views.join_page, name="join"),
    path("lti/login/", lms_views.login, name="lms-login"),
    path("lti/launch/", lms_views.launch, name="lms-launch"),
    path("lti/deep-link/", lms_views.deep_link, name="lms-deep-link"),
    path("lti/jwks/", lms_views.jwks, name="lms-jwks"),
]
