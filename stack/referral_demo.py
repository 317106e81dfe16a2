"""Demo data of the RIF process: relays with agents and coordinators, and a partner directory loaded as HSDS."""

from __future__ import annotations

from sqlmodel import Session, col, select

from domain.hsds import ALL_ARRONDISSEMENTS, Directory, LocationRecord, OrganizationRecord, ServiceRecord, ServiceStatus
from domain.referral_cases import NeedCategory
from services.referral_directory import load_directory
from stack.seeding import DEMO_ACCOUNTS, SEEDERS, SeedContext
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerOrganization, RifRelay

N = NeedCategory
ALL = ALL_ARRONDISSEMENTS

# (code, mail slug, name, arrondissement, address, phone)
RELAYS: list[tuple[str, str, str, int | None, str, str]] = [
    ("RIF-12", "rif12", "Relais Informations Familles 12e", 12, "130 avenue Daumesnil, 75012 Paris", "01 44 68 12 12"),
    ("RIF-9", "rif9", "Relais Informations Familles 9e", 9, "6 rue Drouot, 75009 Paris", "01 71 37 75 09"),
    ("RIF-11", "rif11", "Relais Informations Familles 11e", 11, "12 place Léon Blum, 75011 Paris", "01 53 27 11 11"),
    ("RIF-4", "rif4", "Relais Informations Familles 4e", 4, "2 place Baudoyer, 75004 Paris", "01 87 02 64 04"),
    ("RIF-LOG", "logement", "Relais logement", None, "6 rue du Département, 75019 Paris", "01 42 76 40 40"),
]

# organisation slug, name, legal status, postal code, address; then its services:
# (name, categories, arrondissements served, eligibility, minimum age, maximum age)
Svc = tuple[str, tuple[NeedCategory, ...], tuple[int, ...], str, int | None, int | None]
PARTNERS: list[tuple[str, str, str, str, str, list[Svc]]] = [
    ("caf", "Caisse d'allocations familiales de Paris", "public", "75015", "50 rue du Docteur Finlay", [
        ("Accueil allocataires : droits et prestations", (N.FINANCIAL_AID,), ALL, "Familles allocataires", None, None),
        ("Aides au logement (APL, ALF)", (N.HOUSING, N.FINANCIAL_AID), ALL, "Locataires ou accédants", None, None),
        ("Accompagnement des parents séparés", (N.PARENTING,), ALL, "Parents en séparation", None, None),
    ]),
    ("casvp12", "Centre d'action sociale de la Ville de Paris, 12e", "public", "75012", "108 avenue Daumesnil", [
        ("Aides sociales facultatives", (N.FINANCIAL_AID,), (12,), "Domicile dans le 12e", None, None),
        ("Permanence sociale d'accueil", (N.FINANCIAL_AID, N.HOUSING), (12,), "Sans condition", None, None),
    ]),
    ("casvp11", "Centre d'action sociale de la Ville de Paris, 11e", "public", "75011", "130 avenue Ledru-Rollin", [
        ("Aides sociales facultatives 11e", (N.FINANCIAL_AID,), (11,), "Domicile dans le 11e", None, None),
    ]),
    ("pmi12", "Centre de PMI Charenton", "public", "75012", "21 rue de Charenton", [
        ("Consultations de protection maternelle et infantile", (N.HEALTH, N.CHILDCARE), (11, 12), "", 0, 6),
        ("Visites de puéricultrice à domicile", (N.HEALTH, N.PARENTING), (12,), "Nourrissons", 0, 1),
    ]),
    ("rpe11", "Relais Petite Enfance 11e", "public", "75011", "5 rue Jules Vallès", [
        ("Information sur les modes de garde", (N.CHILDCARE,), (11,), "Enfants de moins de 3 ans", 0, 3),
        ("Mise en relation avec des assistantes maternelles", (N.CHILDCARE,), (11, 12), "", 0, 6),
    ]),
    ("rpe9", "Relais Petite Enfance 9e", "public", "75009", "6 rue Drouot", [
        ("Information sur les modes de garde 9e", (N.CHILDCARE,), (9,), "Enfants de moins de 3 ans", 0, 3),
    ]),
    ("mjd", "Maison de la justice et du droit Paris Nord-Est", "public", "75010", "15 rue du Buisson Saint-Louis", [
        ("Consultations juridiques gratuites", (N.LEGAL,), (9, 10, 11, 19, 20), "Sans condition", None, None),
        ("Médiation familiale", (N.LEGAL, N.PARENTING), ALL, "Parents et grands-parents", None, None),
    ]),
    ("pad12", "Point d'accès au droit du 12e", "public", "75012", "181 avenue Daumesnil", [
        ("Permanences d'avocats", (N.LEGAL,), (12,), "Sur rendez-vous", None, None),
    ]),
    ("adil", "ADIL de Paris", "association", "75014", "46 bis boulevard Edgar Quinet", [
        ("Conseil juridique sur le logement", (N.HOUSING, N.LEGAL), ALL, "Locataires et propriétaires", None, None),
        ("Prévention des expulsions locatives", (N.HOUSING,), ALL, "Ménages en impayé de loyer", None, None),
    ]),
    ("aurore", "Association Aurore", "association", "75004", "34 boulevard de Sébastopol", [
        ("Hébergement d'urgence des familles", (N.HOUSING,), ALL, "Familles sans logement", None, None),
        ("Accompagnement vers le logement", (N.HOUSING,), (4, 11, 12), "Orientation par un travailleur social",
         None, None),
    ]),
    ("mdph", "Maison départementale des personnes handicapées de Paris", "public", "75009", "69 rue de la Victoire", [
        ("Demandes d'AEEH et de PCH", (N.DISABILITY, N.FINANCIAL_AID), ALL, "Enfant en situation de handicap",
         0, 20),
        ("Accueil et information handicap", (N.DISABILITY,), ALL, "Sans condition", None, None),
    ]),
    ("cmp9", "CMP enfants et adolescents Paris 9e", "public", "75009", "9 rue de Provence", [
        ("Consultations de pédopsychiatrie", (N.HEALTH,), (9, 10), "Enfants et adolescents", 3, 18),
    ]),
    ("pre11", "Programme de réussite éducative 11e", "public", "75011", "14 rue Froment", [
        ("Accompagnement scolaire individualisé", (N.SCHOOL,), (11,), "Élèves de 2 à 16 ans", 2, 16),
        ("Ateliers parents-école", (N.PARENTING, N.SCHOOL), (11,), "Parents d'élèves", None, None),
    ]),
    ("afev", "AFEV Paris", "association", "75012", "26 rue de Picpus", [
        ("Mentorat par des étudiants", (N.SCHOOL,), (11, 12, 20), "Enfants de 5 à 18 ans", 5, 18),
    ]),
    ("anim12", "Centre Paris Anim' Montgallet", "public", "75012", "16 rue Montgallet", [
        ("Activités de loisirs pour enfants", (N.LEISURE,), (12,), "", 4, 17),
        ("Séjours de vacances", (N.LEISURE,), (11, 12), "Quotient familial 1 à 6", 6, 17),
    ]),
    ("secourspop4", "Secours populaire, antenne Paris 4e", "association", "75004", "9 rue Geoffroy-l'Asnier", [
        ("Vacances en famille", (N.LEISURE, N.FINANCIAL_AID), (1, 2, 3, 4), "Sur orientation", None, None),
        ("Aide alimentaire", (N.FINANCIAL_AID,), (4,), "Sur orientation", None, None),
    ]),
    ("missionlocale", "Mission locale de Paris", "public", "75011", "22 rue Pali-Kao", [
        ("Accompagnement vers l'emploi des jeunes parents", (N.EMPLOYMENT,), ALL, "16 à 25 ans", 16, 25),
    ]),
    ("epe", "École des parents et des éducateurs d'Île-de-France", "association", "75009", "5 impasse Bon Secours", [
        ("Écoute téléphonique des parents", (N.PARENTING,), ALL, "Sans condition", None, None),
    ]),
]  # fmt: skip


def demo_directory(ctx: SeedContext) -> Directory:
    """The demo partner directory as HSDS records (a few services closed, deterministically)."""
    rng = ctx.rng("referrals")
    orgs, services, locations = [], [], []
    for slug, name, legal, postal, address, svcs in PARTNERS:
        org_id = f"demo-org-{slug}"
        orgs.append(OrganizationRecord(org_id, name, email=f"{slug}@partenaires.demo.paris.fr", legal_status=legal))
        loc_id = f"demo-loc-{slug}"
        locations.append(LocationRecord(loc_id, org_id, name, address, postal, "Paris", int(postal[3:])))
        for i, (sname, cats, arrs, elig, amin, amax) in enumerate(svcs, start=1):
            services.append(
                ServiceRecord(
                    id=f"demo-svc-{slug}-{i}",
                    organization_id=org_id,
                    name=sname,
                    email=f"{slug}.{i}@partenaires.demo.paris.fr",
                    categories=cats,
                    arrondissements=arrs,
                    eligibility_description=elig,
                    minimum_age=amin,
                    maximum_age=amax,
                    location_ids=(loc_id,),
                )
            )
    # two services temporarily closed and one inactive, so that searches show statuses
    closed = rng.sample(range(len(services)), 3)
    for n, index in enumerate(closed):
        status = ServiceStatus.INACTIVE if n == 0 else ServiceStatus.TEMPORARILY_CLOSED
        s = services[index]
        services[index] = ServiceRecord(**{**vars(s), "status": status})
    return Directory(tuple(orgs), tuple(services), tuple(locations), ())


def seed_referrals(ctx: SeedContext) -> None:
    """Relays, their agents and coordinators, the partner directory and one account per partner."""
    with Session(ctx.engine) as s:
        for code, slug, name, arr, address, phone in RELAYS:
            s.add(RifRelay(code=code, name=name, arrondissement=arr, address=address, phone=phone,
                           email=f"{slug}@demo.paris.fr"))  # fmt: skip
        s.commit()
        relays = {r.code: r for r in s.exec(select(RifRelay))}
        accounts: list[tuple[str, str]] = []
        for code, slug, name, _arr, _address, _phone in RELAYS:
            relay_id = relays[code].id
            for role, prefix, label in ((Role.rif_agent, "agent", "agent"), (Role.coordinator, "coordination",
                                                                              "coordination")):  # fmt: skip
                email = f"{prefix}.{slug}@demo.paris.fr"
                s.add(UserAccount(email=email, display_name=f"{label.capitalize()} — {name}", role=role,
                                  relay_id=relay_id))  # fmt: skip
                accounts.append((f"{label} RIF ({name})", email))
        s.commit()
        load_directory(s, demo_directory(ctx))
        for org in s.exec(select(PartnerOrganization).where(col(PartnerOrganization.hsds_id).startswith("demo-org-"))):
            email = f"partenaire.{org.hsds_id.removeprefix('demo-org-')}@demo.paris.fr"
            s.add(UserAccount(email=email, display_name=org.name, role=Role.partner, partner_org_id=org.id))
            accounts.append((f"partenaire ({org.name})", email))
        s.commit()
    DEMO_ACCOUNTS.extend(accounts)


SEEDERS.append(seed_referrals)
