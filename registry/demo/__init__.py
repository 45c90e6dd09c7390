"""The demo assistance: a deterministic, idempotent data set in São Paulo.

``seed_demo(session, providers=..., beneficiaries=...)`` loads it (``acionar
seed-demo``). Demo users, all with password ``demo1234``:

========== ====================== ==========================================
login      role (Perfil)          scope
========== ====================== ==========================================
admin      Administrador          staff
operacao   Operação               staff
rede       Rede de Prestadores    staff
fechamento Fechamento/Faturamento staff
supervisao Supervisão             staff
analitico  Analítico              staff
cliente    Portal do Cliente      client portal of Paulista Seguros
prestador  Portal do Prestador    provider portal of the first demo provider
========== ====================== ==========================================
"""

from registry.demo.catalogue import DEMO_PASSWORD, DEMO_USERS
from registry.demo.seed import DemoSummary, seed_demo

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "DemoSummary", "seed_demo"]
