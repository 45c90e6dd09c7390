"""Places and names of the demo assistance in the São Paulo metro area (static data).

Coordinates are approximate centres of each neighbourhood or city; CEP prefixes
are the first five digits used there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The demo's bounding box (the São Paulo metro area) and its centre (Praça da Sé).
LAT_MIN, LAT_MAX = -23.85, -23.35
LNG_MIN, LNG_MAX = -46.95, -46.35
CENTRE = (-23.5505, -46.6333)


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """A neighbourhood (or a city of the metro area) where demo people live and work."""

    neighbourhood: str
    city: str
    lat: float
    lng: float
    cep_prefix: str


SP = "São Paulo"

PLACES: tuple[Neighbourhood, ...] = (
    Neighbourhood("Sé", SP, -23.5503, -46.6339, "01001"),
    Neighbourhood("República", SP, -23.5440, -46.6426, "01045"),
    Neighbourhood("Bela Vista", SP, -23.5587, -46.6491, "01313"),
    Neighbourhood("Consolação", SP, -23.5528, -46.6594, "01301"),
    Neighbourhood("Liberdade", SP, -23.5587, -46.6350, "01503"),
    Neighbourhood("Cambuci", SP, -23.5697, -46.6226, "01525"),
    Neighbourhood("Bom Retiro", SP, -23.5268, -46.6390, "01124"),
    Neighbourhood("Santa Cecília", SP, -23.5370, -46.6519, "01227"),
    Neighbourhood("Higienópolis", SP, -23.5455, -46.6580, "01238"),
    Neighbourhood("Jardim Paulista", SP, -23.5716, -46.6581, "01403"),
    Neighbourhood("Pinheiros", SP, -23.5667, -46.6934, "05422"),
    Neighbourhood("Vila Madalena", SP, -23.5534, -46.6911, "05435"),
    Neighbourhood("Perdizes", SP, -23.5366, -46.6777, "05014"),
    Neighbourhood("Lapa", SP, -23.5226, -46.7046, "05068"),
    Neighbourhood("Butantã", SP, -23.5719, -46.7080, "05503"),
    Neighbourhood("Morumbi", SP, -23.5966, -46.7195, "05650"),
    Neighbourhood("Vila Mariana", SP, -23.5891, -46.6345, "04101"),
    Neighbourhood("Moema", SP, -23.6007, -46.6626, "04077"),
    Neighbourhood("Itaim Bibi", SP, -23.5845, -46.6794, "04530"),
    Neighbourhood("Saúde", SP, -23.6190, -46.6381, "04142"),
    Neighbourhood("Ipiranga", SP, -23.5893, -46.6075, "04208"),
    Neighbourhood("Jabaquara", SP, -23.6452, -46.6419, "04307"),
    Neighbourhood("Santo Amaro", SP, -23.6520, -46.7090, "04741"),
    Neighbourhood("Campo Limpo", SP, -23.6412, -46.7598, "05765"),
    Neighbourhood("Capão Redondo", SP, -23.6700, -46.7790, "05870"),
    Neighbourhood("Interlagos", SP, -23.6990, -46.6970, "04784"),
    Neighbourhood("Grajaú", SP, -23.7580, -46.6960, "04843"),
    Neighbourhood("Mooca", SP, -23.5596, -46.5994, "03104"),
    Neighbourhood("Tatuapé", SP, -23.5405, -46.5761, "03066"),
    Neighbourhood("Penha", SP, -23.5230, -46.5420, "03602"),
    Neighbourhood("Vila Prudente", SP, -23.5855, -46.5820, "03132"),
    Neighbourhood("Itaquera", SP, -23.5400, -46.4570, "08210"),
    Neighbourhood("São Mateus", SP, -23.6040, -46.4760, "03955"),
    Neighbourhood("Guaianases", SP, -23.5420, -46.4120, "08410"),
    Neighbourhood("Santana", SP, -23.4980, -46.6270, "02012"),
    Neighbourhood("Tucuruvi", SP, -23.4800, -46.6040, "02306"),
    Neighbourhood("Casa Verde", SP, -23.5110, -46.6570, "02512"),
    Neighbourhood("Freguesia do Ó", SP, -23.4970, -46.6960, "02910"),
    Neighbourhood("Pirituba", SP, -23.4860, -46.7260, "02943"),
    Neighbourhood("Vila Maria", SP, -23.5120, -46.5880, "02116"),
    Neighbourhood("Brasilândia", SP, -23.4580, -46.6880, "02845"),
    Neighbourhood("Centro", "Guarulhos", -23.4628, -46.5333, "07010"),
    Neighbourhood("Centro", "Osasco", -23.5329, -46.7917, "06010"),
    Neighbourhood("Centro", "Barueri", -23.5106, -46.8761, "06401"),
    Neighbourhood("Centro", "Carapicuíba", -23.5235, -46.8407, "06310"),
    Neighbourhood("Centro", "Cotia", -23.6039, -46.9190, "06700"),
    Neighbourhood("Centro", "Taboão da Serra", -23.6019, -46.7526, "06760"),
    Neighbourhood("Centro", "Embu das Artes", -23.6489, -46.8522, "06803"),
    Neighbourhood("Centro", "Itapecerica da Serra", -23.7172, -46.8494, "06850"),
    Neighbourhood("Centro", "Santana de Parnaíba", -23.4439, -46.9178, "06501"),
    Neighbourhood("Centro", "Caieiras", -23.3645, -46.7405, "07700"),
    Neighbourhood("Centro", "Santo André", -23.6639, -46.5383, "09010"),
    Neighbourhood("Centro", "São Bernardo do Campo", -23.6914, -46.5646, "09710"),
    Neighbourhood("Centro", "São Caetano do Sul", -23.6229, -46.5548, "09510"),
    Neighbourhood("Centro", "Diadema", -23.6813, -46.6205, "09910"),
    Neighbourhood("Centro", "Mauá", -23.6677, -46.4613, "09310"),
    Neighbourhood("Centro", "Ribeirão Pires", -23.7108, -46.4139, "09400"),
    Neighbourhood("Centro", "Ferraz de Vasconcelos", -23.5411, -46.3686, "08500"),
)

CAPITAL_PLACES = tuple(place for place in PLACES if place.city == SP)

STREETS: tuple[str, ...] = (
    "Rua Augusta",
    "Avenida Paulista",
    "Rua da Consolação",
    "Avenida Rebouças",
    "Rua Vergueiro",
    "Avenida Brigadeiro Faria Lima",
    "Rua Teodoro Sampaio",
    "Avenida Sapopemba",
    "Rua Domingos de Morais",
    "Avenida Jabaquara",
    "Avenida Santo Amaro",
    "Rua Voluntários da Pátria",
    "Avenida Celso Garcia",
    "Rua Tuiuti",
    "Avenida Inajar de Souza",
    "Rua Cardeal Arcoverde",
    "Avenida Nossa Senhora do Sabará",
    "Estrada do M'Boi Mirim",
    "Avenida Aricanduva",
    "Rua Serra de Bragança",
    "Avenida Cupecê",
    "Rua Clélia",
    "Avenida Francisco Morato",
    "Rua Heitor Penteado",
    "Rua Itapura",
    "Avenida Paes de Barros",
    "Rua Pamplona",
    "Rua Haddock Lobo",
    "Avenida Ibirapuera",
    "Rua Tabapuã",
    "Avenida Interlagos",
    "Avenida Conselheiro Carrão",
    "Rua São Bento",
    "Avenida João Dias",
    "Rua Maria Antônia",
    "Avenida Presidente Kennedy",
    "Rua XV de Novembro",
    "Avenida Brasil",
    "Rua Sete de Setembro",
    "Avenida Dom Pedro II",
)

FEMALE_NAMES: tuple[str, ...] = (
    "Maria",
    "Ana",
    "Márcia",
    "Luíza",
    "Ângela",
    "Conceição",
    "Júlia",
    "Inês",
    "Patrícia",
    "Letícia",
    "Beatriz",
    "Fernanda",
    "Camila",
    "Simone",
    "Lúcia",
    "Cláudia",
    "Débora",
    "Mônica",
    "Tânia",
    "Gabriela",
    "Vitória",
    "Aparecida",
)
MALE_NAMES: tuple[str, ...] = (
    "João",
    "José",
    "Antônio",
    "Sebastião",
    "Fábio",
    "Cláudio",
    "Vinícius",
    "Gabriel",
    "Marcos",
    "Luís",
    "André",
    "Raimundo",
    "Márcio",
    "Rogério",
    "Sérgio",
    "Thiago",
    "Lucas",
    "Caio",
    "Otávio",
    "Flávio",
    "Joaquim",
    "Benedito",
)
SURNAMES: tuple[str, ...] = (
    "da Silva",
    "dos Santos",
    "Oliveira",
    "Souza",
    "Conceição",
    "Araújo",
    "Gonçalves",
    "Simões",
    "Magalhães",
    "Brandão",
    "Assunção",
    "Lima",
    "Pereira",
    "Carvalho",
    "Ribeiro",
    "Gomes",
    "Martins",
    "Rocha",
    "Nogueira",
    "Damasceno",
    "Falcão",
    "Guimarães",
    "Antunes",
    "Figueiredo",
    "Estêvão",
    "Sampaio",
    "Barbosa",
    "Cardoso",
    "Teixeira",
    "Ferreira",
    "Alves",
    "Nascimento",
    "Moraes",
    "Brito",
    "Leão",
)

VEHICLE_MODELS: tuple[tuple[str, str], ...] = (
    ("Volkswagen", "Gol"),
    ("Volkswagen", "Polo"),
    ("Volkswagen", "T-Cross"),
    ("Fiat", "Uno"),
    ("Fiat", "Argo"),
    ("Fiat", "Strada"),
    ("Fiat", "Mobi"),
    ("Chevrolet", "Onix"),
    ("Chevrolet", "Prisma"),
    ("Chevrolet", "Tracker"),
    ("Hyundai", "HB20"),
    ("Hyundai", "Creta"),
    ("Renault", "Kwid"),
    ("Renault", "Sandero"),
    ("Toyota", "Corolla"),
    ("Toyota", "Yaris"),
    ("Honda", "Civic"),
    ("Honda", "Fit"),
    ("Jeep", "Renegade"),
    ("Jeep", "Compass"),
    ("Ford", "Ka"),
    ("Nissan", "Kicks"),
)
COLOURS: tuple[str, ...] = ("Prata", "Branco", "Preto", "Cinza", "Vermelho", "Azul", "Bege")


def in_box(lat: float, lng: float) -> bool:
    """True inside the demo's São Paulo metro bounding box."""
    return LAT_MIN <= lat <= LAT_MAX and LNG_MIN <= lng <= LNG_MAX


def nearest_place(lat: float, lng: float) -> Neighbourhood:
    """The listed place closest to a point (equirectangular distance is enough here)."""
    scale = math.cos(math.radians(lat))
    return min(PLACES, key=lambda p: (p.lat - lat) ** 2 + ((p.lng - lng) * scale) ** 2)
