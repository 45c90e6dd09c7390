"""The pages behind an offer's signed link (``/l/o/{token}``): mobile-first, pt-BR,
plain HTML forms (they work on any phone browser, with or without JavaScript).

A provider who got the offer by SMS or e-mail opens the link, sees the job (service,
where, how far, the price, until when) and accepts with its ETA or refuses with a
reason; then, on the same page, reports the job's statuses. Each action is a
compare-and-set on the version the link binds (:mod:`operations.linking`): it
answers with a redirect to the next link, and the old one does nothing again. A
link that was used, expired, tampered with or superseded shows a clear page and
changes nothing. The token is the only credential: pages are never cached and never
send it on as a referrer.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from operations import linking, offering
from operations.errors import (
    ExpiredLinkError,
    IllegalTransitionError,
    InvalidInputError,
    LinkError,
    NotFoundError,
    OfferConflictError,
)
from operations.lifecycle import JobStatus
from operations.linking import BRASILIA, LinkPage, LinkSender, OfferLink
from operations.offers import AcceptOutcome, OfferStatus
from operations.views import AddressOut
from registry.models import RefusalReason

MAX_FORM_BYTES = 2_048
"""Largest form a link page accepts (an ETA, a reason, a status)."""
MAX_ETA_MIN = 1_440
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
}
INVALID = "Este link não é válido. Confira a mensagem recebida."
STATUS_BUTTONS = {
    JobStatus.EN_ROUTE: "Estou a caminho",
    JobStatus.ON_SITE: "Cheguei ao local",
    JobStatus.IN_TRANSIT: "Em trânsito ao destino",
    JobStatus.COMPLETED: "Concluí o atendimento",
}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · Acionar</title>
<link rel="stylesheet" href="/static/links.css"></head>
<body><header class="bar">Acionar</header><main>
<h1>{_e(title)}</h1>
{body}
</main></body></html>"""
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def _notice(title: str, text: str, status: int) -> HTMLResponse:
    return _page(title, f'<p class="notice">{_e(text)}</p>', status)


def _sender(request: Request) -> LinkSender:
    sender: LinkSender = request.app.state.live.links
    return sender


def _when(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(BRASILIA).strftime("%d/%m %H:%M")


def _place(label: str, address: AddressOut | None) -> str:
    if address is None:
        return ""
    maps = ""
    if address.lat is not None and address.lng is not None:
        url = f"https://www.google.com/maps/search/?api=1&query={address.lat},{address.lng}"
        maps = f' <a href="{_e(url)}" rel="noreferrer">mapa</a>'
    return f"<dt>{_e(label)}</dt><dd>{_e(address.one_line)}{maps}</dd>"


def _brief(page: LinkPage) -> str:
    offer = page.offer
    rows = [f"<dt>Serviço</dt><dd>{_e(offer.brief.service_name)}</dd>"]
    rows.append(_place("Origem", offer.brief.origin))
    rows.append(_place("Destino", offer.brief.destination))
    if offer.distance_km is not None:
        rows.append(f"<dt>Distância</dt><dd>{offer.distance_km:.1f} km</dd>".replace(".", ","))
    if offer.price is not None:
        rows.append(f"<dt>Valor</dt><dd>R$ {offer.price:.2f}</dd>".replace(".", ","))
    if offer.brief.notes_for_provider:
        rows.append(f"<dt>Observações</dt><dd>{_e(offer.brief.notes_for_provider)}</dd>")
    return f"<dl>{''.join(rows)}</dl>"


async def _reasons(request: Request) -> list[tuple[int, str]]:
    sessions = request.app.state.resources.sessions
    async with sessions() as session:
        stmt = select(RefusalReason.id, RefusalReason.name).where(RefusalReason.active)
        return [
            (row[0], row[1]) for row in await session.execute(stmt.order_by(RefusalReason.name))
        ]


async def _open_offer(request: Request, page: LinkPage, token: str) -> str:
    offer = page.offer
    options = "".join(
        f'<option value="{rid}">{_e(name)}</option>' for rid, name in await _reasons(request)
    )
    return f"""{_brief(page)}
<p class="deadline">Responda até <strong>{_when(offer.expires_at)}</strong>.</p>
<form method="post" action="/l/o/{_e(token)}/accept">
<label>Chego em quantos minutos?
<input name="eta_min" type="number" inputmode="numeric" min="1" max="{MAX_ETA_MIN}"
 required></label>
<button class="yes">Aceitar</button></form>
<form method="post" action="/l/o/{_e(token)}/refuse">
<label>Motivo da recusa <select name="reason_id" required>{options}</select></label>
<button class="no">Recusar</button></form>"""


def _my_job(page: LinkPage, token: str | None) -> str:
    job = page.job
    assert job is not None
    phone = _e(job.requester.phone)
    rows = [
        f"<dt>Situação</dt><dd><strong>{_e(job.status_label)}</strong></dd>",
        f"<dt>Solicitante</dt><dd>{_e(job.requester.name)} · "
        f'<a href="tel:{phone}">{phone}</a></dd>',
        f"<dt>Serviço</dt><dd>{_e(page.offer.brief.service_name)}</dd>",
        _place("Origem", job.origin),
        _place("Destino", job.destination),
    ]
    if job.notes_for_provider:
        rows.append(f"<dt>Observações</dt><dd>{_e(job.notes_for_provider)}</dd>")
    buttons = ""
    if token is not None:
        moves = [s for s in job.next_statuses if s in STATUS_BUTTONS]
        buttons = "".join(
            f'<form method="post" action="/l/o/{_e(token)}/status">'
            f'<input type="hidden" name="status" value="{s.value}">'
            f'<button class="step">{_e(STATUS_BUTTONS[s])}</button></form>'
            for s in moves
        )
    status = _e(job.status.value)
    return f'<dl data-job-status="{status}">{"".join(rows)}</dl>{buttons}'


def _closed(page: LinkPage) -> str:
    offer = page.offer
    text = {
        OfferStatus.ACCEPTED: "O atendimento não está mais com você.",
        OfferStatus.REFUSED: "Você recusou esta oferta. Obrigado por responder.",
        OfferStatus.EXPIRED: "O prazo desta oferta terminou.",
        OfferStatus.FAILED: "Esta oferta não está mais disponível.",
        OfferStatus.WITHDRAWN: (
            offer.withdraw_reason.label if offer.withdraw_reason else "A oferta foi retirada."
        ),
    }.get(offer.status, "")
    return f'<p class="notice">{_e(text)}</p>'


async def _read(request: Request) -> tuple[OfferLink, LinkPage] | Response:
    link = _verified(request)
    if isinstance(link, Response):
        return link
    try:
        async with request.app.state.resources.sessions() as session:
            page = await linking.page(session, _sender(request), link)
    except LinkError:
        return _notice("Link inválido", INVALID, 404)
    except OfferConflictError:
        return _notice(
            "Link já usado", "Este link já foi usado. Abra o link da última página que viu.", 409
        )
    except NotFoundError:
        return _notice("Oferta inexistente", "Esta oferta não existe mais.", 404)
    return link, page


async def show(request: Request) -> Response:
    read = await _read(request)
    if isinstance(read, Response):
        return read
    _, page = read
    title = f"Olá, {page.provider_name}" if page.provider_name else "Oferta"
    if page.offer.status.open and page.next_token:
        return _page(title, await _open_offer(request, page, page.next_token))
    if page.job is not None:
        return _page(title, _my_job(page, page.next_token))
    return _page(title, _brief(page) + _closed(page))


async def _form(request: Request) -> dict[str, Any] | None:
    length = request.headers.get("content-length")
    if length is None or not _digits(length) or int(length) > MAX_FORM_BYTES:
        return None
    async with request.form(max_files=0, max_fields=8) as form:
        return {key: value for key, value in form.items() if isinstance(value, str)}


def _digits(value: str) -> bool:
    """Whether ``value`` is 0-9 only (``'²'.isdigit()`` is True, and ``int`` refuses it)."""
    return value.isascii() and value.isdigit()


def _int(form: dict[str, Any], key: str, high: int) -> int | None:
    value = str(form.get(key, "")).strip()
    if not _digits(value) or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= high else None


async def _after(request: Request, link: OfferLink) -> Response:
    """Go to the page of the offer's current version (the next link)."""
    async with request.app.state.resources.sessions() as session:
        offer = await offering.get_offer(session, link.offer_id)
    token = _sender(request).token(offer)
    return RedirectResponse(f"/l/o/{token}", status_code=303, headers=HEADERS)


def _verified(request: Request) -> OfferLink | Response:
    """The link a token names, from its signature alone (what it opens is checked
    by whoever uses it)."""
    try:
        return linking.read_link(_sender(request).signer, request.path_params["token"])
    except ExpiredLinkError:
        return _notice("Link expirado", "Este link expirou. Fale com a central.", 410)
    except LinkError:
        return _notice("Link inválido", INVALID, 404)


async def _act(request: Request, action: str) -> Response:
    link = _verified(request)
    if isinstance(link, Response):
        return link
    form = await _form(request)
    if form is None:
        return _notice("Pedido inválido", "Envie o formulário da página.", 400)
    ops = request.app.state.live.operations
    try:
        async with ops.unit() as uow:
            if action == "accept":
                eta = _int(form, "eta_min", MAX_ETA_MIN)
                if eta is None:
                    return _notice("Previsão inválida", "Informe em quantos minutos chega.", 422)
                outcome = await linking.accept(uow, link, eta)
            elif action == "refuse":
                reason = _int(form, "reason_id", 2**31 - 1)
                if reason is None:
                    return _notice("Motivo inválido", "Escolha o motivo da recusa.", 422)
                await linking.refuse(uow, link, reason)
                outcome = None
            else:
                status = str(form.get("status", ""))
                if status not in {s.value for s in STATUS_BUTTONS}:
                    return _notice("Situação inválida", "Use os botões da página.", 422)
                await linking.report(uow, link, JobStatus(status))
                outcome = None
    except OfferConflictError as exc:
        return _notice("Não foi possível", exc.message, 409)
    except NotFoundError:
        return _notice("Link inválido", INVALID, 404)
    except IllegalTransitionError as exc:
        return _notice("Não foi possível", exc.message, 409)
    except InvalidInputError as exc:
        return _notice("Não foi possível", exc.message, 422)
    if outcome is not None and outcome not in (AcceptOutcome.ACCEPTED, AcceptOutcome.CONFIRM):
        return _notice("Oferta indisponível", outcome.message, 409)
    if outcome is AcceptOutcome.CONFIRM:
        return _notice("Aguarde a central", outcome.message, 202)
    return await _after(request, link)


async def accept(request: Request) -> Response:
    return await _act(request, "accept")


async def refuse(request: Request) -> Response:
    return await _act(request, "refuse")


async def status(request: Request) -> Response:
    return await _act(request, "status")


ROUTES = [
    Route("/l/o/{token}", show, methods=["GET"]),
    Route("/l/o/{token}/accept", accept, methods=["POST"]),
    Route("/l/o/{token}/refuse", refuse, methods=["POST"]),
    Route("/l/o/{token}/status", status, methods=["POST"]),
]
