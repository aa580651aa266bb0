# The console runner and the maintainer tools today; the Telegram runner joins the same image.
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
# Migrate, refuse to start on an invalid flow, then run.
CMD ["sh", "-c", "pendamping db upgrade && pendamping flows check && pendamping console"]
