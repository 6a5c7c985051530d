# One image for the web app, the worker and the migrate step (see compose.yaml).
FROM python:3.11-slim
WORKDIR /srv/mcx
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY templates ./templates
COPY static ./static
RUN pip install -e . && useradd --system --home /srv/mcx mcx && mkdir -p /data && chown mcx /data
USER mcx
ENV MCX_DATA_DIR=/data MCX_ENV=production
EXPOSE 8000
CMD ["mcx", "serve", "--host", "0.0.0.0", "--port", "8000"]
