# The gateway image: one image, three roles (serve, api, worker) chosen by the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY paystate ./paystate
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 paystate
USER paystate

ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT','8000'), timeout=2)" || exit 1
ENTRYPOINT ["python", "-m", "paystate"]
CMD ["serve"]
