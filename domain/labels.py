"""The French words a person reads for the codes the system stores: statuses, outcomes, methods, actions, processes.

One vocabulary for every page, e-mail and workflow message. Every function answers a readable French text, never
the raw code: a code this module does not know yet gets a generic label of its kind (a test checks every known
enum member and code has its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from domain.audit.task_states import TaskState
from domain.contests import REASON_LABEL as CONTEST_REASON_LABEL
from domain.contests import STATUS_LABEL as CONTEST_STATUS_LABEL
from domain.dunning import InvoiceStatus
from domain.payment_plans import INSTALMENT_LABEL
from domain.payment_plans import STATUS_LABEL as PLAN_STATUS_LABEL
from domain.payments import PaymentMethod
from domain.referral_cases import CaseBusinessStatus
from domain.referrals import ReferralState

INVOICE_STATUS: Mapping[str, str] = {
    InvoiceStatus.DRAFT: "Brouillon",
    InvoiceStatus.ISSUED: "À payer",
    InvoiceStatus.PARTIALLY_PAID: "Partiellement payée",
    InvoiceStatus.PAID: "Payée",
    InvoiceStatus.OVERDUE: "En retard",
    InvoiceStatus.TRANSFERRED: "Transmise au Trésor Public",
    InvoiceStatus.CANCELLED: "Annulée",
}

# ville.models.billing.PaymentStatus (keyed by value: domain does not import the models)
PAYMENT_STATUS: Mapping[str, str] = {
    "pending": "En cours",
    "succeeded": "Accepté",
    "failed": "Refusé",
    "refunded": "Remboursé",
}

# ville.models.billing.MandateStatus
MANDATE_STATUS: Mapping[str, str] = {
    "none": "Aucun mandat",
    "pending": "Mandat en cours de validation",
    "active": "Mandat actif",
    "suspended": "Mandat suspendu après deux rejets",
    "revoked": "Mandat révoqué",
}

PAYMENT_METHOD: Mapping[str, str] = {
    PaymentMethod.CARD: "Carte bancaire",
    PaymentMethod.SEPA_DEBIT: "Prélèvement SEPA",
    PaymentMethod.CESU: "CESU",
    PaymentMethod.CHEQUE: "Chèque",
    PaymentMethod.CASH_COUNTER: "Espèces (guichet)",
    PaymentMethod.CREDIT_NOTE: "Avoir",
}

# Why a payment failed: Stripe's decline codes and error codes (cards and SEPA debits), and our own.
PAYMENT_FAILURE: Mapping[str, str] = {
    "payment_failed": "Paiement refusé par la banque",
    "card_declined": "Carte refusée par la banque",
    "generic_decline": "Carte refusée par la banque",
    "do_not_honor": "Carte refusée par la banque",
    "do_not_try_again": "Carte refusée par la banque, ne pas réessayer",
    "call_issuer": "Carte refusée : contactez votre banque",
    "insufficient_funds": "Provision insuffisante",
    "withdrawal_count_exceeded": "Plafond de la carte atteint",
    "card_velocity_exceeded": "Plafond de la carte atteint",
    "expired_card": "La carte a expiré",
    "incorrect_number": "Numéro de carte incorrect",
    "invalid_number": "Numéro de carte incorrect",
    "incorrect_cvc": "Cryptogramme incorrect",
    "invalid_cvc": "Cryptogramme incorrect",
    "invalid_expiry_month": "Date d'expiration incorrecte",
    "invalid_expiry_year": "Date d'expiration incorrecte",
    "incorrect_pin": "Code confidentiel incorrect",
    "pin_try_exceeded": "Trop d'essais de code confidentiel",
    "lost_card": "Carte déclarée perdue",
    "stolen_card": "Carte déclarée volée",
    "pickup_card": "Carte refusée par la banque",
    "restricted_card": "Carte soumise à restrictions",
    "fraudulent": "Paiement refusé par la banque (suspicion de fraude)",
    "card_not_supported": "Carte non acceptée pour ce paiement",
    "currency_not_supported": "Carte non acceptée pour les paiements en euros",
    "transaction_not_allowed": "Paiement non autorisé par la banque",
    "not_permitted": "Paiement non autorisé par la banque",
    "service_not_allowed": "Paiement non autorisé par la banque",
    "authentication_required": "Authentification bancaire requise",
    "payment_intent_authentication_failure": "Authentification bancaire échouée",
    "processing_error": "Erreur de traitement de la banque : réessayez",
    "issuer_not_available": "Banque injoignable : réessayez",
    "try_again_later": "Banque momentanément indisponible : réessayez",
    "reenter_transaction": "Paiement à refaire",
    "duplicate_transaction": "Paiement en double refusé",
    "testmode_decline": "Carte de test refusée",
    "canceled": "Paiement annulé",
    "expired": "Paiement expiré",
    # SEPA Direct Debit rejections
    "account_closed": "Compte bancaire clôturé",
    "bank_account_restricted": "Compte bancaire soumis à restrictions",
    "debit_not_authorized": "Prélèvement non autorisé par la banque",
    "debit_disputed": "Prélèvement contesté",
    "no_account": "Compte bancaire introuvable",
    "invalid_account_number": "IBAN incorrect",
    "branch_does_not_exist": "Banque introuvable",
    "generic_could_not_process": "Prélèvement rejeté par la banque",
}

# What the family reads right after a declined card payment (the payment workflow's answer).
_DEFAULT_DECLINE = "Votre carte a été refusée par votre banque. Essayez une autre carte ou un autre moyen de paiement."
DECLINE_MESSAGE: Mapping[str, str] = {
    "card_declined": _DEFAULT_DECLINE,
    "insufficient_funds": "Paiement refusé : provision insuffisante.",
    "expired_card": "Paiement refusé : la carte a expiré.",
}

# The operators' journal (api.audit_log.audit's `action`)
JOURNAL_ACTION: Mapping[str, str] = {
    "cycle.start": "Lancement du cycle",
    "cycle.start.preview": "Aperçu du cycle",
    "cycle.pause": "Pause du cycle",
    "cycle.resume": "Reprise du cycle",
    "cycle.retry_batches": "Relance des lots en échec",
    "cycle.cancel": "Annulation du cycle",
    "task.extend_deadline": "Report d'échéance d'une tâche",
    "task.assign": "Attribution d'une tâche",
    "referral.escalate": "Escalade d'une orientation",
    "case.close": "Clôture d'un dossier",
    "notification.resend": "Renvoi d'un message",
    "invoice.credit_note": "Avoir",
    "payment.refund": "Remboursement",
    "payment.stop": "Arrêt d'un suivi de paiement",
    "payment.file": "Classement d'un incident de paiement",
    "payment.counter.cheque": "Chèque enregistré au guichet",
    "payment.counter.cesu": "CESU enregistré au guichet",
    "payment.counter.cash_counter": "Espèces enregistrées au guichet",
    "simulation.start": "Lancement d'une simulation tarifaire",
    "contest.decide": "Décision sur une réclamation",
    "payment_plan.decide": "Décision sur une demande d'échéancier",
}

# workflows.registry.WORKFLOWS, by class name
WORKFLOW_TYPE: Mapping[str, str] = {
    "BillingCycleWorkflow": "Cycle de facturation",
    "InvoicePaymentWorkflow": "Paiement d'une facture",
    "AuditCampaignWorkflow": "Campagne QualiParis",
    "InspectionWorkflow": "Tâche d'audit",
    "ReferralCaseWorkflow": "Dossier RIF",
    "NotificationDeliveryWorkflow": "Envoi d'une notification",
    "TariffSimulationWorkflow": "Simulation tarifaire",
    "LineContestWorkflow": "Réclamation sur une facture",
    "PaymentPlanWorkflow": "Échéancier de paiement",
}

# temporalio.client.WorkflowExecutionStatus, by name in CamelCase (as Temporal's visibility queries spell it)
EXECUTION_STATUS: Mapping[str, str] = {
    "Running": "En cours",
    "Completed": "Terminé",
    "Failed": "En échec",
    "Canceled": "Annulé",
    "Terminated": "Arrêté",
    "ContinuedAsNew": "Poursuivi",
    "TimedOut": "Expiré",
}

# contracts.billing.CyclePhase
CYCLE_PHASE: Mapping[str, str] = {
    "planning": "Préparation",
    "issuing": "Émission des factures",
    "previewed": "Aperçu terminé",
    "awaiting_due_date": "En attente de l'échéance",
    "dunning": "Relances",
    "done": "Terminé",
}

# contracts.simulation.SimulationPhase
SIMULATION_PHASE: Mapping[str, str] = {
    "planning": "Préparation",
    "simulating": "Simulation en cours",
    "finalising": "Finalisation",
    "done": "Terminée",
}

# workflows.audit_campaign.AuditCampaignWorkflow's phases
CAMPAIGN_PHASE: Mapping[str, str] = {
    "scheduled": "Programmée",
    "planning": "Préparation",
    "running": "En cours",
    "closing": "Clôture",
    "results": "Calcul des résultats",
    "reported": "Résultats publiés",
}


def _capital(label: str) -> str:
    return label[:1].upper() + label[1:]


UNASSIGNED = "unassigned"  # an inspection task no inspector holds (workflows.inspection)
TASK_STATE: Mapping[str, str] = {UNASSIGNED: "Sans inspecteur", **{s: _capital(s.label) for s in TaskState}}

REFERRAL_STATE: Mapping[str, str] = {s: _capital(s.label) for s in ReferralState}

CASE_BUSINESS_STATUS: Mapping[str, str] = {
    CaseBusinessStatus.OPEN: "Ouvert, sans orientation en attente",
    CaseBusinessStatus.AWAITING_PARTNER: "En attente de réponse d'un partenaire",
    CaseBusinessStatus.SLA_BREACHED: "Délai de prise en compte dépassé",
    CaseBusinessStatus.CLOSED: "Clôturé",
    CaseBusinessStatus.ANONYMISED: "Anonymisé",
}

# The BusinessStatus search attribute of every workflow type, for the operators' filter (one label per value).
BUSINESS_STATUS: Mapping[str, str] = {
    **CAMPAIGN_PHASE,
    **SIMULATION_PHASE,
    **CYCLE_PHASE,
    **TASK_STATE,
    **CASE_BUSINESS_STATUS,
    "planning": "Préparation",
    "done": "Terminé",
    "open": "Ouvert",
    "closed": "Clôturé",
    **{s.value: label for s, label in CONTEST_STATUS_LABEL.items() if s.value != "open"},
    **{s.value: label for s, label in PLAN_STATUS_LABEL.items() if s.value != "refused"},
}


# ville.models.billing.Notification.channel
NOTIFICATION_CHANNEL: Mapping[str, str] = {"email": "Courriel", "sms": "SMS", "post": "Courrier postal"}

# services/templates/<name>.*: what each message is about
NOTIFICATION_TEMPLATE: Mapping[str, str] = {
    "magic_link": "lien de connexion",
    "invoice_issued": "facture émise",
    "invoice_reminder": "rappel de facture",
    "payment_receipt": "reçu de paiement",
    "sepa_fallback": "prélèvement SEPA suspendu",
    "audit_site_result": "résultat d'audit d'un site",
    "audit_task_assigned": "mission d'audit attribuée",
    "audit_task_late": "mission d'audit en retard",
    "audit_task_reminder": "rappel de mission d'audit",
    "audit_task_sent_back": "mission d'audit renvoyée pour correction",
    "audit_task_unassigned": "mission d'audit sans inspecteur",
    "referral_agent_answer": "réponse d'un partenaire à l'agent",
    "referral_agent_expired": "orientation expirée (agent)",
    "referral_agent_followup_call": "rappel de la famille à faire (agent)",
    "referral_coordinator_escalation": "orientation hors délai (coordination)",
    "referral_family_followup": "suivi de l'orientation (famille)",
    "referral_family_link": "lien de suivi (famille)",
    "referral_partner_link": "lien sécurisé (partenaire)",
    "referral_partner_new": "nouvelle orientation (partenaire)",
    "referral_partner_reminder": "relance d'une orientation (partenaire)",
    "contest_opened": "réclamation reçue (famille)",
    "contest_decided": "réponse à une réclamation (famille)",
    "contest_reminder": "réclamation à traiter (facturation)",
    "contest_escalated": "réclamation en retard (facturation)",
    "payment_plan_requested": "demande d'échéancier reçue (famille)",
    "payment_plan_to_review": "demande d'échéancier à examiner (facturation)",
    "payment_plan_decided": "réponse à une demande d'échéancier (famille)",
    "payment_plan_notice": "échéance à venir (famille)",
    "payment_plan_missed": "échéance impayée (famille)",
    "payment_plan_completed": "échéancier soldé (famille)",
    "payment_plan_defaulted": "fin d'échéancier (famille)",
}


def _lookup(table: Mapping[str, str], fallback: str) -> Callable[[object], str]:
    def label(code: object) -> str:
        if code is None or code == "":
            return "—"
        return table.get(str(code), fallback)

    return label


invoice_status = _lookup(INVOICE_STATUS, "État inconnu")
payment_status = _lookup(PAYMENT_STATUS, "État inconnu")
mandate_status = _lookup(MANDATE_STATUS, "Mandat dans un état inconnu")
payment_method = _lookup(PAYMENT_METHOD, "Autre moyen de paiement")
payment_failure = _lookup(PAYMENT_FAILURE, "Paiement refusé par la banque")
journal_action = _lookup(JOURNAL_ACTION, "Autre action")
workflow_type = _lookup(WORKFLOW_TYPE, "Autre processus")
execution_status = _lookup(EXECUTION_STATUS, "État inconnu")
cycle_phase = _lookup(CYCLE_PHASE, "Étape inconnue")
task_state = _lookup(TASK_STATE, "État inconnu")
referral_state = _lookup(REFERRAL_STATE, "État inconnu")
business_status = _lookup(BUSINESS_STATUS, "Autre statut")
notification_channel = _lookup(NOTIFICATION_CHANNEL, "Autre canal")
notification_template = _lookup(NOTIFICATION_TEMPLATE, "autre message")
case_status = _lookup(CASE_BUSINESS_STATUS, "État inconnu")
contest_status = _lookup({s.value: label for s, label in CONTEST_STATUS_LABEL.items()}, "État inconnu")
plan_status = _lookup({s.value: label for s, label in PLAN_STATUS_LABEL.items()}, "État inconnu")
instalment_status = _lookup({s.value: label for s, label in INSTALMENT_LABEL.items()}, "État inconnu")
contest_reason = _lookup({r.value: label for r, label in CONTEST_REASON_LABEL.items()}, "Autre motif")


def decline_message(code: str | None) -> str:
    """The sentence a family reads after a declined card payment."""
    if code is None:
        return _DEFAULT_DECLINE
    if code in DECLINE_MESSAGE:
        return DECLINE_MESSAGE[code]
    if code in PAYMENT_FAILURE and code != "payment_failed":
        return f"Paiement refusé : {PAYMENT_FAILURE[code][:1].lower()}{PAYMENT_FAILURE[code][1:]}."
    return _DEFAULT_DECLINE


# One Jinja filter per kind (registered where the pages' Jinja environment is built).
FILTERS: Mapping[str, Callable[[object], str]] = {
    "statut_facture": invoice_status,
    "statut_paiement": payment_status,
    "statut_mandat": mandate_status,
    "moyen_paiement": payment_method,
    "motif_refus_paiement": payment_failure,
    "action_journal": journal_action,
    "type_workflow": workflow_type,
    "etat_execution": execution_status,
    "phase_cycle": cycle_phase,
    "etat_tache": task_state,
    "etat_orientation": referral_state,
    "statut_metier": business_status,
    "statut_dossier": case_status,
    "canal": notification_channel,
    "modele_message": notification_template,
    "statut_reclamation": contest_status,
    "statut_echeancier": plan_status,
    "statut_echeance": instalment_status,
    "motif_reclamation": contest_reason,
}
