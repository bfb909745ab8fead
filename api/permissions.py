"""Who may call what: the registry's authorisation table, endpoint by endpoint.

The routes enforce it themselves — ``api.auth.signed(*roles)`` for member requests,
``admin.console.requires(*roles)`` for staff pages — and
``tests/test_authorization_matrix.py`` calls every endpoint as every kind of caller and checks
the answers against this table, and the decorators against it, so the two cannot drift.

Values:
- ``PUBLIC``: anyone, no signature and no login;
- ``MEMBER``: any member with a valid signature (what it may see inside is its own business:
  its own submissions, reports, objections; another member's come back 404 or 403);
- a set of member roles: a signed member holding one of them;
- ``STAFF``: any signed-in staff user;
- a set of ``staff:<role>``: a signed-in staff user holding one of them.
"""

from __future__ import annotations

PUBLIC = "public"
MEMBER = "member"
STAFF = "staff"

QUERIER = frozenset({"querier"})
SUBMITTER = frozenset({"submitter"})
REGULATOR = frozenset({"regulator"})
PLATFORM = frozenset({"platform"})
ADMIN_STAFF = frozenset({"staff:admin"})
REVIEWER_STAFF = frozenset({"staff:reviewer"})
REGULATOR_STAFF = frozenset({"staff:regulator"})

ACCESS: dict[str, str | frozenset[str]] = {
    # health, documentation, problem types, public pages and feeds, the transparency log
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "openapi.api_docs": PUBLIC,
    "openapi.openapi_document": PUBLIC,
    "openapi.renderer_asset": PUBLIC,
    "problems.problem_type": PUBLIC,
    "public.home": PUBLIC,
    "public.help_page": PUBLIC,
    "public.list_page": PUBLIC,
    "public.subject_page": PUBLIC,
    "sellers.seller_page": PUBLIC,
    "switch_language": PUBLIC,
    "listings.public_list": PUBLIC,
    "listings.public_list_csv": PUBLIC,
    "listings.public_list_atom": PUBLIC,
    "listings.measures_catalogue": PUBLIC,
    "seller_ratings.public_seller": PUBLIC,
    "submissions.registry_keys": PUBLIC,
    "tlog.checkpoint": PUBLIC,
    "tlog.consistency_proof": PUBLIC,
    "tlog.entry": PUBLIC,
    "tlog.inclusion_proof": PUBLIC,
    # members: submissions and receipts
    "submissions.create_submission": SUBMITTER,
    "submissions.get_submission": MEMBER,
    "tlog.submission_proof": MEMBER,
    "records.confirmations_due": SUBMITTER,
    "records.confirm": SUBMITTER,
    "records.person_notices_held": SUBMITTER,
    "records.confirm_person_notices": SUBMITTER,
    # members: lookups, screening, reports, consents, monitoring
    "subjects.search_subjects": QUERIER,
    "subjects.get_subject": QUERIER,
    "screening.create_screening": QUERIER,
    "screening.screening_job": QUERIER,
    "screening.screening_job_result": QUERIER,
    "reports_api.member_report": QUERIER,
    "reports_api.record_consent": QUERIER,
    "reports_api.revoke_consent": QUERIER,
    "reports_api.get_report": MEMBER,
    "reports_api.report_html": MEMBER,
    "reports_api.report_pdf": MEMBER,
    "reports_api.own_report": MEMBER,
    "monitoring.add_to_portfolio": QUERIER,
    "monitoring.replace_portfolio": QUERIER,
    "monitoring.list_portfolio": QUERIER,
    "monitoring.remove_many": QUERIER,
    "monitoring.remove_one": QUERIER,
    "monitoring.list_events": QUERIER,
    "monitoring.get_webhook": QUERIER,
    "monitoring.put_webhook": QUERIER,
    "monitoring.delete_webhook": QUERIER,
    # members: lists (regulators propose and decide; anyone objects; the subject's own member
    # applies for repair, checked inside)
    "listings.propose": REGULATOR,
    # the proposer's full view, or the subject's own view of its entry (checked inside)
    "listings.get_listing": MEMBER,
    "listings.withdraw": REGULATOR,
    "listings.extend": REGULATOR,
    "listings.revoke": REGULATOR,
    "listings.decide_repair": REGULATOR,
    "listings.record_service": REGULATOR,
    "listings.publish": REGULATOR,
    # joint measures applied: reported by the state organs that apply them (regulators), on
    # their own entries or any published public one (checked inside)
    "listings.measures": REGULATOR,
    # the prior notices of entries about the member itself (or the shops it operates)
    "listings.notices": MEMBER,
    "listings.object_to": MEMBER,
    "listings.apply_for_repair": MEMBER,
    "listings.apply_for_penalty_repair": MEMBER,
    # members: objections and appeals (who may act on which is checked inside)
    "objections.file_objection": MEMBER,
    "objections.inbox": MEMBER,
    "objections.get_objection": MEMBER,
    "objections.answer": MEMBER,
    "objections.statement": MEMBER,
    "ratings_api.appeal": MEMBER,
    # marketplaces
    "seller_ratings.submit_ratings": PLATFORM,
    "seller_ratings.get_batch": PLATFORM,
    # the staff console
    "console.login": PUBLIC,
    "console.logout": STAFF,
    "console.change_password": STAFF,
    "console.dashboard": STAFF,
    "console.publicity_report": STAFF,
    "console.admin_members": ADMIN_STAFF,
    "console.admin_member": ADMIN_STAFF,
    "console.admin_staff": ADMIN_STAFF,
    "console.admin_settings": ADMIN_STAFF,
    "console.admin_audit": ADMIN_STAFF,
    "console.admin_audit_csv": ADMIN_STAFF,
    "console.admin_revoke_key": ADMIN_STAFF,
    "console.admin_add_member": ADMIN_STAFF,
    "console.admin_add_key": ADMIN_STAFF,
    "console.admin_add_staff": ADMIN_STAFF,
    "console.admin_unlock_staff": ADMIN_STAFF,
    "console.admin_enroll_totp": ADMIN_STAFF,
    "console.admin_reset_password": ADMIN_STAFF,
    "console.review_listings": REVIEWER_STAFF,
    "console.review_listing": REVIEWER_STAFF,
    "console.review_listing_action": REVIEWER_STAFF,
    "console.review_listing_service": REVIEWER_STAFF,
    "console.review_listing_publish": REVIEWER_STAFF,
    "console.review_notices": REVIEWER_STAFF,
    "console.subject_page": REVIEWER_STAFF,
    "console.object_for_person": REVIEWER_STAFF,
    "console.statement_for_person": REVIEWER_STAFF,
    "console.person_notice_served": REVIEWER_STAFF,
    "console.answer_objection": REVIEWER_STAFF,
    "console.review_objections": REVIEWER_STAFF,
    "console.review_ratings": REVIEWER_STAFF,
    "console.review_ratings_approve_unchanged": REVIEWER_STAFF,
    "console.review_rating": REVIEWER_STAFF,
    "console.review_rating_action": REVIEWER_STAFF,
    "console.review_sellers": REVIEWER_STAFF,
    "console.review_seller": REVIEWER_STAFF,
    "console.review_seller_action": REVIEWER_STAFF,
    "console.review_appeals": REVIEWER_STAFF,
    "console.review_appeal": REVIEWER_STAFF,
    "console.review_appeal_action": REVIEWER_STAFF,
    "console.review_escalated": REVIEWER_STAFF,
    "console.review_escalated_objection": REVIEWER_STAFF,
    "console.decide_escalated_objection": REVIEWER_STAFF,
    "console.review_repairs": REVIEWER_STAFF,
    "console.acknowledge_repair": REVIEWER_STAFF,
    "console.propose_listing": REGULATOR_STAFF,
    "console.regulator_listings": REGULATOR_STAFF,
    "console.regulator_listing": REGULATOR_STAFF,
    "console.regulator_listing_action": REGULATOR_STAFF,
    "console.regulator_repairs": REGULATOR_STAFF,
    "console.decide_repair": REGULATOR_STAFF,
}
