"""The OpenAPI document of /api/v1 and a page that renders it with no CDN.

The document is made from the declarations (dispatch.http.contract): the same pydantic models
validate the requests. Served at ``GET /api/v1/openapi.json``; ``GET /api/v1/docs`` renders it
with a small page of our own (inline script and style carrying the request's CSP nonce, no
external assets: government intranets have no CDN).
"""

from __future__ import annotations

import json

from flask import Response, current_app, jsonify

from dispatch.http.api.blueprint import bp
from dispatch.http.contract import document, operation
from dispatch.http.contract.common import NOT_BLANK, Answer
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
    """The OpenAPI document rendered in the browser for an integrator, from this page alone."""
    page = _DOCS_PAGE.replace("__NOT_BLANK__", _NOT_BLANK_JS).replace("__CSP_NONCE__", csp_nonce())
    return Response(page, mimetype="text/html")


# One self-contained page: inline style and script with the request's nonce, no external asset.
# It fetches openapi.json (the 3.1 document) and draws it with DOM calls only: every text of the
# document goes in through textContent (or a text node), never as markup.
_NOT_BLANK_JS = json.dumps(NOT_BLANK).replace("<", "\\u003c")  # a JS string literal, safe in a script

_DOCS_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispatch API</title><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width,initial-scale=1">
<style nonce="__CSP_NONCE__">
:root{--line:#d9dde3;--muted:#5f6b7a;--soft:#f5f7fa}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;color:#1d2733;background:#fff}
header{padding:1em 1.5em;border-bottom:1px solid var(--line);background:var(--soft)}
header h1{margin:0 0 .2em;font-size:1.5em}
#intro{margin:.3em 0;max-width:70em;color:#33404f}
#auth{margin:.3em 0;color:var(--muted)}
.layout{display:flex;align-items:flex-start}
nav{position:sticky;top:0;flex:0 0 15em;max-height:100vh;overflow:auto;padding:1em;border-right:1px solid var(--line)}
nav a{display:block;color:#1d4f91;text-decoration:none;padding:.1em 0}
nav a:hover{text-decoration:underline} nav .n{color:var(--muted);font-size:.85em}
nav input{width:100%;padding:.35em .5em;margin-bottom:.6em;border:1px solid var(--line);border-radius:4px}
nav button{font:inherit;font-size:.85em;margin:0 .3em .6em 0;padding:.15em .5em;border:1px solid var(--line);border-radius:4px;background:#fff;cursor:pointer}
main{flex:1;min-width:0;padding:0 1.5em 3em}
h2{font-size:1.2em;margin:1.4em 0 .4em;padding-bottom:.2em;border-bottom:2px solid var(--line)}
h4{margin:1em 0 .3em;font-size:.95em}
details.op{border:1px solid var(--line);border-radius:6px;margin:.35em 0;background:#fff}
details.op>summary{cursor:pointer;padding:.4em .6em;display:flex;gap:.7em;align-items:baseline;flex-wrap:wrap}
details.op[open]>summary{border-bottom:1px solid var(--line);background:var(--soft)}
.opbody{padding:.2em 1em 1em}
.m{display:inline-block;min-width:4.2em;text-align:center;font-weight:700;text-transform:uppercase;font-size:.8em;
   padding:.1em .4em;border-radius:3px;color:#fff}
.m.get{background:#1565c0}.m.post{background:#2e7d32}.m.put{background:#ef6c00}.m.patch{background:#6a1b9a}.m.delete{background:#c62828}
.path{font:600 13px ui-monospace,SFMono-Regular,Menlo,monospace}
.sum{color:#33404f}.tag{font-size:.75em;color:var(--muted);border:1px solid var(--line);border-radius:8px;padding:0 .45em}
.desc{white-space:pre-wrap;margin:.5em 0}
.muted{color:var(--muted)}
code,pre,.mono{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
code{background:var(--soft);padding:0 .25em;border-radius:3px}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:4px;padding:.6em;overflow:auto;max-height:32em;margin:.3em 0}
table{border-collapse:collapse;width:100%;margin:.2em 0}
th,td{border:1px solid var(--line);padding:.25em .5em;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;font-size:.9em}
td.name{white-space:nowrap;font:12px ui-monospace,monospace}
.req{color:#c62828;font-weight:700}
.status{font-weight:700}.s2{color:#2e7d32}.s4{color:#b26a00}.s5{color:#c62828}
ul.c{margin:0;padding-left:1.1em} ul.c li{margin:0}
details.nest{margin:.2em 0 .2em .5em}
details.nest>summary{cursor:pointer;color:#1d4f91;font-size:.9em}
details.schema{border:1px solid var(--line);border-radius:6px;margin:.3em 0;padding:.3em .6em}
details.schema>summary{cursor:pointer;font:600 13px ui-monospace,monospace}
.example h4{display:flex;justify-content:space-between}
#error{color:#c62828;font-weight:600}
</style></head><body>
<header><h1 id="title">dispatch API</h1><p id="intro"></p><p id="auth"></p></header>
<div class="layout"><nav id="nav"></nav>
<main><p id="error" hidden></p><div id="ops">loading openapi.json...</div><div id="schemas"></div></main></div>
<script nonce="__CSP_NONCE__">
"use strict";
const NOT_BLANK = __NOT_BLANK__;  // the pattern of text (dispatch.http.contract.common.Text)
(() => {
  const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];
  let doc = null, schemas = {};

  // Elements from data: strings become text nodes, never markup.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, String(value));
    }
    return add(node, children);
  }
  function add(node, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  // Prose of the document: ``code`` spans as code, all as text.
  function prose(tag, cls, text) {
    const node = el(tag, {class: cls});
    String(text || "").split("``").forEach((part, i) => add(node, i % 2 ? el("code", {text: part}) : part));
    return node;
  }
  // spectree's stand-in when a view has no docstring ("show_incident <GET>") is no summary.
  const summaryOf = op => /^\w+ <[A-Z]+>$/.test(op.summary || "") ? "" : op.summary || "";
  const anchor = (kind, name) => kind + "-" + String(name).replace(/[^A-Za-z0-9_.-]/g, "_");
  const pretty = value => JSON.stringify(value, null, 2);
  const refName = ref => decodeURIComponent(String(ref).split("/").pop());

  // -- schemas -------------------------------------------------------------------------------
  function deref(schema) {
    let name = null, seen = 0;
    while (schema && schema.$ref && seen++ < 20) { name = refName(schema.$ref); schema = schemas[name] || {}; }
    return {name, schema: schema || {}};
  }
  // The alternatives of a schema with "null" set apart: T | null reads as "T, nullable".
  function alternatives(schema) {
    const list = schema.anyOf || schema.oneOf;
    if (!list) return null;
    const nonNull = list.filter(s => s.type !== "null");
    return {list: nonNull, nullable: nonNull.length < list.length};
  }
  function schemaLink(name) {
    return el("a", {href: "#" + anchor("schema", name), class: "mono"}, name);
  }
  function typeOf(schema, depth = 0) {
    if (!schema || depth > 6) return ["any"];
    if (schema.$ref) return [schemaLink(refName(schema.$ref))];
    const alt = alternatives(schema);
    if (alt) {
      const parts = [];
      alt.list.forEach((s, i) => { if (i) parts.push(" | "); parts.push(...typeOf(s, depth + 1)); });
      if (alt.nullable) parts.push(" | null");
      return parts.length ? parts : ["null"];
    }
    if (schema.allOf && schema.allOf.length === 1) return typeOf(schema.allOf[0], depth + 1);
    if ("const" in schema) return ["= " + JSON.stringify(schema.const)];
    const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
    if (type === "array") return ["array of ", ...typeOf(schema.items || (schema.prefixItems || [])[0], depth + 1)];
    if (type) return [type + (schema.format ? " (" + schema.format + ")" : "")];
    if (schema.enum) return ["enum"];
    if (schema.properties) return ["object"];
    return ["any"];
  }
  function constraints(schema) {
    const out = [];
    const s = schema.$ref ? {} : schema;
    const alt = alternatives(s);
    if (alt && alt.list.length === 1 && !alt.list[0].$ref) out.push(...constraints(alt.list[0]));
    if (s.enum) out.push("one of: " + s.enum.map(v => JSON.stringify(v)).join(", "));
    const bound = (lo, hi, what) => {
      if (lo !== undefined && hi !== undefined) out.push(what + " " + lo + " to " + hi);
      else if (lo !== undefined) out.push(what + " at least " + lo);
      else if (hi !== undefined) out.push(what + " at most " + hi);
    };
    bound(s.minimum, s.maximum, "from");
    if (s.exclusiveMinimum !== undefined) out.push("more than " + s.exclusiveMinimum);
    if (s.exclusiveMaximum !== undefined) out.push("less than " + s.exclusiveMaximum);
    bound(s.minLength, s.maxLength, "length");
    bound(s.minItems, s.maxItems, "items");
    if (s.uniqueItems) out.push("distinct items");
    if (s.pattern === NOT_BLANK) out.push("not blank (a visible character), no NUL");
    else if (s.pattern) out.push("pattern " + s.pattern);
    if (s.type === "array" && s.items && !s.items.$ref) {
      const inner = constraints(s.items);
      if (inner.length) out.push("each: " + inner.join("; "));
    }
    if ("default" in s && s.default !== null) out.push("default " + JSON.stringify(s.default));
    if (s.additionalProperties === false) out.push("no other fields");
    return out;
  }
  // The object schema a field's value is (itself, its items, or its one non-null alternative), for nesting.
  function objectInside(schema) {
    for (let i = 0; i < 6 && schema; i++) {
      const {name, schema: plain} = deref(schema);
      if (plain.properties) return {name, schema: plain};
      const alt = alternatives(plain);
      if (alt && alt.list.length === 1) { schema = alt.list[0]; continue; }
      if (plain.type === "array" && plain.items) { schema = plain.items; continue; }
      return null;
    }
    return null;
  }
  // A body of several shapes (oneOf/anyOf): each shape's fields, and the field that tells them apart.
  function shapes(name, plain, alt, depth, trail) {
    const by = plain.discriminator && plain.discriminator.propertyName;
    const values = {};
    for (const [value, ref] of Object.entries((plain.discriminator || {}).mapping || {})) values[refName(ref)] = value;
    const wrap = el("div", {},
      el("p", {}, name ? ["schema ", schemaLink(name), ": "] : "", "one of " + alt.list.length + " shapes",
        by ? ["; the field ", el("code", {text: by}), " says which"] : "", alt.nullable ? "; or null" : ""),
      plain.description && depth === 0 ? prose("p", "desc", plain.description) : null);
    alt.list.forEach((shape, i) => {
      const inner = deref(shape);
      const label = inner.name || "shape " + (i + 1);
      wrap.append(el("details", {class: "nest"},
        el("summary", {}, label, inner.name && values[inner.name] ? " (" + by + " = " + JSON.stringify(values[inner.name]) + ")" : ""),
        fieldsTable(shape, depth + 1, [...trail, inner.name || inner.schema])));
    });
    return wrap;
  }
  function fieldsTable(schema, depth, trail) {
    const {name, schema: plain} = deref(schema);
    if (!plain.properties) {
      const alt = alternatives(plain);
      if (alt && alt.list.length > 1 && depth < 3) return shapes(name, plain, alt, depth, trail);
      return el("p", {class: "muted"}, typeOf(schema), constraints(plain).length ? ": " + constraints(plain).join("; ") : "");
    }
    const required = new Set(plain.required || []);
    const table = el("table", {}, el("tr", {}, ["field", "type", "required", "constraints", "meaning"].map(h => el("th", {text: h}))));
    for (const [field, sub] of Object.entries(plain.properties)) {
      const subPlain = deref(sub).schema;
      const row = el("tr", {},
        el("td", {class: "name"}, field),
        el("td", {}, typeOf(sub)),
        el("td", {}, required.has(field) ? el("span", {class: "req", text: "required"}) : ""),
        el("td", {}, constraints(sub).length ? el("ul", {class: "c"}, constraints(sub).map(c => el("li", {text: c}))) : ""),
        prose("td", "", sub.description || subPlain.description || ""));
      table.append(row);
      const inner = objectInside(sub);
      if (inner && depth < 3 && !trail.includes(inner.name || inner.schema)) {
        const nested = el("details", {class: "nest"},
          el("summary", {}, "fields of ", field, inner.name ? " (" + inner.name + ")" : ""),
          fieldsTable(inner.schema, depth + 1, [...trail, inner.name || inner.schema]));
        table.append(el("tr", {}, el("td", {colspan: "5"}, nested)));
      }
    }
    const wrap = el("div", {});
    if (name) wrap.append(el("p", {class: "muted"}, "schema ", schemaLink(name), plain.additionalProperties === false ? ": no fields besides these" : ""));
    wrap.append(table);
    return wrap;
  }

  // -- operations ----------------------------------------------------------------------------
  function parametersTable(op) {
    const params = (op.parameters || []).map(p => p.$ref ? (doc.components.parameters || {})[refName(p.$ref)] || {} : p);
    if (!params.length) return null;
    const withExamples = params.some(p => p.example !== undefined);
    const heads = ["name", "in", "required", "type", "constraints", "meaning"].concat(withExamples ? ["example"] : []);
    const table = el("table", {}, el("tr", {}, heads.map(h => el("th", {text: h}))));
    for (const p of params) {
      const schema = p.schema || {};
      const example = p.example;
      table.append(el("tr", {},
        el("td", {class: "name"}, p.name),
        el("td", {}, p.in),
        el("td", {}, p.required ? el("span", {class: "req", text: "required"}) : ""),
        el("td", {}, typeOf(schema)),
        el("td", {}, constraints(schema).length ? el("ul", {class: "c"}, constraints(schema).map(c => el("li", {text: c}))) : ""),
        prose("td", "", p.description || schema.description || ""),
        withExamples ? el("td", {class: "mono"}, example !== undefined ? String(example) : "") : null));
    }
    return [el("h4", {text: "Parameters"}), table];
  }
  function exampleCall(method, path, op) {
    const params = op.parameters || [];
    let url = path, known = true;
    for (const p of params.filter(p => p.in === "path")) {
      if (p.example === undefined) known = false;
      url = url.replace("{" + p.name + "}", p.example !== undefined ? String(p.example) : "{" + p.name + "}");
    }
    const query = params.filter(p => p.in === "query" && p.example !== undefined)
      .map(p => encodeURIComponent(p.name) + "=" + encodeURIComponent(String(p.example)));
    if (!known && !query.length) return null;
    return el("p", {}, el("strong", {text: "Example call: "}), el("code", {}, method.toUpperCase() + " " + url + (query.length ? "?" + query.join("&") : "")));
  }
  function bodySection(op) {
    const body = op.requestBody;
    if (!body) return null;
    const content = body.content || {};
    const out = [el("h4", {}, "Request body ", body.required ? el("span", {class: "req", text: "(required)"}) : "(optional)", " ",
      el("span", {class: "muted", text: Object.keys(content).join(", ")}))];
    const json = content["application/json"];
    if (json && json.schema) out.push(fieldsTable(json.schema, 0, []));
    if (json && json.example !== undefined) {
      out.push(el("div", {class: "example"}, el("h4", {text: "Example request"}), el("pre", {class: "example-request", text: pretty(json.example)})));
    }
    return out;
  }
  function linksList(links) {
    return el("ul", {class: "c"}, Object.entries(links).map(([name, link]) => {
      const target = link.operationId;
      const params = Object.entries(link.parameters || {}).map(([k, v]) => k + " = " + v).join(", ");
      return el("li", {}, el("a", {href: "#" + anchor("op", target)}, target), params ? " (" + params + ")" : "",
        link.description ? ": " + link.description : "", name !== target ? el("span", {class: "muted"}, " [" + name + "]") : "");
    }));
  }
  function answersSection(op) {
    const table = el("table", {}, el("tr", {}, ["status", "meaning", "schema", "media types", "links"].map(h => el("th", {text: h}))));
    const examples = [];
    for (const [status, raw] of Object.entries(op.responses || {})) {
      const answer = raw.$ref ? (doc.components.responses || {})[refName(raw.$ref)] || {} : raw;
      const content = answer.content || {};
      const json = content["application/json"];
      table.append(el("tr", {class: "answer", "data-status": status},
        el("td", {class: "status s" + status[0]}, status),
        prose("td", "", answer.description || ""),
        el("td", {}, json && json.schema ? typeOf(json.schema) : ""),
        el("td", {class: "mono"}, Object.keys(content).join(", ")),
        el("td", {}, answer.links ? linksList(answer.links) : "")));
      if (json && json.example !== undefined) {
        examples.push(el("div", {class: "example"}, el("h4", {text: "Example answer: " + status}),
          el("pre", {class: "example-answer", "data-status": status, text: pretty(json.example)})));
      }
    }
    return [el("h4", {text: "Answers"}), table, examples];
  }
  function operation(method, path, op) {
    const id = anchor("op", op.operationId || method + path);
    const summary = el("summary", {},
      el("span", {class: "m " + method, text: method}),
      el("span", {class: "path", text: path}),
      prose("span", "sum", summaryOf(op)),
      op.security && op.security.length === 0 ? el("span", {class: "tag", text: "no credential"}) : null);
    const body = el("div", {class: "opbody"});
    const details = el("details", {class: "op", id: id, "data-method": method.toUpperCase(), "data-path": path,
      "data-search": [method, path, op.summary, op.operationId, (op.tags || []).join(" ")].join(" ").toLowerCase()}, summary, body);
    // Drawn when first opened: the document has many operations.
    let drawn = false;
    const draw = () => {
      if (drawn) return;
      drawn = true;
      add(body,
        op.description && op.description !== op.summary ? prose("p", "desc", op.description) : null,
        el("p", {class: "muted"}, "operationId ", el("code", {text: op.operationId || ""}),
          op.security && op.security.length === 0 ? "; needs no credential" : "; needs a bearer token or a signed-in session"),
        exampleCall(method, path, op), parametersTable(op), bodySection(op), answersSection(op));
    };
    details.addEventListener("toggle", () => { if (details.open) draw(); });
    details.draw = draw;
    return details;
  }

  function render() {
    document.title = doc.info.title + " " + doc.info.version;
    document.getElementById("title").textContent = doc.info.title + " " + doc.info.version + " (OpenAPI " + doc.openapi + ")";
    document.getElementById("intro").textContent = doc.info.description || "";
    const security = Object.entries((doc.components || {}).securitySchemes || {})
      .map(([name, s]) => name + ": " + (s.description || s.scheme || s.type));
    document.getElementById("auth").textContent = security.length ? "Authentication: " + security.join("; ") + "." : "";
    schemas = (doc.components || {}).schemas || {};
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || "other";
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([path, method, op]);
      }
    }
    const ops = document.getElementById("ops");
    ops.replaceChildren();
    const nav = document.getElementById("nav");
    const filter = el("input", {type: "search", placeholder: "filter: path, summary, operationId", "aria-label": "filter operations"});
    const openAll = el("button", {type: "button", text: "open all"});
    const closeAll = el("button", {type: "button", text: "close all"});
    nav.replaceChildren(filter, openAll, closeAll);
    let count = 0;
    for (const [tag, list] of [...byTag.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const section = el("section", {class: "tag-section", id: anchor("tag", tag)}, el("h2", {text: tag}));
      for (const [path, method, op] of list) { section.append(operation(method, path, op)); count++; }
      ops.append(section);
      nav.append(el("a", {href: "#" + anchor("tag", tag)}, tag, " ", el("span", {class: "n", text: "(" + list.length + ")"})));
    }
    nav.append(el("a", {href: "#schemas"}, "schemas ", el("span", {class: "n", text: "(" + Object.keys(schemas).length + ")"})));
    const box = document.getElementById("schemas");
    box.replaceChildren(el("h2", {id: "schemas-title", text: "Schemas"}));
    box.id = "schemas";
    for (const name of Object.keys(schemas).sort()) {
      const details = el("details", {class: "schema", id: anchor("schema", name)}, el("summary", {text: name}));
      let drawn = false;
      const draw = () => {
        if (drawn) return;
        drawn = true;
        const schema = schemas[name];
        add(details, schema.description ? prose("p", "desc", schema.description) : null,
          fieldsTable({$ref: "#/components/schemas/" + name}, 0, [name]));
      };
      details.addEventListener("toggle", () => { if (details.open) draw(); });
      details.draw = draw;
      box.append(details);
    }
    const undocumented = doc["x-undocumented"];
    if (undocumented && undocumented.length) {
      const error = document.getElementById("error");
      error.hidden = false;
      error.textContent = "Routes not in the document: " + undocumented.join(", ");
    }
    filter.addEventListener("input", () => {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const details of ops.querySelectorAll("details.op")) {
        details.hidden = !words.every(w => details.dataset.search.includes(w));
      }
      for (const section of ops.querySelectorAll("section.tag-section")) {
        section.hidden = !section.querySelector("details.op:not([hidden])");
      }
    });
    const setAll = open => { for (const d of ops.querySelectorAll("details.op:not([hidden])")) { if (open) d.draw(); d.open = open; } };
    openAll.addEventListener("click", () => setAll(true));
    closeAll.addEventListener("click", () => setAll(false));
    const follow = () => {
      const id = decodeURIComponent(location.hash.slice(1));
      const target = id && document.getElementById(id);
      if (target && target.tagName === "DETAILS") { target.draw && target.draw(); target.open = true; target.scrollIntoView(); }
    };
    window.addEventListener("hashchange", follow);
    follow();
    document.body.dataset.operations = String(count);
    document.body.dataset.ready = "1";
  }

  fetch("openapi.json")  // beside this page, same origin: the session cookie goes with it
    .then(r => {
      if (!r.ok) throw new Error("openapi.json answered " + r.status + (r.status === 401 ? " (sign in first)" : ""));
      return r.json();
    })
    .then(json => { doc = json; render(); })
    .catch(e => {
      document.getElementById("ops").textContent = "";
      const error = document.getElementById("error");
      error.hidden = false;
      error.textContent = "could not load openapi.json: " + e.message;
      document.body.dataset.ready = "error";
    });
})();
</script></body></html>
"""
