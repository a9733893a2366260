"""The tenant API (/api/v1/): every app's routes, in the order the schema lists them."""

from campaigns.api_urls import urlpatterns as campaigns_urls
from campaigns.reply_urls import api_urlpatterns as reply_action_urls
from events.api_urls import urlpatterns as events_urls
from messaging.api.urls import urlpatterns as messaging_urls
from optout.api_urls import urlpatterns as optout_urls

urlpatterns = [*messaging_urls, *optout_urls, *events_urls, *campaigns_urls,
               *reply_action_urls]
