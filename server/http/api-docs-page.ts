import type { JsonSchema, OpenApiDocument, Operation } from "./openapi.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Text made safe inside HTML elements and attribute values. */
const escape = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);

/** `code spans` of the document's descriptions as <code>, the rest escaped. */
const prose = (text: string) => escape(text).replace(/`([^`]+)`/g, (_match, code: string) => `<code>${code}</code>`);

const schemaBlock = (schema: JsonSchema | undefined) =>
  schema === undefined ? "" : `<pre>${escape(JSON.stringify(schema, null, 2))}</pre>`;

const anchor = (method: string, path: string) => `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, "-");

const AUTH_NAMES: Record<string, string> = {
  userToken: "Bearer JWT (a user's token)",
  pushApiKey: "Bearer PUSH_API_KEY",
  adminApiKey: "Bearer ADMIN_API_KEY",
};

function operationSection(method: string, path: string, op: Operation): string {
  const auth = op.security.flatMap((requirement) => Object.keys(requirement).map((name) => AUTH_NAMES[name] ?? name));
  const parts = [
    `<section id="${anchor(method, path)}">`,
    `<h2><span class="method">${method.toUpperCase()}</span> <code>${escape(path)}</code></h2>`,
    `<p>${prose(op.summary)}</p>`,
    op.description === undefined ? "" : `<p>${prose(op.description)}</p>`,
    `<p><strong>Authentication:</strong> ${auth.length === 0 ? "none" : escape(auth.join(" or "))}</p>`,
  ];
  if (op.parameters?.length) {
    parts.push("<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>");
    for (const parameter of op.parameters) {
      parts.push(
        `<tr><td><code>${escape(parameter.name)}</code></td><td>${parameter.in}</td>` +
          `<td>${parameter.required ? "yes" : "no"}</td><td>${parameter.description ? `${prose(parameter.description)}` : ""}` +
          `${schemaBlock(parameter.schema)}</td></tr>`,
      );
    }
    parts.push("</table>");
  }
  if (op.requestBody) {
    parts.push(`<h3>Request body${op.requestBody.required ? "" : " (optional)"}</h3>`);
    for (const [type, { schema }] of Object.entries(op.requestBody.content)) {
      parts.push(`<p><code>${escape(type)}</code></p>${schemaBlock(schema)}`);
    }
  }
  parts.push("<h3>Responses</h3><dl>");
  for (const [status, response] of Object.entries(op.responses)) {
    const content = Object.entries(response.content ?? {});
    parts.push(
      `<dt>${escape(status)} ${prose(response.description)}${content.map(([type]) => ` <code>${escape(type)}</code>`).join("")}</dt>`,
      `<dd>${content.map(([, { schema }]) => schemaBlock(schema)).join("")}</dd>`,
    );
  }
  parts.push("</dl></section>");
  return parts.join("\n");
}

/**
 * The human reference of the HTTP API, rendered from the OpenAPI document itself: every operation with its
 * authentication, parameters, request body and answers. Static HTML and one inline style sheet, no script.
 */
export function apiReferencePage(document: OpenApiDocument): string {
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const byTag = document.tags.map(({ name }) => ({ name, ops: operations.filter(({ op }) => op.tags.includes(name)) }));
  const contents = byTag
    .map(
      ({ name, ops }) =>
        `<li>${escape(name)}<ul>${ops
          .map(
            ({ path, method, op }) =>
              `<li><a href="#${anchor(method, path)}">${method.toUpperCase()} ${escape(path)}</a>: ${prose(op.summary)}</li>`,
          )
          .join("")}</ul></li>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(document.info.title)} ${escape(document.info.version)}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1f2937; }
h2 { border-top: 1px solid #d1d5db; padding-top: 1.5rem; font-size: 1.2rem; }
h3 { font-size: 1rem; margin-bottom: 0.25rem; }
.method { display: inline-block; min-width: 3.5rem; padding: 0 0.4rem; border-radius: 4px; background: #4f46e5; color: #fff; }
pre { background: #f3f4f6; padding: 0.5rem; overflow-x: auto; font-size: 13px; margin: 0.25rem 0; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #d1d5db; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
dt { font-weight: 600; margin-top: 0.5rem; }
dd { margin-left: 1rem; }
</style>
</head>
<body>
<h1>${escape(document.info.title)} <small>${escape(document.info.version)}</small></h1>
<p>${prose(document.info.description)}</p>
<p>The machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI ${escape(document.openapi)}).</p>
<ul>${contents}</ul>
${operations.map(({ path, method, op }) => operationSection(method, path, op)).join("\n")}
</body>
</html>
`;
}
