from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # campaigns sits above messaging and optout, which reach it only through the hooks
        # they define: inbound steps, the opt-out signal, keyword claims, the contact panel,
        # the send claim.
        from campaigns import lists, panel, replies, sending
        from messaging.automation import inbound_step_register
        from messaging.contact_panel import contact_panel_section_register
        from messaging.outbound import claim_refusal_register
        from optout.actions import keyword_claims_register
        from optout.signals import numbers_opted_out

        inbound_step_register(order=lists.CONFIRM_STEP_ORDER, name="lists:confirm",
                              run=lists.list_confirm_step)
        inbound_step_register(order=lists.JOIN_STEP_ORDER, name="lists:join",
                              run=lists.list_join_step)
        inbound_step_register(order=replies.REPLY_STEP_ORDER, name="campaigns:reply-actions",
                              run=replies.reply_action_step)
        numbers_opted_out.connect(lists.subscriptions_end_on_opt_out,
                                  dispatch_uid="campaigns.lists.opt_out")
        keyword_claims_register(lists.list_keywords_claimed)
        contact_panel_section_register(panel.contact_lists_section)
        claim_refusal_register(sending.WITHDRAWN)
