"""Names for a generated French town: streets after people, places, trees and nearby towns; districts."""

from __future__ import annotations

import numpy as np

_PEOPLE = (
    "Victor Hugo",
    "Jean Jaurès",
    "Louis Pasteur",
    "Gambetta",
    "Jules Ferry",
    "Émile Zola",
    "Voltaire",
    "Jean Moulin",
    "Charles de Gaulle",
    "Aristide Briand",
    "Georges Clemenceau",
    "Anatole France",
    "Paul Bert",
    "Albert Camus",
    "Molière",
    "Jean de La Fontaine",
    "Pierre et Marie Curie",
    "du Général Leclerc",
    "du Maréchal Foch",
    "Sadi Carnot",
    "Édouard Herriot",
    "Jean Macé",
    "Frédéric Mistral",
    "George Sand",
    "Hector Berlioz",
    "Claude Debussy",
    "Antoine de Saint-Exupéry",
    "Lamartine",
    "Alphonse Daudet",
    "Condorcet",
    "Montesquieu",
    "Diderot",
    "Jean-Jacques Rousseau",
    "Jean Mermoz",
    "Roger Salengro",
    "Léon Blum",
    "Paul Éluard",
    "Louis Aragon",
    "François Arago",
    "André-Marie Ampère",
    "Lavoisier",
    "Gustave Eiffel",
    "Henri Barbusse",
    "Pierre Brossolette",
    "Lucie Aubrac",
    "Simone Veil",
    "Marie Curie",
    "Jules Verne",
    "Honoré de Balzac",
    "Gustave Flaubert",
    "Stendhal",
    "Alexandre Dumas",
    "Paul Verlaine",
    "Arthur Rimbaud",
    "Guillaume Apollinaire",
    "Colette",
    "Marcel Pagnol",
    "Jean Giono",
    "Auguste Renoir",
    "Claude Monet",
    "Paul Cézanne",
    "Édith Piaf",
    "Jean Monnet",
    "Robert Schuman",
    "Pierre Mendès France",
)
_PLACES = (
    "de la République",
    "de la Liberté",
    "de la Paix",
    "de la Gare",
    "de l'Église",
    "du Marché",
    "de la Mairie",
    "du Stade",
    "des Écoles",
    "du Château",
    "du Moulin",
    "de la Fontaine",
    "du Lavoir",
    "de la Croix",
    "du Parc",
    "de la Poste",
    "du Pont",
    "de la Rivière",
    "du 8 Mai 1945",
    "du 11 Novembre",
    "du 14 Juillet",
    "de Verdun",
    "de la Résistance",
    "des Anciens Combattants",
    "du Collège",
    "de l'Hôpital",
    "des Halles",
    "du Port",
    "de la Tour",
    "du Prieuré",
    "de la Chapelle",
    "du Cimetière",
    "de l'Industrie",
    "des Tanneurs",
    "des Artisans",
    "du Commerce",
    "de la Libération",
    "de l'Europe",
)
_NATURE = (
    "des Tilleuls",
    "des Platanes",
    "des Acacias",
    "des Lilas",
    "des Roses",
    "des Vignes",
    "des Prés",
    "des Champs",
    "des Jardins",
    "des Peupliers",
    "des Chênes",
    "des Érables",
    "des Cerisiers",
    "des Noyers",
    "du Bois",
    "de la Source",
    "de la Colline",
    "des Mésanges",
    "des Hirondelles",
    "des Alouettes",
    "des Saules",
    "des Pins",
    "des Marronniers",
    "des Genêts",
    "des Bruyères",
    "des Coquelicots",
    "des Glycines",
    "du Verger",
    "de la Combe",
    "des Sablons",
    "du Ruisseau",
    "de la Garenne",
    "des Charmes",
    "des Frênes",
    "des Vergers",
    "du Coteau",
    "des Granges",
    "des Pâquerettes",
    "de la Chênaie",
    "des Oliviers",
)
_TOWNS = (
    "de Lyon",
    "de Paris",
    "de Grenoble",
    "de Genève",
    "de Vienne",
    "de Villeurbanne",
    "de Bourg",
    "de Saint-Étienne",
    "de Mâcon",
    "de Chambéry",
    "d'Annecy",
    "de Valence",
    "de Marseille",
    "de Clermont",
    "de Roanne",
    "de Villefranche",
)
# Which name pools each street type takes its names from.
NAME_POOLS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Boulevard": (_PEOPLE, _PLACES),
    "Avenue": (_PEOPLE, _PLACES, _TOWNS),
    "Cours": (_PEOPLE, _PLACES),
    "Route": (_TOWNS,),
    "Rue": (_PEOPLE, _PLACES, _NATURE, _TOWNS),
    "Chemin": (_NATURE, _PLACES),
    "Allée": (_NATURE, _PEOPLE),
    "Impasse": (_NATURE, _PLACES, _PEOPLE),
    "Passage": (_PLACES, _PEOPLE),
    "Place": (_PEOPLE, _PLACES),
}
DISTRICTS = (
    "Centre-Ville",
    "La Gare",
    "Saint-Martin",
    "Les Tilleuls",
    "Bellevue",
    "Le Bourg",
    "Montplaisir",
    "Les Charmettes",
    "La Roseraie",
    "Le Moulin",
    "Beauregard",
    "Les Vignes",
    "Champfleury",
    "Saint-Pierre",
    "Bel-Air",
    "Le Plateau",
    "Les Cèdres",
    "La Plaine",
    "Le Clos",
    "Les Peupliers",
    "Mont-Joli",
    "La Source",
    "Les Hauts",
    "Le Parc",
    "Les Jardins",
    "La Garenne",
    "Grange-Blanche",
    "Le Mas",
    "Les Sablons",
    "La Chênaie",
)


class StreetNamer:
    """Unique street names drawn without replacement; reused with a district suffix once exhausted."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def name(self, kind: str, district_name: str) -> str:
        pools = NAME_POOLS[kind]
        for _ in range(12):
            pool = pools[int(self._rng.integers(len(pools)))]
            candidate = f"{kind} {pool[int(self._rng.integers(len(pool)))]}"
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        candidate = f"{candidate} ({district_name})"
        suffix = 2
        while candidate in self._used:
            candidate = f"{candidate.rsplit(' (', 1)[0]} ({district_name} {suffix})"
            suffix += 1
        self._used.add(candidate)
        return candidate


def district_name(index: int) -> str:
    if index < len(DISTRICTS):
        return DISTRICTS[index]
    return f"{DISTRICTS[index % len(DISTRICTS)]} {index // len(DISTRICTS) + 1}"
