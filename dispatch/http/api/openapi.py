"""The OpenAPI document of /api/v1 and a page that renders it with no CDN.

The document is made from the declarations (dispatch.http.contract): the same pydantic models
validate the requests. Served at ``GET /api/v1/openapi.json``; ``GET /api/v1/docs`` renders it
with a small page of our own (inline script and style carrying the request's CSP nonce, no
external assets: government intranets have no CDN).
"""

from __future__ import annotations

from flask import Response, current_app, jsonify

from dispatch.http.api.blueprint import bp
from dispatch.http.contract import document, operation
from dispatch.http.contract.common import Answer
from dispatch.http.observability import csp_nonce


class OpenApiDocument(Answer):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict
    paths: dict
    components: dict


@bp.get("/openapi.json")
@operation(answers={200: OpenApiDocument}, tags=["meta"])
def openapi_document():
    """The OpenAPI 3 document of /api/v1."""
    return jsonify(document(current_app))


@bp.get("/docs")
def openapi_docs():
    """The OpenAPI document rendered in the browser, from this page alone."""
    return Response(_DOCS_PAGE.replace("__CSP_NONCE__", csp_nonce()), mimetype="text/html")


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispatch API</title><link rel="icon" href="data:,">
<style nonce="__CSP_NONCE__">
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc}
details{border:1px solid #ddd;border-radius:4px;margin:.3em 0;padding:.3em .6em}
summary{cursor:pointer} .m{display:inline-block;width:4.5em;font-weight:bold;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.put{color:#ef6c00}.delete{color:#c62828}
code,pre{font:12px ui-monospace,monospace;background:#f6f6f6} pre{padding:.5em;overflow:auto}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
</style></head><body>
<h1 id="title">dispatch API</h1><p id="intro"></p><div id="ops">loading openapi.json...</div>
<script nonce="__CSP_NONCE__">
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
fetch("openapi.json").then(r => r.json()).then(doc => {
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("intro").textContent = doc.info.description;
  const params = doc.components.parameters, byTag = {};
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item))
      (byTag[(op.tags || ["other"])[0]] ||= []).push([path, method, op]);
  let html = "";
  for (const [tag, ops] of Object.entries(byTag)) {
    html += `<h2>${esc(tag)}</h2>`;
    for (const [path, method, op] of ops) {
      const rows = (op.parameters || []).map(p => p.$ref ? params[p.$ref.split("/").pop()] : p)
        .map(p => `<tr><td>${esc(p.name)}</td><td>${esc(p.in)}</td><td>${p.required ? "yes" : ""}</td>` +
                  `<td>${esc(JSON.stringify(p.schema))}</td><td>${esc(p.description)}</td></tr>`).join("");
      const body = op.requestBody ? `<p>Body:</p><pre>${esc(JSON.stringify(op.requestBody.content["application/json"].schema, null, 1))}</pre>` : "";
      const answers = Object.entries(op.responses).map(([s, r]) => `${esc(s)} ${esc(r.description || r.$ref || "")}`).join("; ");
      html += `<details><summary><span class="m ${esc(method)}">${esc(method)}</span><code>${esc(path)}</code> ${esc(op.summary)}</summary>` +
              `<table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>meaning</th></tr>${rows}</table>` +
              `${body}<p>Answers: ${answers}</p></details>`;
    }
  }
  html += `<h2>schemas</h2><pre>${esc(JSON.stringify(doc.components.schemas, null, 1))}</pre>`;
  document.getElementById("ops").innerHTML = html;
}).catch(e => { document.getElementById("ops").textContent = "could not load openapi.json: " + e; });
</script></body></html>
"""
