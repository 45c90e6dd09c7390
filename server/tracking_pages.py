"""The requester's tracking page (``/l/t/{token}``) and its state
(``/l/t/{token}/state``, polled by the page): the provider's first name, its
vehicle's plate, the status, the live ETA and, while it is on its way, where it is
relative to the place it is going to (:mod:`operations.tracking`).

The approach is drawn as a plain SVG around the origin (no map tiles: nothing to
load from elsewhere, nothing to leak); the page also offers the origin in the
phone's map app. A revoked or ended link answers 410, an unknown one 404.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from geo.distance import haversine_km
from operations.errors import ExpiredLinkError, LinkError, NotFoundError
from operations.tracking import Tracking, TrackingState
from server.http import json_response
from server.link_pages import HEADERS

GONE = "Este acompanhamento terminou."


def _tracking(request: Request) -> Tracking:
    tracking: Tracking = request.app.state.live.tracking
    return tracking


async def _state(request: Request) -> TrackingState | Response:
    token = request.path_params["token"]
    live = request.app.state.live
    try:
        async with request.app.state.resources.sessions() as session:
            return await _tracking(request).read(session, token, live.operations.reach)
    except ExpiredLinkError:
        return _notice("Acompanhamento encerrado", GONE, 410)
    except (LinkError, NotFoundError):
        return _notice("Link inválido", "Este link de acompanhamento não existe.", 404)


def _notice(title: str, text: str, status: int) -> HTMLResponse:
    body = f'<p class="notice">{html.escape(text)}</p>'
    return _document(title, body, status)


def _document(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Acionar</title>
<link rel="stylesheet" href="/static/links.css"></head>
<body><header class="bar">Acionar</header><main>
<h1>{html.escape(title)}</h1>
{body}
</main><script src="/static/tracking.js"></script></body></html>"""
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def state_json(state: TrackingState) -> dict[str, object]:
    """The state as the page polls it: positions relative to the origin (metres
    east and north), never absolute ones but the origin's."""
    offset = None
    if state.provider_at is not None and state.origin is not None:
        o, p = state.origin, state.provider_at
        north = haversine_km(o.lat, o.lng, p.lat, o.lng) * 1000 * (1 if p.lat >= o.lat else -1)
        east = haversine_km(o.lat, o.lng, o.lat, p.lng) * 1000 * (1 if p.lng >= o.lng else -1)
        offset = {"east_m": round(east), "north_m": round(north)}
    return {
        "status": state.status.value,
        "status_label": state.status_label,
        "eta_minutes": state.eta_minutes,
        "provider": state.provider_first_name,
        "vehicle_plate": state.vehicle_plate,
        "offset": offset,
        "arrived": state.arrived,
    }


async def show(request: Request) -> Response:
    state = await _state(request)
    if isinstance(state, Response):
        return state
    plate = f" · placa {html.escape(state.vehicle_plate)}" if state.vehicle_plate else ""
    maps = ""
    if state.origin is not None:
        query = f"{state.origin.lat},{state.origin.lng}"
        url = f"https://www.google.com/maps/search/?api=1&query={query}"
        maps = f'<p><a href="{html.escape(url)}" rel="noreferrer">Ver o local no mapa</a></p>'
    body = f"""<dl><dt>Prestador</dt><dd>{html.escape(state.provider_first_name)}{plate}</dd>
<dt>Situação</dt><dd id="status">{html.escape(state.status_label)}</dd>
<dt>Previsão de chegada</dt><dd id="eta">—</dd></dl>
<svg id="map" viewBox="-100 -100 200 200" role="img" aria-label="Aproximação do prestador">
<circle cx="0" cy="0" r="95" fill="#eef2f6"/>
<circle cx="0" cy="0" r="47" fill="none" stroke="#c9d3de"/>
<circle cx="0" cy="0" r="5" fill="#c62828"/><text x="8" y="4" font-size="9">Você</text>
<g id="provider" display="none"><circle r="6" fill="#0b5cab"/></g>
<text id="scale" x="-95" y="96" font-size="8"></text></svg>
{maps}<p class="hint">Esta página se atualiza sozinha.</p>"""
    return _document("Acompanhe o atendimento", body)


async def state(request: Request) -> Response:
    found = await _state(request)
    if isinstance(found, Response):
        gone = found.status_code == 410
        return json_response({"gone": gone, "message": GONE if gone else ""}, found.status_code)
    response = json_response(state_json(found))
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


ROUTES = [
    Route("/l/t/{token}", show, methods=["GET"]),
    Route("/l/t/{token}/state", state, methods=["GET"]),
]
