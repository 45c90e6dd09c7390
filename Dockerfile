# The Acionar server image, for compose.yaml. `make run` needs no Docker.

# The operators' console, built by Vite from the committed package-lock.json.
FROM node:20-slim AS web
WORKDIR /web
COPY clients/web/package.json clients/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY clients/web/ ./
RUN npx --no-install vite build

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH HOST=0.0.0.0 PORT=8000
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
COPY --from=web /web/dist clients/web/dist
RUN uv sync --frozen --no-dev
EXPOSE 8000
CMD ["sh", "-c", "acionar migrate && acionar seed-demo && exec acionar serve"]
