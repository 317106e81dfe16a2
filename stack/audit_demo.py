"""Synthetic QualiParis data: 50 municipal sites, a (fictitious) accredited body, 6 inspectors, a draft campaign."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import Session, func, select

from services.audit import ensure_bundled_referentiels
from stack.seeding import DEMO_ACCOUNTS, SEEDERS, SeedContext
from ville.models.audit import AuditBody, AuditCampaign, AuditCampaignSite, AuditInspector, AuditSite
from ville.models.people import Role, UserAccount

# (ref, name, type, arrondissement, address): public buildings of the City of Paris; the addresses
# of the mairies are the real ones, the others are indicative (demo data).
SITES: list[tuple[str, str, str, int, str]] = [
    ("MAI-PC", "Mairie de Paris Centre", "mairie", 3, "2 rue Eugène Spuller, 75003 Paris"),
    ("MAI-05", "Mairie du 5e arrondissement", "mairie", 5, "21 place du Panthéon, 75005 Paris"),
    ("MAI-06", "Mairie du 6e arrondissement", "mairie", 6, "78 rue Bonaparte, 75006 Paris"),
    ("MAI-07", "Mairie du 7e arrondissement", "mairie", 7, "116 rue de Grenelle, 75007 Paris"),
    ("MAI-08", "Mairie du 8e arrondissement", "mairie", 8, "3 rue de Lisbonne, 75008 Paris"),
    ("MAI-09", "Mairie du 9e arrondissement", "mairie", 9, "6 rue Drouot, 75009 Paris"),
    ("MAI-10", "Mairie du 10e arrondissement", "mairie", 10, "72 rue du Faubourg Saint-Martin, 75010 Paris"),
    ("MAI-11", "Mairie du 11e arrondissement", "mairie", 11, "12 place Léon Blum, 75011 Paris"),
    ("MAI-12", "Mairie du 12e arrondissement", "mairie", 12, "130 avenue Daumesnil, 75012 Paris"),
    ("MAI-13", "Mairie du 13e arrondissement", "mairie", 13, "1 place d'Italie, 75013 Paris"),
    ("MAI-14", "Mairie du 14e arrondissement", "mairie", 14, "2 place Ferdinand Brunot, 75014 Paris"),
    ("MAI-15", "Mairie du 15e arrondissement", "mairie", 15, "31 rue Péclet, 75015 Paris"),
    ("MAI-16", "Mairie du 16e arrondissement", "mairie", 16, "71 avenue Henri Martin, 75016 Paris"),
    ("MAI-17", "Mairie du 17e arrondissement", "mairie", 17, "16-20 rue des Batignolles, 75017 Paris"),
    ("MAI-18", "Mairie du 18e arrondissement", "mairie", 18, "1 place Jules Joffrin, 75018 Paris"),
    ("MAI-19", "Mairie du 19e arrondissement", "mairie", 19, "5-7 place Armand Carrel, 75019 Paris"),
    ("MAI-20", "Mairie du 20e arrondissement", "mairie", 20, "6 place Gambetta, 75020 Paris"),
    ("BIB-01", "Médiathèque de la Canopée", "bibliotheque", 1, "10 passage de la Canopée, 75001 Paris"),
    ("BIB-05", "Bibliothèque Mouffetard", "bibliotheque", 5, "74 rue Mouffetard, 75005 Paris"),
    ("BIB-06", "Bibliothèque André Malraux", "bibliotheque", 6, "112 rue de Rennes, 75006 Paris"),
    ("BIB-07", "Bibliothèque Saint-Simon", "bibliotheque", 7, "116 rue de Grenelle, 75007 Paris"),
    ("BIB-09", "Bibliothèque Drouot", "bibliotheque", 9, "11 rue Drouot, 75009 Paris"),
    ("BIB-10", "Bibliothèque François Villon", "bibliotheque", 10, "81 boulevard de la Villette, 75010 Paris"),
    ("BIB-11", "Bibliothèque Parmentier", "bibliotheque", 11, "20 bis avenue Parmentier, 75011 Paris"),
    ("BIB-12", "Bibliothèque Hélène Berr", "bibliotheque", 12, "70 rue de Picpus, 75012 Paris"),
    ("BIB-13", "Médiathèque Jean-Pierre Melville", "bibliotheque", 13, "79 rue Nationale, 75013 Paris"),
    ("BIB-14", "Bibliothèque Georges Brassens", "bibliotheque", 14, "38 rue Gassendi, 75014 Paris"),
    ("BIB-15", "Médiathèque Marguerite Yourcenar", "bibliotheque", 15, "41 rue d'Alleray, 75015 Paris"),
    ("BIB-20", "Médiathèque Marguerite Duras", "bibliotheque", 20, "115 rue de Bagnolet, 75020 Paris"),
    ("PIS-01", "Piscine Suzanne Berlioux", "piscine", 1, "10 place de la Rotonde, 75001 Paris"),
    ("PIS-05", "Piscine Jean Taris", "piscine", 5, "16 rue Thouin, 75005 Paris"),
    ("PIS-06", "Piscine Saint-Germain", "piscine", 6, "12 rue Lobineau, 75006 Paris"),
    ("PIS-11", "Piscine Oberkampf", "piscine", 11, "160 rue Oberkampf, 75011 Paris"),
    ("PIS-13", "Piscine Château-des-Rentiers", "piscine", 13, "184 rue du Château des Rentiers, 75013 Paris"),
    ("PIS-15", "Piscine Émile Anthoine", "piscine", 15, "9 rue Jean Rey, 75015 Paris"),
    ("PIS-17", "Piscine Bernard Lafay", "piscine", 17, "79 rue de la Jonquière, 75017 Paris"),
    ("PIS-18", "Piscine des Amiraux", "piscine", 18, "6 rue Hermann Lachapelle, 75018 Paris"),
    ("PIS-19", "Piscine Georges Hermant", "piscine", 19, "4 rue David d'Angers, 75019 Paris"),
    ("PIS-20", "Piscine Georges Vallerey", "piscine", 20, "148 avenue Gambetta, 75020 Paris"),
    ("PAR-03", "Square du Temple", "parc", 3, "64 rue de Bretagne, 75003 Paris"),
    ("PAR-05", "Square des Arènes de Lutèce", "parc", 5, "49 rue Monge, 75005 Paris"),
    ("PAR-08", "Parc Monceau", "parc", 8, "35 boulevard de Courcelles, 75008 Paris"),
    ("PAR-12", "Parc de Bercy", "parc", 12, "128 quai de Bercy, 75012 Paris"),
    ("PAR-13", "Parc Kellermann", "parc", 13, "rue de la Poterne des Peupliers, 75013 Paris"),
    ("PAR-14", "Parc Montsouris", "parc", 14, "2 rue Gazan, 75014 Paris"),
    ("PAR-15", "Parc André Citroën", "parc", 15, "2 rue Cauchy, 75015 Paris"),
    ("PAR-17", "Parc Clichy-Batignolles – Martin Luther King", "parc", 17, "147 rue Cardinet, 75017 Paris"),
    ("PAR-19", "Parc des Buttes-Chaumont", "parc", 19, "1 rue Botzaris, 75019 Paris"),
    ("PAR-20", "Parc de Belleville", "parc", 20, "47 rue des Couronnes, 75020 Paris"),
    (
        "T3975",
        "Centre d'appels 3975",
        "centre_appels_3975",
        4,
        "Hôtel de Ville, place de l'Hôtel de Ville, 75004 Paris",
    ),
]
MODES = {
    "mairie": ["visit", "call", "email"],
    "bibliotheque": ["visit", "call"],
    "piscine": ["visit"],
    "parc": ["visit"],
    "centre_appels_3975": ["call", "email"],
}
# (area of visits, capacity): two generalists, four inspectors with a sector
INSPECTORS: list[tuple[list[int], int]] = [
    (list(range(1, 21)), 20),
    (list(range(1, 21)), 20),
    ([1, 2, 3, 4, 5, 6, 7], 15),
    ([8, 9, 10, 16, 17, 18], 15),
    ([11, 12, 19, 20], 15),
    ([13, 14, 15], 15),
]
FIRST = ["Claire", "Karim", "Sophie", "Thomas", "Nadia", "Julien", "Fatou", "Olivier", "Hélène", "Yacine"]
LAST = ["Moreau", "Benali", "Lefèvre", "Girard", "Diallo", "Rousseau", "Fontaine", "Nguyen", "Marchand", "Roux"]


def seed_audit(ctx: SeedContext) -> None:
    """Référentiel v1, 50 sites with their managers, the body and its inspectors, users, a draft campaign."""
    rng = ctx.rng("audit")
    with Session(ctx.engine) as s:
        ensure_bundled_referentiels(s)
        if s.exec(select(func.count()).select_from(AuditSite)).one():
            return
        sites = [_site(rng, *row) for row in SITES]
        body = AuditBody(
            name="Certi'Qualité Services (organisme fictif de démonstration)",
            accreditation="Accréditation COFRAC Inspection n° 3-0000 (fictive)",
            contact_email="contact@certiqualite.demo.paris.fr",
        )
        s.add_all([*sites, body])
        s.flush()
        assert body.id is not None
        inspectors = [
            AuditInspector(
                ref=f"INS-{n:02d}",
                body_id=body.id,
                display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                email=f"inspecteur{n}@demo.paris.fr",
                phone=f"+3361234{n:04d}",
                capacity=capacity,
                arrondissements=area,
                # a conflict of interest: a relative works in one site of the inspector's sector
                conflict_site_refs=[rng.choice([ref for ref, _, _, arr, _ in SITES if arr in area])],
            )
            for n, (area, capacity) in enumerate(INSPECTORS, start=1)
        ]
        s.add_all(inspectors)
        s.flush()
        quality = UserAccount(
            email="qualite@demo.paris.fr", display_name="Cellule qualité QualiParis", role=Role.quality_team
        )
        s.add(quality)
        s.add_all(
            UserAccount(email=i.email, display_name=i.display_name, role=Role.inspector, inspector_id=i.id)
            for i in inspectors
        )
        s.flush()
        campaign = AuditCampaign(
            name=f"QualiParis — campagne {ctx.today.year}",
            referentiel_version="1",
            body_id=body.id,
            window_start=ctx.today + timedelta(days=7),
            window_end=ctx.today + timedelta(days=37),
            label_threshold_permille=850,
            owner_user_id=quality.id,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        s.add_all(
            AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=MODES[site.site_type]) for site in sites
        )
        s.commit()
    DEMO_ACCOUNTS.extend(
        [("qualité (QualiParis)", "qualite@demo.paris.fr"), ("inspecteur (QualiParis)", "inspecteur1@demo.paris.fr")]
    )


def _site(rng: random.Random, ref: str, name: str, site_type: str, arr: int, address: str) -> AuditSite:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return AuditSite(
        ref=ref,
        name=name,
        site_type=site_type,
        arrondissement=arr,
        address=address,
        manager_name=f"{first} {last}",
        manager_email=f"responsable.{ref.lower()}@demo.paris.fr",
    )


SEEDERS.append(seed_audit)
