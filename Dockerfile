# The app image used by docker-compose.yml (PostGIS and Redis run in their own containers).
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dispatch ./dispatch
COPY gis ./gis
RUN pip install --no-cache-dir .
COPY migrations ./migrations
COPY static ./static
ENV PYTHONUNBUFFERED=1
EXPOSE 5000
CMD ["python", "-m", "dispatch.production", "--host", "0.0.0.0", "--port", "5000"]
