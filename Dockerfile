# The Telegram bot (and the maintainer tools) in one image, run as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md babel.cfg ./
COPY bot ./bot
COPY storage ./storage
# Catalogs are compiled before the wheel is built, so the .mo files ship inside the package.
RUN pip install --no-cache-dir build Babel \
 && pybabel compile -D messages -d bot/locales \
 && python -m build --wheel --outdir /wheels

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 pendamping
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER pendamping
WORKDIR /home/pendamping
ENV DATABASE_URL=sqlite:////home/pendamping/data/pendamping.db
VOLUME ["/home/pendamping/data"]
EXPOSE 8443
# Migrate, refuse to start on an invalid flow, then run: long polling by default; pass --webhook
# (with WEBHOOK_URL and WEBHOOK_SECRET set) to serve Telegram's webhook on port 8443.
ENTRYPOINT ["sh", "-c", "pendamping db upgrade && pendamping flows check && exec pendamping run \"$@\"", "--"]
