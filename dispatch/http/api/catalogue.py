"""Versions of the matter catalogue: list, one, publish (the rules in dispatch.catalogue)."""

from __future__ import annotations

from flask import jsonify, request

from dispatch import catalogue
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.auth import current_principal
from dispatch.http.contract import Link, operation
from dispatch.http.contract.catalogue import CatalogueVersion, CatalogueVersionBody, CatalogueVersionList
from dispatch.http.contract.common import Plain
from dispatch.scope import require_region
from dispatch.store.db import db


@bp.get("/catalogue/versions")
@operation(query=Plain, answers={200: CatalogueVersionList}, tags=["reference"])
def list_catalogue_versions():
    """Every version of the catalogues of the counties in scope, oldest first, and which is in force today."""
    rows = catalogue.list_versions(db.session, scope_regions())
    flags = catalogue.in_force_flags(db.session, rows)
    return jsonify({"versions": [catalogue.version_json(v) | {"in_force": flags[v.id]} for v in rows]})


@bp.get("/catalogue/versions/<int:version_id>")
@operation(query=Plain, answers={200: CatalogueVersion}, errors=(404,), tags=["reference"])
def show_catalogue_version(version_id: int):
    """One version with its matters."""
    version = catalogue.get_version(db.session, version_id)
    require_region(db.session, current_principal(), version.region_id, "the catalogue's county")
    flags = catalogue.in_force_flags(db.session, [version])
    return jsonify(catalogue.version_json(version, entries=True) | {"in_force": flags[version.id]})


@bp.post("/catalogue/versions")
@operation(
    query=Plain,
    body=CatalogueVersionBody,
    answers={201: CatalogueVersion},
    errors=(409, 422),
    tags=["reference"],
    links={201: {"show": Link("show_catalogue_version", version_id="$response.body#/id")}},
)
def publish_catalogue_version():
    """A new version of a county's catalogue, effective from a day: 422 ``retroactive_catalogue`` before
    today, 409 ``catalogue_superseded`` not after the latest; on the record (``catalogue.published``)."""
    body = request.context.json.model_dump(mode="json", exclude_unset=True)
    version = catalogue.publish(db.session, body, actor=actor())
    db.session.commit()
    version = catalogue.get_version(db.session, version.id)
    flags = catalogue.in_force_flags(db.session, [version])
    return jsonify(catalogue.version_json(version, entries=True) | {"in_force": flags[version.id]}), 201
