"""Routes of the reply actions (``campaigns.reply_api`` under /api/v1/, mounted by
``cpaas.urls_api``; ``campaigns.reply_views`` on the tenant's host) and of the tracked
links (``campaigns.link_views``, on the public host and every tenant host)."""

from django.urls import path

from campaigns import link_views, reply_api, reply_views

api_urlpatterns = [
    path("campaigns/<int:pk>/reply-actions", reply_api.ReplyActionListCreate.as_view(),
         name="api_reply_actions"),
    path("campaigns/<int:pk>/reply-actions/<int:action_id>",
         reply_api.ReplyActionDetail.as_view(), name="api_reply_action"),
    path("campaigns/<int:pk>/reply-actions/<int:action_id>/codes",
         reply_api.ReplyCodesCreate.as_view(), name="api_reply_action_codes"),
]

page_urlpatterns = [
    path("campaigns/<int:campaign_id>/reply-actions/", reply_views.reply_actions,
         name="reply_actions"),
    path("campaigns/<int:campaign_id>/reply-actions/<int:action_id>/codes/",
         reply_views.reply_action_codes, name="reply_action_codes"),
    path("campaigns/<int:campaign_id>/reply-actions/<int:action_id>/delete/",
         reply_views.reply_action_remove, name="reply_action_delete"),
]

link_urlpatterns = [
    path("l/<str:code>", link_views.link_follow, name="link_follow"),
]
