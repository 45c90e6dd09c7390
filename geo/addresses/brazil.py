"""Is a point in Brazil? A coarse polygon with a margin (pure).

:data:`BRAZIL_POLYGON` traces Brazil's land border with its vertices placed about
20 to 60 km outside it, then closes over the Atlantic out to 28° W, so that the
oceanic islands (Fernando de Noronha, Atol das Rocas, São Pedro e São Paulo,
Trindade and Martim Vaz) and the sea off the coast count as Brazil. It is meant to
catch coordinates that are plainly wrong (swapped latitude and longitude, a dropped
minus sign, a point in Buenos Aires or Lisbon), not to settle border disputes:

* every Brazilian town on the border is inside (tests list the extreme points and
  the twin border towns: Chuí, Jaguarão, Santana do Livramento, Uruguaiana, Foz do
  Iguaçu, Ponta Porã, Corumbá, Guajará-Mirim, Assis Brasil, Tabatinga, Oiapoque,
  Pacaraima, Monte Caburaí...);
* so are their foreign twins across the street (Chuy, Rivera, Ciudad del Este,
  Leticia...): the margin cannot tell them apart;
* foreign cities farther than the margin are outside (Montevideo, Buenos Aires,
  Asunción, Santa Cruz de la Sierra, La Paz, Lima, Iquitos, Bogotá, Caracas,
  Georgetown, Paramaribo, Cayenne, Lisbon).

The test is an even-odd ray cast in plain degrees: at this scale and margin the
distortion of treating degrees as a plane does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence

LatLng = tuple[float, float]

BRAZIL_POLYGON: tuple[LatLng, ...] = (
    # North, west to east: Colombia, Venezuela, Guyana, Suriname, French Guiana.
    (2.3, -67.2),  # Cucuí
    (1.7, -66.4),
    (1.4, -65.2),  # Pico da Neblina
    (2.8, -65.2),
    (4.5, -64.6),  # Roraima's west
    (4.95, -61.6),
    (5.6, -60.8),  # Pacaraima, Monte Roraima
    (5.5, -59.9),  # Monte Caburaí
    (3.9, -59.3),  # Bonfim
    (2.5, -59.4),
    (1.5, -58.3),
    (2.2, -56.3),
    (2.6, -54.9),
    (2.5, -53.1),
    (4.1, -51.95),  # Oiapoque
    (4.8, -51.45),  # Cabo Orange
    # The Atlantic, with the oceanic islands.
    (5.0, -49.5),
    (2.0, -28.0),  # São Pedro e São Paulo
    (-21.5, -28.0),  # Trindade e Martim Vaz
    (-34.3, -50.5),
    # South, east to west: Uruguay, Argentina.
    (-34.0, -53.2),  # Chuí
    (-33.55, -53.75),
    (-32.7, -53.75),  # Jaguarão
    (-32.05, -54.35),  # Aceguá
    (-31.1, -55.75),  # Santana do Livramento
    (-30.6, -56.6),  # Quaraí
    (-30.45, -57.85),  # Barra do Quaraí
    (-29.65, -57.45),  # Uruguaiana
    (-28.6, -56.35),  # São Borja
    (-27.8, -55.45),  # Porto Xavier
    (-27.25, -54.05),
    (-26.2, -53.95),  # Dionísio Cerqueira
    (-25.75, -54.85),  # Foz do Iguaçu
    # West, south to north: Paraguay, Bolivia, Peru, Colombia.
    (-24.1, -54.6),  # Guaíra
    (-22.75, -55.95),  # Ponta Porã
    (-22.35, -56.8),  # Bela Vista
    (-22.15, -58.2),  # Porto Murtinho
    (-20.2, -58.3),
    (-19.1, -58.0),  # Corumbá
    (-17.5, -58.0),
    (-16.2, -58.7),  # Cáceres
    (-16.1, -60.5),
    (-15.0, -60.6),  # Vila Bela da Santíssima Trindade
    (-13.6, -61.4),  # Pimenteiras do Oeste
    (-12.6, -64.7),  # Costa Marques
    (-11.0, -65.6),  # Guajará-Mirim
    (-10.6, -67.3),  # Plácido de Castro
    (-11.3, -68.8),  # Brasiléia
    (-11.25, -69.85),  # Assis Brasil
    (-9.9, -71.3),  # Santa Rosa do Purus
    (-9.6, -73.5),  # Marechal Thaumaturgo
    (-7.3, -74.3),  # Serra do Divisor, the westernmost point
    (-4.3, -70.4),  # Benjamin Constant, Tabatinga
    (-1.1, -69.75),
    (0.3, -70.35),
    (2.4, -70.1),  # São Gabriel da Cachoeira's "Cabeça do Cachorro"
)
"""(lat, lng) vertices in order; the last joins the first."""


def point_in_polygon(lat: float, lng: float, polygon: Sequence[LatLng]) -> bool:
    """True when (lat, lng) lies inside ``polygon`` (even-odd rule, plain degrees).

    Points exactly on an edge may fall either way: polygons here carry a margin.
    """
    inside = False
    previous_lat, previous_lng = polygon[-1]
    for vertex_lat, vertex_lng in polygon:
        if (vertex_lat > lat) != (previous_lat > lat):
            slope = (previous_lng - vertex_lng) / (previous_lat - vertex_lat)
            crossing_lng = vertex_lng + (lat - vertex_lat) * slope
            if lng < crossing_lng:
                inside = not inside
        previous_lat, previous_lng = vertex_lat, vertex_lng
    return inside


def in_brazil(lat: float, lng: float) -> bool:
    """True when (lat, lng) is in Brazil or its sea, give or take the polygon's margin."""
    return point_in_polygon(lat, lng, BRAZIL_POLYGON)
