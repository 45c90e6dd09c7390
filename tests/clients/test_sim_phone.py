"""The simulated phone's reading of SMS texts and link pages (pure)."""

from __future__ import annotations

from clients.provider_app_sim.phone import link_in, read_page

MAPS = "https://www.google.com/maps/search/?api=1&amp;query="

OFFER_PAGE = f"""<!doctype html><html lang="pt-BR"><body><main><h1>Olá, Guincho 0</h1>
<dl><dt>Serviço</dt><dd>Reboque</dd>
<dt>Origem</dt><dd>Rua Vergueiro, 100 <a href="{MAPS}-23.56,-46.64" rel="noreferrer">mapa</a></dd>
<dt>Destino</dt><dd>Av. Ibirapuera <a href="{MAPS}-23.58,-46.66">mapa</a></dd>
<dt>Distância</dt><dd>3,2 km</dd><dt>Valor</dt><dd>R$ 132,80</dd></dl>
<form method="post" action="/l/o/abc.def/accept"><label>Chego em quantos minutos?
<input name="eta_min" type="number" required></label><button>Aceitar</button></form>
<form method="post" action="/l/o/abc.def/refuse"><label>Motivo da recusa <select name="reason_id">
<option value="7">Sem viatura</option><option value="3">Fora da área</option></select></label>
<button>Recusar</button></form></main></body></html>"""

JOB_PAGE = f"""<main><h1>Olá</h1><dl data-job-status="en_route">
<dt>Situação</dt><dd><strong>A caminho</strong></dd>
<dt>Origem</dt><dd>Rua X <a href="{MAPS}-23.5,-46.6">mapa</a></dd></dl>
<form method="post" action="/l/o/t2/status"><input type="hidden" name="status" value="on_site">
<button>Cheguei ao local</button></form></main>"""


def test_an_open_offer_page_gives_its_forms_reasons_places_and_distance() -> None:
    view = read_page(OFFER_PAGE)
    assert view.accept == "/l/o/abc.def/accept" and view.refuse == "/l/o/abc.def/refuse"
    assert view.reasons == [7, 3]
    assert view.places == {"Origem": (-23.56, -46.64), "Destino": (-23.58, -46.66)}
    assert view.distance_km == 3.2
    assert view.job_status is None and view.statuses == {}


def test_a_job_page_gives_its_status_and_the_status_buttons() -> None:
    view = read_page(JOB_PAGE)
    assert view.job_status == "en_route"
    assert view.statuses == {"on_site": "/l/o/t2/status"}
    assert view.accept is None and view.places == {"Origem": (-23.5, -46.6)}


def test_a_notice_page_offers_nothing() -> None:
    view = read_page('<main><h1>Link já usado</h1><p class="notice">Este link já foi usado.</p>')
    assert view.accept is None and view.statuses == {} and view.job_status is None


def test_the_offer_link_is_found_in_the_sms_text() -> None:
    text = "Acionar: Reboque, a 3,2 km, R$ 132,80. Responda até 10:32: http://h:8000/l/o/eyJ9.a-_b"
    assert link_in(text) == "http://h:8000/l/o/eyJ9.a-_b"
    assert link_in(text + ".") == "http://h:8000/l/o/eyJ9.a-_b"
    assert link_in("Acionar: Ana está a caminho. Acompanhe: http://h/l/t/xyz") is None
