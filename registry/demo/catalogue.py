"""The demo assistance's fixed data: catalogues, clients, plans and users."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from registry import permissions as roles
from registry.enums import LimitPeriod, ServiceTarget, UserKind

V, H = ServiceTarget.VEHICLE, ServiceTarget.HOME

# (code, name, needs_destination, target)
SERVICE_TYPES: tuple[tuple[str, str, bool, ServiceTarget], ...] = (
    ("reboque_leve", "Reboque leve", True, V),
    ("reboque_pesado", "Reboque pesado", True, V),
    ("taxi", "Táxi", True, V),
    ("chaveiro_auto", "Chaveiro automotivo", False, V),
    ("troca_pneu", "Troca de pneu", False, V),
    ("pane_seca", "Pane seca", False, V),
    ("carga_bateria", "Carga de bateria", False, V),
    ("chaveiro_residencial", "Chaveiro residencial", False, H),
    ("encanador", "Encanador", False, H),
    ("eletricista", "Eletricista", False, H),
    ("vidraceiro", "Vidraceiro", False, H),
)

INCIDENT_TYPES: tuple[str, ...] = (
    "Pane mecânica",
    "Pane elétrica",
    "Pane seca",
    "Colisão",
    "Pneu furado",
    "Chave trancada no veículo",
    "Perda de chave",
    "Bateria descarregada",
    "Alagamento",
    "Vazamento hidráulico",
    "Falta de energia na residência",
    "Vidro quebrado",
    "Arrombamento",
    "Roubo ou furto",
)

CANCELLATION_REASONS: tuple[str, ...] = (
    "Beneficiário resolveu o problema por conta própria",
    "Beneficiário desistiu do atendimento",
    "Prestador demorou além do previsto",
    "Serviço fora da cobertura do plano",
    "Atendimento duplicado",
    "Dados incorretos no cadastro",
    "Veículo removido por terceiros",
)

REFUSAL_REASONS: tuple[str, ...] = (
    "Distância muito grande",
    "Sem equipamento adequado",
    "Equipe indisponível no momento",
    "Valor abaixo da tabela",
    "Fora do horário de atendimento",
    "Região de risco",
    "Veículo acima da capacidade do reboque",
)


@dataclass(frozen=True, slots=True)
class Limit:
    """A plan service: value per use, uses per period, km per use, ceiling."""

    covered: str
    uses: int | None
    km: int | None = None
    ceiling: str | None = None
    period: LimitPeriod = LimitPeriod.YEAR

    def row(self) -> dict[str, object]:
        """The plan_services columns this limit sets."""
        return {
            "covered_value": Decimal(self.covered),
            "uses_per_period": self.uses,
            "period": self.period,
            "km_per_use": self.km,
            "max_value": Decimal(self.ceiling) if self.ceiling else None,
        }


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    kind: str
    street: str
    number: str
    neighbourhood: str
    cep: str
    lat: float
    lng: float
    city: str = "São Paulo"


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """A demo client with its contract, its two plans and its partner sites."""

    key: str
    cnpj_base: str
    trade_name: str
    legal_name: str
    state_registration: str
    contract_date: date
    street: str
    number: str
    neighbourhood: str
    cep: str
    vip: bool
    sla_dispatch_minutes: int
    sla_arrival_minutes: int
    operator_script: str
    vehicle_plan: dict[str, Limit]
    home_plan: dict[str, Limit]
    sites: tuple[Site, ...]
    phone: str
    email: str
    beneficiary_pays_excess_km: bool = False
    plan_names: tuple[str, str] = field(default=("Auto Essencial", "Residencial Essencial"))


_SCRIPT = (
    "Atendimento {nome}, Assistência 24 horas, bom dia/boa tarde/boa noite. Com quem eu "
    "falo?\n1. Confirme CPF e placa (ou endereço, se residencial).\n2. Pergunte se há "
    "feridos: havendo, oriente ligar 192 (SAMU) ou 193 (Bombeiros) antes de tudo.\n"
    "3. Confirme o endereço exato e um ponto de referência.\n4. Informe a previsão de "
    "chegada e o nome do prestador.{extra}"
)

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        key="PSEG",
        cnpj_base="612874300001",
        trade_name="Paulista Seguros",
        legal_name="Paulista Companhia de Seguros Gerais S.A.",
        state_registration="110.042.490.114",
        contract_date=date(2023, 3, 1),
        street="Avenida Paulista",
        number="1578",
        neighbourhood="Bela Vista",
        cep="01310200",
        vip=True,
        sla_dispatch_minutes=10,
        sla_arrival_minutes=45,
        operator_script=_SCRIPT.format(
            nome="Paulista Seguros",
            extra="\n5. Cliente VIP: ofereça táxi se o reboque passar de 60 minutos.",
        ),
        vehicle_plan={
            "reboque_leve": Limit("450.00", 3, km=200, ceiling="1350.00"),
            "taxi": Limit("150.00", 2, km=50),
            "chaveiro_auto": Limit("180.00", 2),
            "troca_pneu": Limit("120.00", 3),
            "pane_seca": Limit("120.00", 2),
            "carga_bateria": Limit("120.00", 3),
        },
        home_plan={
            "chaveiro_residencial": Limit("200.00", 3, ceiling="600.00"),
            "encanador": Limit("250.00", 2, ceiling="500.00"),
            "eletricista": Limit("250.00", 2, ceiling="500.00"),
            "vidraceiro": Limit("300.00", 1),
        },
        sites=(
            Site(
                "Oficina Referenciada Mooca",
                "oficina",
                "Rua da Mooca",
                "2410",
                "Mooca",
                "03104002",
                -23.5580,
                -46.5990,
            ),
            Site(
                "Centro de Sinistros Lapa",
                "base",
                "Rua Guaicurus",
                "1200",
                "Lapa",
                "05033002",
                -23.5240,
                -46.7010,
            ),
        ),
        phone="+551130035000",
        email="assistencia@paulistaseguros.example",
        plan_names=("Auto Completo", "Residencial Completo"),
    ),
    ClientSpec(
        key="AMMB",
        cnpj_base="274519860001",
        trade_name="AMMB Proteção Veicular",
        legal_name="Associação Mútua dos Motoristas do Brasil",
        state_registration="Isento",
        contract_date=date(2024, 1, 15),
        street="Rua Voluntários da Pátria",
        number="3050",
        neighbourhood="Santana",
        cep="02401000",
        vip=False,
        sla_dispatch_minutes=15,
        sla_arrival_minutes=60,
        operator_script=_SCRIPT.format(
            nome="AMMB Proteção Veicular",
            extra="\n5. Associado inadimplente: registre e transfira para a supervisão.",
        ),
        vehicle_plan={
            "reboque_leve": Limit("350.00", 2, km=100),
            "troca_pneu": Limit("100.00", 2),
            "pane_seca": Limit("100.00", 1),
            "carga_bateria": Limit("100.00", 2),
        },
        home_plan={
            "chaveiro_residencial": Limit("150.00", 2),
            "encanador": Limit("200.00", 1),
        },
        sites=(
            Site(
                "Oficina Parceira Santana",
                "oficina",
                "Rua Alfredo Pujol",
                "880",
                "Santana",
                "02017010",
                -23.4990,
                -46.6290,
            ),
        ),
        phone="+551129590100",
        email="central@ammb.example",
        beneficiary_pays_excess_km=True,
    ),
    ClientSpec(
        key="FROTA",
        cnpj_base="093481570001",
        trade_name="Frota Bandeirantes",
        legal_name="Frota Bandeirantes Locação de Veículos Ltda.",
        state_registration="116.225.731.110",
        contract_date=date(2024, 6, 1),
        street="Avenida Marquês de São Vicente",
        number="1011",
        neighbourhood="Barra Funda",
        cep="01139003",
        vip=False,
        sla_dispatch_minutes=20,
        sla_arrival_minutes=75,
        operator_script=_SCRIPT.format(
            nome="Frota Bandeirantes",
            extra="\n5. Veículo da frota: o destino padrão é a base mais próxima.",
        ),
        vehicle_plan={
            "reboque_leve": Limit("400.00", 6, km=150, period=LimitPeriod.MONTH),
            "reboque_pesado": Limit("1200.00", 2, km=150, period=LimitPeriod.MONTH),
            "troca_pneu": Limit("110.00", None),
            "carga_bateria": Limit("110.00", None),
            "chaveiro_auto": Limit("160.00", 4, period=LimitPeriod.MONTH),
        },
        home_plan={"chaveiro_residencial": Limit("150.00", 1)},
        sites=(
            Site(
                "Base Barra Funda",
                "base",
                "Avenida Marquês de São Vicente",
                "1011",
                "Barra Funda",
                "01139003",
                -23.5190,
                -46.6720,
            ),
            Site(
                "Base Guarulhos",
                "base",
                "Avenida Monteiro Lobato",
                "2300",
                "Macedo",
                "07112000",
                -23.4590,
                -46.5150,
                city="Guarulhos",
            ),
            Site(
                "Oficina Parceira Ipiranga",
                "oficina",
                "Rua Silva Bueno",
                "1450",
                "Ipiranga",
                "04208001",
                -23.5900,
                -46.6060,
            ),
        ),
        phone="+551136120200",
        email="frota@bandeirantes.example",
        plan_names=("Frota Pesada", "Motorista Residencial"),
    ),
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    login: str
    name: str
    role: str
    kind: UserKind = UserKind.STAFF


DEMO_PASSWORD = "demo1234"

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Administração (demo)", roles.ADMIN),
    DemoUser("operacao", "Operação (demo)", roles.OPERATIONS),
    DemoUser("rede", "Rede de Prestadores (demo)", roles.PROVIDER_NETWORK),
    DemoUser("fechamento", "Fechamento e Faturamento (demo)", roles.CLOSING),
    DemoUser("supervisao", "Supervisão (demo)", roles.SUPERVISION),
    DemoUser("analitico", "Analítico (demo)", roles.ANALYTICS),
    DemoUser("cliente", "Paulista Seguros (portal, demo)", roles.CLIENT_PORTAL, UserKind.CLIENT),
    DemoUser("prestador", "Prestador (portal, demo)", roles.PROVIDER_PORTAL, UserKind.PROVIDER),
)
"""One user per seeded role; ``cliente`` sees the first client, ``prestador`` is the
first provider. All use :data:`DEMO_PASSWORD`."""
