from django.urls import path

from messaging.api import views

urlpatterns = [
    path("senders", views.SenderListCreate.as_view(), name="api_senders"),
    path("messages", views.MessageListCreate.as_view(), name="api_messages"),
    path("messages/bulk", views.MessageBulkCreate.as_view(), name="api_messages_bulk"),
    path("messages/<int:pk>", views.MessageDetail.as_view(), name="api_message"),
    path("simulator/inbound", views.SimulatorInbound.as_view(), name="api_simulator_inbound"),
]
